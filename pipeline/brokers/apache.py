"""A real single-node Apache Kafka 4.x (KRaft) broker from Maven Central jars, on loopback.

kafka/pom.xml -> kafka/libs/*.jar (fetched by Maven on first use) -> a JVM running
`kafka.Kafka` with kafka/server.properties filled in, in a temp dir removed on stop.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from pipeline.brokers.base import LocalBroker, free_port, process_alive, terminate, wait_for_port
from pipeline.errors import BrokerError

HOME_ENV = "SALESPULSE_KAFKA_HOME"
DEFAULT_HOME = Path(__file__).resolve().parents[2] / "kafka"   # repo root = parent of pipeline/
STAMP = ".pom-sha256"          # written into libs/ after a complete copy; names the pom it came from
JVM_OPTS = ["-Xms256m", "-Xmx512m", "-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true"]


def kafka_home(home: str | os.PathLike | None = None) -> Path:
    """The folder holding pom.xml, server.properties and log4j2.properties: argument, env, or repo's kafka/."""
    path = Path(home or os.environ.get(HOME_ENV) or DEFAULT_HOME).resolve()
    if not (path / "pom.xml").is_file():
        raise BrokerError(f"no pom.xml in the Kafka home {path} (set {HOME_ENV} or pass home=)")
    return path


def _pom_digest(home: Path) -> str:
    return hashlib.sha256((home / "pom.xml").read_bytes()).hexdigest()


def libs_ready(home: Path) -> bool:
    stamp = home / "libs" / STAMP
    return stamp.is_file() and stamp.read_text().strip() == _pom_digest(home)


def ensure_libs(home: str | os.PathLike | None = None, timeout: float = 600) -> Path:
    """Return kafka/libs, first filling it with `mvn dependency:copy-dependencies` if it is
    missing, empty, or was made from another pom.xml (then it is emptied first, so two Kafka
    versions never share a classpath). A file lock keeps concurrent callers from racing."""
    home = kafka_home(home)
    libs = home / "libs"
    if libs_ready(home):
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise BrokerError("Maven (mvn) is not on PATH: it is needed once to fetch the Kafka jars into "
                          f"{libs} (apt-get install maven)")
    lock_path = Path(tempfile.gettempdir()) / f"salespulse-kafka-libs-{hashlib.sha256(str(home).encode()).hexdigest()[:12]}.lock"
    with open(lock_path, "w") as lock:   # outside the repo: nothing to git-ignore
        fcntl.flock(lock, fcntl.LOCK_EX)
        if libs_ready(home):   # another process filled it while we waited
            return libs
        shutil.rmtree(libs, ignore_errors=True)
        cmd = [mvn, "-B", "-q", "-f", str(home / "pom.xml"), "dependency:copy-dependencies"]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as exc:
            raise BrokerError(f"`{' '.join(cmd)}` did not finish in {timeout:.0f}s") from exc
        if done.returncode != 0 or not any(libs.glob("kafka_2.13-*.jar")):
            tail = (done.stdout + done.stderr)[-3000:]
            raise BrokerError(f"`{' '.join(cmd)}` failed (exit {done.returncode}):\n{tail}")
        (libs / STAMP).write_text(_pom_digest(home) + "\n")
    return libs


def _java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    candidate = Path(java_home) / "bin" / "java" if java_home else None
    if candidate and candidate.is_file():
        return str(candidate)
    found = shutil.which("java")
    if found is None:
        raise BrokerError("java is not on PATH (Kafka 4.x needs Java 17 or newer)")
    return found


def _cluster_id() -> str:
    """What `kafka-storage.sh random-uuid` prints, without starting a JVM for it."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()


class ApacheKafkaBroker(LocalBroker):
    """Apache Kafka (KRaft, broker+controller) on 127.0.0.1; `with ApacheKafkaBroker() as b: b.bootstrap`.

    Data lives in a temp dir that stop() removes. Ready means: the client port accepts
    connections (Kafka opens it only once the broker is unfenced) and a metadata request works.
    """

    kind = "kafka"

    def __init__(self, port: int | None = None, host: str = "127.0.0.1", *,
                 controller_port: int | None = None, home: str | os.PathLike | None = None,
                 ready_timeout: float = 120.0, stop_grace: float = 30.0) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.controller_port = controller_port or free_port(host)
        if self.controller_port == self.port:
            self.controller_port = free_port(host)
        self.home = kafka_home(home)
        self.ready_timeout = ready_timeout
        self.stop_grace = stop_grace
        self._proc: subprocess.Popen | None = None
        self._dir: Path | None = None

    @property
    def workdir(self) -> Path | None:
        return self._dir

    @property
    def log_path(self) -> Path | None:
        return self._dir / "kafka.log" if self._dir else None

    def _write_config(self) -> Path:
        text = (self.home / "server.properties").read_text()
        for key, value in {"__HOST__": self.host, "__CLIENT_PORT__": str(self.port),
                           "__CONTROLLER_PORT__": str(self.controller_port),
                           "__DATA_DIR__": str(self._dir / "data")}.items():
            text = text.replace(key, value)
        config = self._dir / "server.properties"
        config.write_text(text)
        return config

    def _jvm(self, libs: Path, short_lived: bool = False) -> list[str]:
        opts = list(JVM_OPTS)
        if short_lived:   # C1 only: the format tool exits in ~2 s, and C2 would cost it ~1 s more
            opts.append("-XX:TieredStopAtLevel=1")
        log4j = self.home / "log4j2.properties"
        if log4j.is_file():
            opts.append(f"-Dlog4j2.configurationFile={log4j}")
        return [_java(), *opts, "-cp", str(libs / "*")]

    def start(self) -> "ApacheKafkaBroker":
        libs = ensure_libs(self.home)
        self._dir = Path(tempfile.mkdtemp(prefix="salespulse-kafka-"))
        try:
            config = self._write_config()
            fmt = subprocess.run(
                [*self._jvm(libs, short_lived=True), "kafka.tools.StorageTool", "format", f"--cluster-id={_cluster_id()}", "-c", str(config)],
                capture_output=True, text=True, timeout=120, cwd=self._dir, stdin=subprocess.DEVNULL,
            )
            if fmt.returncode != 0:
                raise BrokerError(f"kafka storage format failed (exit {fmt.returncode}):\n"
                                  f"{(fmt.stdout + fmt.stderr)[-3000:]}")
            self._launch(libs, config)
        except BaseException:
            self.stop()
            raise
        return self

    def _launch(self, libs: Path, config: Path) -> None:
        with open(self.log_path, "ab") as out:
            self._proc = subprocess.Popen(
                [*self._jvm(libs), "kafka.Kafka", str(config)],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, cwd=self._dir,
            )
        deadline = time.monotonic() + self.ready_timeout
        wait_for_port(self.host, self.port, self._proc, timeout=self.ready_timeout, log=self.log_path)
        self._wait_metadata(deadline)

    def halt(self, kill: bool = False) -> None:
        """Stop the JVM but keep its data dir (SIGTERM: controlled shutdown; kill=True: SIGKILL, a crash)."""
        if self._proc is None or self._dir is None:
            raise BrokerError("broker is not running")
        if kill:
            import signal

            os.killpg(self._proc.pid, signal.SIGKILL)   # the JVM leads its own session
            self._proc.wait()
        else:
            terminate(self._proc, grace=self.stop_grace)
        self._proc = None

    def resume(self) -> "ApacheKafkaBroker":
        """Start a halted broker again on the same ports and data dir; waits until it is ready."""
        if self._proc is not None or self._dir is None:
            raise BrokerError("resume() needs a broker stopped by halt()")
        try:
            self._launch(ensure_libs(self.home), self._dir / "server.properties")
        except BaseException:
            self.stop()
            raise
        return self

    def restart(self, kill: bool = False, down_s: float = 0.0) -> "ApacheKafkaBroker":
        """halt(), stay down `down_s` seconds, resume(): topics, offsets and groups survive."""
        self.halt(kill=kill)
        time.sleep(down_s)
        return self.resume()

    def _wait_metadata(self, deadline: float) -> None:
        """One successful list_topics from kafka-python, retried until the deadline."""
        from kafka import KafkaAdminClient

        last: Exception | None = None
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise BrokerError(f"kafka exited with code {self._proc.returncode} before it was ready\n"
                                  f"{self.log_tail()}")
            try:
                admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=5000,
                                         client_id="salespulse-readiness")
                try:
                    admin.list_topics()
                    return
                finally:
                    admin.close()
            except Exception as exc:  # not ready yet: any client error means "try again"
                last = exc
                time.sleep(0.25)
        raise BrokerError(f"kafka on {self.bootstrap} answered no metadata request within "
                          f"{self.ready_timeout:.0f}s (last error: {last})\n{self.log_tail()}")

    def log_tail(self, n: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:] if self.log_path else ""
        except OSError:
            return ""

    def stop(self) -> None:
        """SIGTERM the JVM's process group (controlled shutdown), SIGKILL after stop_grace; remove the temp dir."""
        terminate(self._proc, grace=self.stop_grace)
        self._proc = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def detach(self) -> dict:
        """Leave the broker running past this Python process (for `.ci/kafka.sh`); returns
        what `stop_detached` needs. The caller now owns the process and the temp dir."""
        if self._proc is None or self._dir is None:
            raise BrokerError("broker is not running")
        state = {"pid": self._proc.pid, "dir": str(self._dir), "bootstrap": self.bootstrap}
        self._proc = None
        self._dir = None
        return state



# --- detached mode for CI scripts: `python -m pipeline.brokers.apache start|stop --pidfile F` ---

def stop_detached(state: dict, grace: float = 30.0) -> None:
    import signal

    pid = int(state["pid"])
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        if not process_alive(pid):
            break
        try:
            os.killpg(pid, sig)    # the JVM leads its own session, so pgid == pid
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while process_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
    if process_alive(pid):
        raise BrokerError(f"kafka process {pid} survived SIGKILL")
    shutil.rmtree(state["dir"], ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    import argparse
    import json
    import sys

    parser = argparse.ArgumentParser(prog="python -m pipeline.brokers.apache",
                                     description="Start or stop a detached single-node Apache Kafka broker.")
    sub = parser.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("start", help="start, wait until ready, print host:port, exit (broker keeps running)")
    s.add_argument("--pidfile", required=True, type=Path)
    s.add_argument("--port", type=int, default=None)
    s.add_argument("--home", default=None, help=f"folder with pom.xml (default: ${HOME_ENV} or the repo's kafka/)")
    t = sub.add_parser("stop", help="stop the broker named in the pidfile and remove its data")
    t.add_argument("--pidfile", required=True, type=Path)
    sub.add_parser("libs", help="only fetch the jars into kafka/libs")
    args = parser.parse_args(argv)
    try:
        if args.cmd == "libs":
            print(ensure_libs())
        elif args.cmd == "start":
            if args.pidfile.exists():
                raise BrokerError(f"{args.pidfile} exists: stop that broker first")
            started = time.monotonic()
            broker = ApacheKafkaBroker(port=args.port, home=args.home).start()
            state = broker.detach()
            args.pidfile.write_text(json.dumps(state) + "\n")
            print(f"kafka ready at {state['bootstrap']} in {time.monotonic() - started:.1f}s "
                  f"(pid {state['pid']}, log {state['dir']}/kafka.log)", file=sys.stderr)
            print(state["bootstrap"])
        else:
            if not args.pidfile.exists():
                print(f"{args.pidfile} not found: nothing to stop", file=sys.stderr)
                return 0
            stop_detached(json.loads(args.pidfile.read_text()))
            args.pidfile.unlink()
    except BrokerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
