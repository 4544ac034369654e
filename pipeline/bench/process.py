"""Subprocesses of the harness (floor and pipeline workers): start with a log, stop, read the log's tail."""

from __future__ import annotations

import subprocess
from pathlib import Path

# on the subprocesses' PYTHONPATH, so they import this checkout's code
REPO_ROOT = Path(__file__).resolve().parents[2]


def spawn(cmd: list[str], env: dict, cwd: Path, log: Path) -> subprocess.Popen:
    """Start `cmd` in a session of its own, stdout and stderr appended to `log`."""
    with open(log, "ab") as out:
        return subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def stop_process(proc: subprocess.Popen, grace: float = 15) -> None:
    """Stop a spawned process and its group: SIGTERM, SIGKILL after `grace` seconds."""
    from pipeline.brokers.base import terminate

    terminate(proc, grace=grace)


def log_tail(path: Path, n: int = 2000) -> str:
    """The last `n` characters of a log, for the error raised when its process died."""
    try:
        return path.read_text(errors="replace")[-n:]
    except OSError:
        return ""
