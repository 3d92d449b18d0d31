"""Non-blocking pipe I/O on the event loop, without asyncio's pipe transports.

asyncio's subprocess pipes pause reading when their buffer is full and ``Process.wait()``
waits for every pipe to close (Python 3.11): a job that keeps writing after its readers stop
could then hang the host past its timeout. Here readers never pause (bytes past the cap are
read and dropped), and nothing waits for a pipe to close: the caller decides when to stop.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os

from autorust.sandbox.supervisor import read_frames

CHUNK = 65_536


class BoundedSink:
    """Reads ``fd`` as data arrives, keeping at most ``cap`` bytes and dropping the rest."""

    def __init__(self, fd: int, cap: int) -> None:
        self.fd = fd
        self.cap = cap
        self.kept = bytearray()
        self.truncated = False
        self.eof = False
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        loop.add_reader(self.fd, self._readable)

    def _take(self, data: bytes) -> None:
        room = self.cap - len(self.kept)
        if room > 0:
            self.kept += data[:room]
        if len(data) > room:
            self.truncated = True

    def _readable(self) -> None:
        for _ in range(4):  # bounded work per wake-up: a flood cannot starve the loop
            try:
                data = os.read(self.fd, CHUNK)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self.stop()
                self.eof = True
                return
            self._take(data)

    def drain_now(self) -> None:
        """Read what is already in the pipe (its writers are dead), then stop."""
        while not self.eof:
            try:
                data = os.read(self.fd, CHUNK)
            except (BlockingIOError, OSError):
                break
            if not data:
                self.eof = True
                break
            self._take(data)
        self.stop()

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.remove_reader(self.fd)
            self._loop = None

    def text(self) -> str:
        return self.kept.decode("utf-8", errors="replace")


class FrameSource:
    """Length-prefixed frames from ``fd``; ``None`` marks end of stream. Frames read on one
    event loop stay available to the next (a warm sandbox can outlive the loop it started on).
    """

    def __init__(self, fd: int, max_frame: int) -> None:
        self.fd = fd
        self.max_frame = max_frame
        self._buffer = bytearray()
        self._frames: collections.deque[bytes] = collections.deque()
        self._ended = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiter: asyncio.Future[None] | None = None

    def _watch(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if self._loop is not loop and not self._ended:
            self.stop()
            loop.add_reader(self.fd, self._readable)
            self._loop = loop
        return loop

    def _readable(self) -> None:
        try:
            data = os.read(self.fd, CHUNK * 4)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            self._buffer += data
            frames, rest = read_frames(self._buffer)
            self._buffer = bytearray(rest)
            self._frames.extend(frames)
        if not data or len(self._buffer) > self.max_frame + 4:
            self._ended = True
            self.stop()
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def next(self, timeout: float | None = None) -> bytes | None:
        """The next frame, None at end of stream; TimeoutError after ``timeout`` seconds."""
        loop = self._watch()
        deadline = None if timeout is None else loop.time() + timeout
        while not self._frames:
            if self._ended:
                return None
            self._waiter = loop.create_future()
            left = None if deadline is None else max(0.0, deadline - loop.time())
            try:
                await asyncio.wait_for(self._waiter, left)
            finally:
                self._waiter = None
        return self._frames.popleft()

    def stop(self) -> None:
        loop, self._loop = self._loop, None
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop or not loop.is_running():
            loop.remove_reader(self.fd)
        else:  # called from another thread (atexit, executor): leave it to the loop's thread
            loop.call_soon_threadsafe(loop.remove_reader, self.fd)


async def write_all(fd: int, data: bytes) -> None:
    """Write everything to a non-blocking fd, waiting for room without blocking the loop.
    Raises BrokenPipeError when the reader is gone."""
    loop = asyncio.get_running_loop()
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
            continue
        except BlockingIOError:
            pass
        room: asyncio.Future[None] = loop.create_future()
        loop.add_writer(fd, _set_once, room)
        try:
            await room
        finally:
            loop.remove_writer(fd)


def _set_once(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def close_quietly(*fds: int) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)
