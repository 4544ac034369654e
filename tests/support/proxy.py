"""A TCP forwarder on 127.0.0.1 that a test can cut and restore: client -> proxy -> target.

cut() closes every open connection and, until restore(), either resets new ones at once
(mode "reset": the server looks down) or accepts and never answers (mode "hang": the
network swallows packets). Threads, no event loop: it runs beside a test's subprocesses.
"""

from __future__ import annotations

import select
import socket
import threading


class TcpProxy:
    def __init__(self, target_host: str, target_port: int, host: str = "127.0.0.1", port: int = 0) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, port))
        self._listener.listen(128)
        self.host, self.port = self._listener.getsockname()
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._mode: str | None = None  # None = forwarding, "reset" or "hang"
        self._closed = False
        self.connections = 0  # accepted while forwarding
        self.refused = 0      # accepted while cut
        self._thread = threading.Thread(target=self._accept_loop, name="tcp-proxy", daemon=True)

    # -- control -----------------------------------------------------------------------
    def __enter__(self) -> "TcpProxy":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def is_cut(self) -> bool:
        return self._mode is not None

    def cut(self, mode: str = "reset") -> None:
        """Close every connection; new ones are reset (or held silent with mode="hang")."""
        if mode not in ("reset", "hang"):
            raise ValueError(mode)
        with self._lock:
            self._mode = mode
            victims, self._open = list(self._open), set()
        for s in victims:
            _kill(s)

    def restore(self) -> None:
        with self._lock:
            self._mode = None
            held, self._open = list(self._open), set()
        for s in held:  # connections held silent during a "hang" cut: the client sees them fail now
            _kill(s)

    def close(self) -> None:
        self._closed = True
        self.cut()
        try:
            self._listener.close()
        except OSError:
            pass

    # -- forwarding --------------------------------------------------------------------
    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                mode = self._mode
                if mode == "hang":
                    self._open.add(client)   # never answered; closed on restore()
                    self.refused += 1
                    continue
            if mode == "reset":
                self.refused += 1
                _kill(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _kill(client)
                continue
            with self._lock:
                if self._mode is not None:  # cut while we were connecting
                    _kill(client)
                    _kill(upstream)
                    continue
                self._open.update((client, upstream))
                self.connections += 1
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        peers = {a: b, b: a}
        try:
            while True:
                readable, _, _ = select.select([a, b], [], [], 1.0)
                if a.fileno() < 0 or b.fileno() < 0:
                    return
                for s in readable:
                    data = s.recv(65536)
                    if not data:
                        return
                    peers[s].sendall(data)
        except (OSError, ValueError):
            return
        finally:
            with self._lock:
                self._open.discard(a)
                self._open.discard(b)
            _kill(a)
            _kill(b)


def _kill(s: socket.socket) -> None:
    """Close at once with a RST (SO_LINGER 0): the peer sees the connection fail, not a clean EOF."""
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    except OSError:
        pass
    try:
        s.close()
    except OSError:
        pass
