"""Stream doubles shared by the tests that replay logs the way `analyze` and `watch` read them."""
from __future__ import annotations

import io
from contextlib import contextmanager

import logdoc.parsing.bulk
import logdoc.parsing.bulk_vector


class Trickle(io.BytesIO):
    """A stream that hands out at most `size` bytes per read, like a pipe does."""

    def __init__(self, data: bytes, size: int):
        super().__init__(data)
        self.size = size

    def read1(self, n: int = -1) -> bytes:
        return self.read(self.size)


@contextmanager
def vector_everywhere(arrow: bool = True):
    """The NumPy path (logdoc.parsing.bulk_vector) on every block, however small or unlearnt, and
    its learning cuts (BulkParser.parse_blocks) as soon as a new shape comes back thrice;
    line shapes coded by pyarrow from the first byte (`arrow`) or never."""
    names = ("VECTOR_MIN_BYTES", "MAX_SLOW_SHARE", "LEARN_AHEAD", "ARROW_AFTER")
    modules = (logdoc.parsing.bulk, logdoc.parsing.bulk_vector, logdoc.parsing.bulk_vector, logdoc.parsing.bulk_vector)
    saved = [getattr(m, k) for m, k in zip(modules, names)]
    for m, k, v in zip(modules, names, (0, 2.0, 3, 0 if arrow else 1 << 62)):
        setattr(m, k, v)
    try:
        yield
    finally:
        for m, k, v in zip(modules, names, saved):
            setattr(m, k, v)


def numpy_blocks(data: bytes, block_bytes: int, patterns) -> tuple:
    """((BlockColumns or None, records), ...) of `data` cut in blocks of about `block_bytes`,
    the vector parser forced on every block: what the rules' differential tests feed a rule as
    NumPy batches and, from the same records, as list batches."""
    from logdoc.parsing.bulk import BulkParser
    from logdoc.parsing.parser import Parser

    with vector_everywhere():
        bulk = BulkParser(Parser(patterns))
        out, no, start = [], 1, 0
        while start < len(data):
            cut = data.find(b"\n", start + block_bytes)
            end = len(data) if cut < 0 else cut
            batch, n = bulk.parse_block(data[start:end], no)
            out.append((batch.columns, tuple(batch.records())))
            no, start = no + n, end + 1
        return tuple(out)
