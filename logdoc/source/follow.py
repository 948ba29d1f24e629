"""Byte sources for `watch` that hand over data as soon as it exists.

Both classes look like a binary stream with `read1`, so `reading.iter_lines` splits and
cleans their bytes exactly as it does a file for `analyze` (one code path). `read1` returns
b"" only at the end of input.

* `PipeInput` reads a file descriptor (stdin, a child's pipe) with `os.read`, which returns
  whatever is available instead of waiting for a full buffer.
* `Follower` is `tail -F`: it follows a file by name, survives truncation (copytruncate,
  `>` redirection) and rotation (rename and recreate), and waits for a file that does not
  exist yet. Its input ends only on `idle_exit` seconds without new data (or Ctrl-C).

Both can copy every byte somewhere (`copy`, for --passthrough and `logdoc run --log`) and call
`tick` about every `interval` seconds, also while no data arrives (live view refresh, the
grace timers of `logdoc run`).
"""
from __future__ import annotations

import os
import select
import stat
import sys
import time
from collections.abc import Callable

from .reading import CHUNK, InputError

_CAN_POLL = os.name == "posix"      # select() on pipes; elsewhere read what one read gives
Copy = Callable[[bytes], None]
Tick = Callable[[], None]


class PipeInput:
    def __init__(self, fd: int, *, copy: Copy | None = None, tick: Tick | None = None,
                 interval: float = 0.25):
        self.fd = fd
        self.copy = copy
        self.tick = tick
        self.interval = interval
        self._last_tick = time.monotonic()
        self._ended = False

    def read1(self, size: int = CHUNK) -> bytes:
        if self._ended:
            return b""
        while self.tick is not None:
            ready, _, _ = select.select([self.fd], [], [], self.interval)
            self._maybe_tick()
            if ready:
                break
        chunk = os.read(self.fd, size)
        if chunk and len(chunk) < size and _CAN_POLL:
            chunk = self._more(chunk, size)
        if chunk and self.copy is not None:
            self.copy(chunk)
        return chunk

    def _more(self, chunk: bytes, size: int) -> bytes:
        """Add what is already waiting in the pipe, without waiting for more: a fast writer (a
        replayed file, a chatty run) then gives big blocks, which parse much faster, while a
        slow one still gets every line as soon as it comes."""
        parts, got = [chunk], len(chunk)
        while got < size and select.select([self.fd], [], [], 0)[0]:
            more = os.read(self.fd, size - got)
            if not more:
                self._ended = True
                break
            parts.append(more)
            got += len(more)
        return b"".join(parts) if len(parts) > 1 else chunk

    def _maybe_tick(self) -> None:
        now = time.monotonic()
        if now - self._last_tick >= self.interval:
            self._last_tick = now
            self.tick()

    def drain(self) -> None:
        """Read (and copy) to end of input: whoever writes to us must never get SIGPIPE."""
        while self.read1(CHUNK):
            pass


class Follower:
    def __init__(self, path: str, *, from_end: bool = False, idle_exit: float | None = None,
                 poll: float = 0.2, copy: Copy | None = None, tick: Tick | None = None,
                 notify: Callable[[str], None] | None = None):
        self.path = path
        self.from_end = from_end
        self.idle_exit = idle_exit
        self.poll = poll
        self.copy = copy
        self.tick = tick
        self.notify = notify or (lambda msg: print(f"logdoc: {msg}", file=sys.stderr, flush=True))
        self.file = None
        self.identity: tuple[int, int] | None = None
        self.pos = 0
        self.ends_line = True          # was the last byte handed out a \n?
        self.stopped = False
        self._pending_break = False
        self._last_data = self._last_tick = time.monotonic()
        self._said_waiting = False
        if not self._open(first=True):
            self.notify(f"{path}: does not exist yet, waiting for it")
            self._said_waiting = True

    def _open(self, *, first: bool = False) -> bool:
        if os.path.isdir(self.path):
            raise InputError(f"{self.path}: is a directory")
        try:
            f = open(self.path, "rb", buffering=0)
        except FileNotFoundError:
            return False
        except PermissionError:
            raise InputError(f"{self.path}: permission denied") from None
        except OSError as exc:
            raise InputError(f"{self.path}: cannot open: {exc.strerror or exc}") from None
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            f.close()
            raise InputError(f"{self.path}: not a regular file (--follow needs a file)")
        self.file, self.identity = f, (st.st_dev, st.st_ino)
        self.pos = f.seek(0, os.SEEK_END) if first and self.from_end else 0
        return True

    def read1(self, size: int = CHUNK) -> bytes:
        while not self.stopped:
            if self.file is not None:
                chunk = self.file.read(size)
                if chunk:
                    return self._hand_out(chunk)
                if self._check_replaced():
                    continue
            elif self._open():
                if self._said_waiting:
                    self.notify(f"{self.path}: appeared, following it")
                    self._said_waiting = False
                continue
            if self.idle_exit is not None and time.monotonic() - self._last_data >= self.idle_exit:
                self.stop()
                break
            self._maybe_tick()
            time.sleep(self.poll)
        return b""

    def stop(self) -> None:
        self.stopped = True
        if self.file is not None:
            self.file.close()
            self.file = None

    def _maybe_tick(self) -> None:
        now = time.monotonic()
        if self.tick is not None and now - self._last_tick >= self.poll:
            self._last_tick = now
            self.tick()

    def _hand_out(self, chunk: bytes) -> bytes:
        self.pos += len(chunk)
        self._last_data = time.monotonic()
        if self.copy is not None:
            self.copy(chunk)
        self._maybe_tick()
        if self._pending_break:
            # the previous file ended without \n: do not glue its last line to the new first one
            self._pending_break = False
            chunk = b"\n" + chunk
        self.ends_line = chunk.endswith(b"\n")
        return chunk

    def _check_replaced(self) -> bool:
        """Called when the open file has no more data: truncated, rotated, or just idle?
        Returns True when the stream switched to new content."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return False                    # rotated away, not recreated yet: keep waiting
        if (st.st_dev, st.st_ino) != self.identity:
            # rotation: the old file is drained (its read returned b""), reopen by name
            self.file.close()
            self.file = None
            self.notify(f"{self.path}: file replaced, following the new file")
            self._open()
        elif st.st_size < self.pos:
            self.notify(f"{self.path}: file truncated, reading from the start")
            self.file.seek(0)
            self.pos = 0
        else:
            return False
        self._pending_break = not self.ends_line
        return True
