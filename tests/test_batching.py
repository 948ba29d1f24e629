"""Results never depend on where the log is cut into batches.

Rules see records in batches (logdoc.core.batch): a live stream gives whatever arrived, a file
large blocks. Every real log we keep is replayed line by line, in small odd-sized batches and
in one batch; the JSON reports must be identical.
"""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from logdoc.source.reading import iter_blocks, read_lines
from logdoc.engine.session import Session
from streams import Trickle, vector_everywhere

ROOT = Path(__file__).resolve().parent.parent
LOGS = sorted([*ROOT.glob("tests/corpus/*.log"), *ROOT.glob("tests/heldout/*.log"),
               *ROOT.glob("sample_logs/*.log")])


def _report(path: Path, batch_lines: int) -> str:
    result = Session(str(path)).feed_all(read_lines(str(path)), batch_lines=batch_lines)
    return json.dumps(result.to_json())      # as text: the order of keys counts too


def test_there_are_logs_to_replay():
    assert len(LOGS) > 50


@pytest.mark.parametrize("path", LOGS, ids=lambda p: p.name)
def test_batch_size_does_not_change_the_report(path):
    whole = _report(path, 1 << 20)
    assert _report(path, 1) == whole
    assert _report(path, 7) == whole


def _bulk_report(path: Path, chunk: int) -> str:
    """Bulk-parse the log (logdoc.parsing.bulk) in the blocks reading.iter_blocks cuts from chunks."""
    stream = Trickle(gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes(), chunk)
    return json.dumps(Session(str(path)).feed_blocks(iter_blocks(stream, str(path))).to_json())


@pytest.mark.parametrize("path", LOGS, ids=lambda p: p.name)
def test_bulk_parsing_gives_the_line_by_line_report(path):
    lines = _report(path, 1 << 20)
    assert _bulk_report(path, 1 << 20) == lines
    assert _bulk_report(path, 300) == lines


@pytest.mark.parametrize("path", LOGS, ids=lambda p: p.name)
def test_numpy_parsing_gives_the_line_by_line_report(path):
    # logdoc.parsing.bulk_vector on every block (it normally waits for big, learnt blocks), shapes
    # coded by pyarrow and by bytes.split
    lines = _report(path, 1 << 20)
    with vector_everywhere(arrow=True):
        assert _bulk_report(path, 4096) == lines
        assert _bulk_report(path, 300) == lines
    with vector_everywhere(arrow=False):
        assert _bulk_report(path, 4096) == lines
