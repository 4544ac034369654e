"""What every broker we start ourselves offers: start, wait until ready, stop, clean up."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Protocol, runtime_checkable

from pipeline.errors import BrokerError


@runtime_checkable
class Broker(Protocol):
    kind: str

    @property
    def bootstrap(self) -> str:
        """host:port for clients."""

    @property
    def url(self) -> str:
        """kafka://host:port for faust."""

    def start(self) -> "Broker": ...

    def stop(self) -> None: ...


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def process_alive(pid: int) -> bool:
    """True while `pid` runs; a zombie (exited, not yet reaped by its new parent) counts as gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def port_open(host: str, port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for_port(host: str, port: int, proc: subprocess.Popen, timeout: float, log: Path | None) -> None:
    """Poll until the port accepts a connection; fail early if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
            raise BrokerError(f"broker exited with code {proc.returncode} before it was ready\n{tail}")
        if port_open(host, port):
            return
        time.sleep(0.05)
    raise BrokerError(f"broker not ready on {host}:{port} after {timeout:.0f}s")


def terminate(proc: subprocess.Popen | None, grace: float = 20.0) -> None:
    """SIGTERM the process group, then SIGKILL after `grace` seconds; always reap it."""
    if proc is None or proc.poll() is not None:
        if proc is not None:
            proc.wait()
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


class LocalBroker:
    """What the brokers we run as a child process share: address, pid, context manager."""

    host: str
    port: int
    _proc: subprocess.Popen | None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"kafka://{self.bootstrap}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self):  # pragma: no cover - each broker defines it
        raise NotImplementedError

    def stop(self) -> None:  # pragma: no cover - each broker defines it
        raise NotImplementedError

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
