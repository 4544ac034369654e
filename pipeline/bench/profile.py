"""py-spy on the pipeline worker while it drains (optional) -> its hottest frames and our own functions."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path


OUR_CODE = ("(agents/", "(pipeline/", "(schemas/")  # py-spy shortens paths to the package part; not faust/agents/
ENTRY = ("(agents/cli/", "(pipeline/worker.py")  # on every stack of the worker: not informative
# waiting, not working: --nonblocking sampling cannot tell these from CPU use
IDLE = ("EpollSelector.select (selectors.py", "_connection_worker_thread (aiosqlite/core.py:59)",
        "wait (threading.py", "get (queue.py")


def start_profile(pid: int, out_dir: Path) -> subprocess.Popen:
    import shutil

    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    out_dir.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([spy, "record", "--pid", str(pid), "--rate", "100", "--nonblocking", "--format", "raw",
                             "--output", str(out_dir / "pipeline.collapsed")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)


def stop_profile(spy: subprocess.Popen, out_dir: Path, top: int = 15) -> dict:
    spy.send_signal(signal.SIGINT)  # py-spy writes its file on Ctrl-C
    try:
        spy.wait(timeout=30)
    except subprocess.TimeoutExpired:
        spy.kill()
        spy.wait()
    path = out_dir / "pipeline.collapsed"
    if not path.exists():
        return {"error": "py-spy wrote no profile"}
    return {"file": str(path), **profile_summary(path.read_text().splitlines(), top)}


def profile_summary(lines: Iterable[str], top: int = 15, ours: tuple[str, ...] = OUR_CODE) -> dict:
    """Collapsed stacks ("frame;frame;... count") -> the hottest frames by self samples and
    our own functions (agents/, pipeline/, schemas/) by inclusive samples, as % of the
    samples that were not waiting (IDLE leaves are counted apart)."""
    self_n: dict[str, int] = {}
    incl: dict[str, int] = {}
    total = idle = 0
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        if any(frames[-1].startswith(i) for i in IDLE):
            idle += n
            continue
        total += n
        self_n[frames[-1]] = self_n.get(frames[-1], 0) + n
        for f in set(frames):
            if any(part in f for part in ours) and not any(e in f for e in ENTRY):
                incl[f] = incl.get(f, 0) + n

    def pct(d: dict[str, int]) -> list[list]:
        return [[f, round(100 * c / total, 1)] for f, c in sorted(d.items(), key=lambda kv: -kv[1])[:top]]

    return {"samples": total, "idle_samples_excluded": idle, "top_self_pct": pct(self_n) if total else [],
            "our_code_inclusive_pct": pct(incl) if total else []}
