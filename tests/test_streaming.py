"""A file is a replayed stream: however the bytes arrive, the findings are the same.

This is what lets `watch` reuse the rules unchanged, and what makes results on a huge log
equal to its first part replayed plus the rest (issue 7): no rule reads the file whole.
"""
import io
import random

import pytest

from conftest import ROOT, SAMPLES
from logdoc import api
from logdoc.source.reading import iter_lines
from logdoc.engine.session import Session

LOGS = [*sorted(SAMPLES.glob("*.log")), *sorted((ROOT / "tests" / "corpus").glob("*.log"))[::4]]


class Trickle(io.RawIOBase):
    """Delivers the data in chunks of random size, as a pipe does."""

    def __init__(self, data: bytes, seed: int):
        self.data, self.pos, self.rng = data, 0, random.Random(seed)

    def readable(self):
        return True

    def read1(self, n=-1):
        size = self.rng.choice([1, 7, 64, 4096, 65536])
        chunk = self.data[self.pos:self.pos + size]
        self.pos += len(chunk)
        return chunk


def summary(result):
    return [(f.rule, f.line, f.severity.name, f.message) for f in result.findings], \
           [(d.id, [f.line for f in d.chain]) for d in result.diagnoses]


@pytest.mark.parametrize("log", LOGS, ids=lambda p: p.name)
def test_trickled_stream_gives_the_same_findings_as_the_file(log):
    whole = api.analyze(str(log))
    session = Session(str(log))
    for line in iter_lines(Trickle(log.read_bytes(), seed=len(log.name)), str(log)):
        session.feed(line)
    assert summary(session.finish()) == summary(whole)
