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
    """The NumPy path (logdoc.bulk_vector) on every block, however small or unlearnt."""
    saved = logdoc.bulk.VECTOR_MIN_BYTES, logdoc.bulk_vector.MAX_SLOW_SHARE
    logdoc.bulk.VECTOR_MIN_BYTES, logdoc.bulk_vector.MAX_SLOW_SHARE = 0, 2.0
    try:
        yield
    finally:
        logdoc.bulk.VECTOR_MIN_BYTES, logdoc.bulk_vector.MAX_SLOW_SHARE = saved
