"""A helper process of the worker, spoken to over its stdin / stdout by the event loop itself.

Each request and each answer is one frame: an 8-byte length and a pickle
(`pipeline/db/sqlite_child.py`, `frame`). The pipes are non-blocking and the loop is woken by
them like by any socket: no thread of the worker carries a request or waits for an answer (a
thread waits for the GIL and then for the busy loop). One
exchange at a time; a process that died is started again by the next exchange.

Used by the SQLite writer process (`pipeline/db/writer.py`) and the feedback classifier's
process (`agents/feedback/pool.py`).
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import pickle
import subprocess
import sys
from collections.abc import Callable

from pipeline.db.sqlite_child import HEADER, frame


class ChildLost(Exception):
    """The process died or closed its pipes (killed, out of memory, a bug): the next exchange starts another."""


class ChildProcess:
    PIPE_BYTES = 1 << 20  # a request of a few thousand rows goes in one write (Linux: F_SETPIPE_SZ)

    def __init__(self, argv: Callable[[], list[str]]) -> None:
        self.argv = argv  # read at each start
        self.proc: subprocess.Popen | None = None

    def process(self) -> subprocess.Popen:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            if proc is not None:
                self.stop()
            proc = self.proc = subprocess.Popen(self.argv(), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            for stream in (proc.stdin, proc.stdout):
                os.set_blocking(stream.fileno(), False)
            try:
                fcntl.fcntl(proc.stdin.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), self.PIPE_BYTES)
            except OSError:  # a smaller limit (/proc/sys/fs/pipe-max-size): requests go in parts
                pass
        return proc

    async def exchange(self, request: object) -> object:
        """Send one request, return the process's answer (ChildLost if it went away)."""
        return await self.exchange_frame(frame(request))

    async def exchange_frame(self, data: bytes) -> object:
        """`exchange` of a request framed already (`frame`: pickled when the caller chose)."""
        try:
            await write_all(self.process().stdin.fileno(), data)
        except OSError as exc:
            self.stop()
            raise ChildLost(str(exc) or "no answer") from None
        return await self.receive()

    async def receive(self) -> object:
        """The process's next frame (an answer, or its 'ready' after start-up)."""
        try:
            return await receive_frame(self.process().stdout.fileno())
        except (OSError, EOFError) as exc:
            self.stop()
            raise ChildLost(str(exc) or "no answer") from None

    def stop(self, timeout: float = 10) -> None:
        """Close its stdin (it finishes the request in hand, then exits) and wait for it."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        for stream in (proc.stdin, proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def _ready(fd: int, readable: bool) -> None:
    loop = asyncio.get_running_loop()
    waiter = loop.create_future()
    wake = lambda: waiter.done() or waiter.set_result(None)  # noqa: E731
    if readable:
        loop.add_reader(fd, wake)
    else:
        loop.add_writer(fd, wake)
    try:
        await waiter
    finally:
        (loop.remove_reader if readable else loop.remove_writer)(fd)


async def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except BlockingIOError:
            await _ready(fd, readable=False)


async def read_exactly(fd: int, size: int) -> bytes:
    parts, missing = [], size
    while missing:
        try:
            chunk = os.read(fd, missing)
        except BlockingIOError:
            await _ready(fd, readable=True)
            continue
        if not chunk:
            raise EOFError("no answer")
        parts.append(chunk)
        missing -= len(chunk)
    return b"".join(parts)


async def receive_frame(fd: int) -> object:
    (size,) = HEADER.unpack(await read_exactly(fd, HEADER.size))
    return pickle.loads(await read_exactly(fd, size))


def serve(handle, ready: object = "ready") -> None:
    """The child's side: announce `ready`, then answer every request on stdin with `handle(request)`
    until stdin closes. Ctrl-C and SIGTERM reach the whole process group: the worker decides when
    its helpers stop (it closes their stdin)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    stdout.write(frame(ready))
    stdout.flush()
    while True:
        header = stdin.read(HEADER.size)
        if len(header) < HEADER.size:
            return
        (size,) = HEADER.unpack(header)
        request = pickle.loads(stdin.read(size))
        stdout.write(frame(handle(request)))
        stdout.flush()
