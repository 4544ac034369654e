"""`salespulse` entry point: collects the command groups of the sibling modules."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import click

from pipeline.errors import SalesPulseError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="salespulse")
def cli() -> None:
    """SalesPulse: feedback, KPIs and escalation for sales teams, as a stream."""


def _discover() -> None:
    """Every module in agents.cli exposing `commands` (a list of click commands) joins the CLI."""
    import agents.cli as pkg

    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        if info.name in {"main"} or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"agents.cli.{info.name}")
        for command in getattr(module, "commands", ()):
            cli.add_command(command)


_discover()


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; a SalesPulseError becomes one line on stderr and exit code 2."""
    try:
        rv = cli.main(args=argv, prog_name="salespulse", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except SalesPulseError as exc:
        click.echo(f"error: {exc}", err=True)
        return 2
    except BrokenPipeError:
        return 0
    except OSError as exc:  # e.g. a file that cannot be written: one line, not a traceback
        click.echo(f"error: {exc}", err=True)
        return 1
    return rv if isinstance(rv, int) else 0


if __name__ == "__main__":
    sys.exit(main())
