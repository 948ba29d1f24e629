"""Stream doubles shared by the tests that replay logs the way `analyze` and `watch` read them."""
from __future__ import annotations

import io
from contextlib import contextmanager

import logdoc.bulk
import logdoc.bulk_vector


class Trickle(io.BytesIO):
    """A stream that hands out at most `size` bytes per read, like a pipe does."""

    def __init__(self, data: bytes, size: int):
        super().__init__(data)
        self.size = size

    def read1(self, n: int = -1) -> bytes:
        return self.read(self.size)


@contextmanager
def vector_everywhere():
    """The NumPy path (logdoc.bulk_vector) on every block, however small or unlearnt, and
    its learning cuts (BulkParser.parse_blocks) as soon as a new shape comes back thrice."""
    names = ("VECTOR_MIN_BYTES", "MAX_SLOW_SHARE", "LEARN_AHEAD")
    modules = (logdoc.bulk, logdoc.bulk_vector, logdoc.bulk_vector)
    saved = [getattr(m, k) for m, k in zip(modules, names)]
    for m, k, v in zip(modules, names, (0, 2.0, 3)):
        setattr(m, k, v)
    try:
        yield
    finally:
        for m, k, v in zip(modules, names, saved):
            setattr(m, k, v)
