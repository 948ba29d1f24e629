"""A big file on two cores: one process parses, the other runs the rules.

`analyze` spends its time in two halves of similar cost: parsing blocks (logdoc.parsing.bulk) and
judging the batches (the rules). Rules need the batches in order and parsing carries state
from line to line, so the split that keeps both exact is a pipeline: a forked worker reads
and parses the file block by block, exactly as a single process would, and sends each batch
through a pipe (a NumPy batch pickles as a few arrays); the Session runs the rules on them as
they arrive. The pipe holds a batch or two, so memory stays flat. Tests analyse every kept
log both ways and compare the reports as text.

Used for regular files of at least PIPELINE_MIN_BYTES on machines with fork() and more than
one core; never inside a daemonic process (`logdoc scan` already runs one log per core).
"""
from __future__ import annotations

import os
import signal
import stat
from collections.abc import Iterator

from ..core.batch import Batch
from ..parsing.bulk import BulkParser
from ..parsing.parser import Parser
from ..source.reading import InputError, read_blocks_at

PIPELINE_MIN_BYTES = 64 << 20
# Who reads a NumPy block's numbers (bulk_vector._Values.read): the worker when the main
# process is behind (two batches or more not judged yet), else the main process, so that
# the slower side sheds work whichever it is on this machine and log. Tests pin it.
READ_IN_WORKER: bool | None = None


def worth_it(path: str) -> bool:
    """Whether `path` is a file big enough to parse in a second process, here."""
    if path == "-":
        return False
    try:
        st = os.stat(path)
    except OSError:
        return False            # the single-process path reports the error
    if not stat.S_ISREG(st.st_mode) or st.st_size < PIPELINE_MIN_BYTES or _cores() < 2:
        return False
    import multiprocessing      # (not for small logs: start-up time counts there)

    return ("fork" in multiprocessing.get_all_start_methods()
            and not multiprocessing.current_process().daemon)


def _cores() -> int:
    """Cores this process may run on (a container's CPU set, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:      # not on Linux
        return os.cpu_count() or 1


def parsed_batches(path: str, parser: Parser, cuts: list | None = None) -> Iterator[tuple[Batch, int]]:
    """(batch, number of lines) of the file, parsed in a worker; at the end `parser` holds the
    worker's counts (records, formats), as if it had parsed the file itself, and `cuts` the
    worker's gzip cut, if any (see reading.read_blocks_at)."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    judged = ctx.RawValue("q", 0)         # batches this process is done with (read by the worker)
    worker = ctx.Process(target=_parse, args=(path, parser, send, judged), daemon=True)
    worker.start()
    send.close()
    fd = os.open(path, os.O_RDONLY)
    try:
        while True:
            try:
                message = receive.recv()
            except EOFError:
                raise RuntimeError("the parsing process stopped without a word") from None
            kind = message[0]
            if kind == "batch":
                _, payload, n = message
                yield payload, n
                judged.value += 1
            elif kind == "pending":
                # a NumPy block, its columns to put together here; from a plain file it
                # comes without the block's bytes: they are read from the file
                _, pending, n, offset, cleaned = message
                if offset is not None:
                    pending.src = os.pread(fd, pending.data_len, offset) + cleaned
                yield Batch.from_columns(pending.assemble()), n
                judged.value += 1
            elif kind == "done":
                _, parser.records, formats, cut = message
                if cut is not None and cuts is not None:
                    cuts.append(cut)
                parser.formats.clear()
                parser.formats.update(formats)
                return
            elif kind == "input-error":
                raise InputError(message[1])
            else:
                raise RuntimeError(f"the parsing process failed: {message[1]}")
    finally:
        os.close(fd)
        receive.close()
        if worker.is_alive():
            worker.terminate()
        worker.join()


def _parse(path: str, parser: Parser, send, judged) -> None:
    """The worker: parse the file block by block and send each batch."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)     # Ctrl-C is the main process's to handle
    outbox = _Outbox(send)
    try:
        with open(path, "rb") as fh:
            plain = fh.read(2) != b"\x1f\x8b"      # gzip: offsets are not the file's
        bulk = BulkParser(parser)
        bulk.defer = True             # the main process puts NumPy batches together
        first_no = 1            # counted from what the parser reads (read_blocks_at need not)
        sent = 0
        cuts: list = []
        for _, offset, data in read_blocks_at(path, numbered=False, cuts=cuts):
            for got, n in bulk.parse_blocks(data, first_no):
                first_no += n
                sent += 1
                if isinstance(got, Batch):
                    outbox.put(("batch", got, n))
                    continue
                if READ_IN_WORKER or (READ_IN_WORKER is None and sent - judged.value > 2):
                    got.read_values()
                if plain:
                    # most of a NumPy block is its bytes: the main process reads them from
                    # the file; only the cleaned lines after them travel
                    src, got.src = got.src, b""
                    outbox.put(("pending", got, n, offset + got.at, src[got.data_len:]))
                else:
                    outbox.put(("pending", got, n, None, b""))
        cut = _Cut(cuts[0].name, cuts[0].cut, cuts[0].text_bytes) if cuts else None
        outbox.put(("done", parser.records, dict(parser.formats), cut))
    except BrokenPipeError:
        pass                    # the main process stopped listening (an error, Ctrl-C, killed)
    except InputError as exc:
        outbox.put(("input-error", str(exc)))
    except Exception as exc:    # reported by the main process, which raises it
        outbox.put(("crash", f"{type(exc).__name__}: {exc}"))
    finally:
        outbox.close()
        send.close()


class _Cut:
    """What the main process needs of the worker's cut GzipStream (it does not pickle)."""

    def __init__(self, name: str, cut: int, text_bytes: int):
        self.name, self.cut, self.text_bytes = name, cut, text_bytes


class _Outbox:
    """Sends the worker's messages from a thread, a few batches ahead of the main process:
    a pipe holds less than one batch, and blocks alternate in which side they cost more, so
    without this buffer each process would wait for the other on every such turn."""

    DEPTH = 4

    def __init__(self, send):
        import queue
        import threading

        self._send = send
        self._full = queue.Full
        self._queue = queue.Queue(self.DEPTH)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def put(self, message) -> None:
        while self._thread.is_alive():
            try:
                self._queue.put(message, timeout=0.5)
                return
            except self._full:
                pass
        raise BrokenPipeError("the main process stopped listening")

    def _run(self) -> None:
        while (message := self._queue.get()) is not None:
            try:
                self._send.send(message)
            except OSError:
                return              # the main process stopped listening (an error, Ctrl-C)
            except Exception as exc:    # (a message that cannot be sent: say so, once)
                try:
                    self._send.send(("crash", f"{type(exc).__name__}: {exc}"))
                except Exception:
                    pass
                return

    def close(self) -> None:
        try:
            self.put(None)
        except BrokenPipeError:
            pass
        self._thread.join()
