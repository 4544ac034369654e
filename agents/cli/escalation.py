"""`salespulse escalation simulate|route|check|token|service-token`: the policy offline (the agent's code); API tokens."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import click

from agents.escalation.directory import READ_SCOPES
from pipeline.errors import UserInputError

_POLICY = click.option("--policy", "policy_path", type=click.Path(path_type=Path), default=None,
                       help="escalation policy YAML  [default: config/escalation.yaml]")
_DIRECTORY = click.option("--directory", "directory_path", type=click.Path(path_type=Path), default=None,
                          help="people directory YAML  [default: config/directory.yaml]")
ROUTE_FIELDS = ("severity", "category", "channel", "region", "sku")
CONTEXT_FIELDS = ("segment", "churn_risk", "value", "owner_rep_id")


def _load(policy_path: Path | None, directory_path: Path | None):
    from agents.escalation.policy import DEFAULT_DIRECTORY, DEFAULT_POLICY, load_policy

    return load_policy(policy_path or DEFAULT_POLICY, directory_path or DEFAULT_DIRECTORY)


@click.group()
def escalation_group() -> None:
    """Try the escalation policy offline: replay incidents, show a route, validate the files."""


@escalation_group.command()
@_POLICY
@click.option("--events", "events_path", type=click.Path(path_type=Path), required=True,
              help="JSON lines: IncidentEvents, {type: ack|resolve|reopen, incident_key, by, occurred_at}, "
                   "{type: tick, occurred_at}, {type: customer, customer_id, segment, churn_risk, value, occurred_at}")
@_DIRECTORY
def simulate(policy_path, events_path, directory_path) -> None:
    """Print, as JSON lines in time order, every notification the events would cause."""
    from agents.escalation.simulate import alert_line, simulate as run

    policy = _load(policy_path, directory_path)
    try:
        text = events_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserInputError(f"events {events_path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise UserInputError(f"events {events_path}: not UTF-8 text") from None
    replay = run(text.splitlines(), policy, source=str(events_path))
    for alert in replay.alerts:
        click.echo(json.dumps(alert_line(alert), ensure_ascii=False))
    for note in replay.notes:
        click.echo(f"note: {note}", err=True)


def _parse_fields(pairs: tuple[str, ...]):
    from pydantic import ValidationError

    from pipeline.configfile import describe_errors
    from agents.escalation.routing import CustomerContext, IncidentFields

    fields: dict[str, str] = {}
    ctx: dict[str, str] = {}
    for pair in pairs:
        name, eq, value = pair.partition("=")
        if not eq or not value:
            raise UserInputError(f"expected FIELD=VALUE, got {pair!r}")
        if name in ROUTE_FIELDS:
            fields[name] = value
        elif name in CONTEXT_FIELDS:
            ctx[name] = value
        else:
            raise UserInputError(f"unknown field {name!r} (known: {', '.join(ROUTE_FIELDS + CONTEXT_FIELDS)})")
    if "severity" not in fields:
        raise UserInputError("severity=... is required (critical, high, medium, low)")
    try:
        return IncidentFields.model_validate(fields), CustomerContext.model_validate(ctx) if ctx else None
    except ValidationError as exc:
        raise UserInputError(describe_errors(exc)) from None


@escalation_group.command()
@_POLICY
@_DIRECTORY
@click.option("--json", "as_json", is_flag=True, help="print the plan as one JSON object")
@click.argument("fields", nargs=-1)
def route(policy_path, directory_path, as_json, fields) -> None:
    """Show the chain an incident with FIELDS (severity=critical region=north segment=Champions ...) follows."""
    from agents.escalation.routing import plan

    policy = _load(policy_path, directory_path)
    incident, ctx = _parse_fields(fields)
    p = plan(incident, ctx, policy)
    if as_json:
        click.echo(p.model_dump_json())
        return
    boosts = f" + {', '.join(p.boosts)}" if p.boosts else ""
    click.echo(f"route {p.route} ({p.route_name}){boosts}; chain runs {p.repeat + 1} time(s)")
    for step in p.inform:
        click.echo(f"  at once  inform level {step.level + 1} {step.name}: {_who(step)}")
    for loop in range(p.repeat + 1):
        for step in p.steps:
            clock = f", {step.calendar} hours" if step.calendar else ""
            click.echo(f"  loop {loop}  level {step.level + 1} {step.name}: {_who(step)} "
                       f"(ack within {step.timeout_seconds / 60:g} min{clock})")
    if p.playbook is not None:
        click.echo(f"playbook {p.playbook.name}: " + "; ".join(f"{s.owner}: {s.action}" for s in p.playbook.steps))


def _who(step) -> str:
    return ", ".join(t.id for t in step.targets) or "nobody (check the directory)"


@escalation_group.command()
@_POLICY
@_DIRECTORY
def check(policy_path, directory_path) -> None:
    """Validate the policy and directory files, as the worker does at start-up."""
    policy = _load(policy_path, directory_path)
    cfg = policy.config
    click.echo(f"ok: {len(cfg.levels)} levels, {len(cfg.routes)} routes, {len(cfg.boosts)} boosts, "
               f"{len(policy.directory.people)} people, storm grouping {'on' if cfg.storm else 'off'}")


@escalation_group.command()
def token() -> None:
    """Make a new API token: give the token to the person, put the sha256 into directory.yaml."""
    from pipeline.tokens import hash_token

    value = secrets.token_urlsafe(32)
    click.echo(f"token:        {value}")
    click.echo(f"token_sha256: {hash_token(value)}")


@escalation_group.command("service-token")
@click.option("--id", "service_id", required=True, help="the service's id, e.g. grafana (unique in the directory)")
@click.option("--scope", "scopes", multiple=True, required=True,
              type=click.Choice(READ_SCOPES),
              help="what it may read; repeat for several")
@click.option("--region", default=None,
              help="only this region's incidents, customers and KPIs  [default: every region]")
@click.option("--name", default=None, help="display name  [default: the id]")
def service_token(service_id, scopes, region, name) -> None:
    """Make a read-only token for a machine (a BI tool, Grafana): give it the token, add the printed
    entry under `services:` in directory.yaml; the worker checks the entry at start-up."""
    import yaml
    from pydantic import ValidationError

    from pipeline.tokens import hash_token
    from agents.escalation.directory import Service
    from pipeline.configfile import describe_errors

    value = secrets.token_urlsafe(32)
    try:
        entry = Service(id=service_id, name=name or service_id, scopes=tuple(dict.fromkeys(scopes)), region=region,
                        token_sha256=hash_token(value))
    except ValidationError as exc:
        raise UserInputError(describe_errors(exc)) from None
    click.echo(f"token:        {value}")
    click.echo(f"token_sha256: {entry.token_sha256}")
    click.echo("directory.yaml, under services:")
    click.echo(yaml.safe_dump([entry.model_dump(exclude_none=True)], sort_keys=False).rstrip())


escalation_group.name = "escalation"
commands = [escalation_group]
