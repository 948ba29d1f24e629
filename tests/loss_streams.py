"""Streams for the loss rules' NumPy fast paths (tests/test_fast_loss_*.py).

A log is cut into blocks of about `block_bytes`, each read by the bulk parser with the
vector parser forced on every block. Each block gives a pair: the batch over BlockColumns
(what the rules see on a big log) and a list batch of the same records (what the row code
sees). A rule fed both streams must report the same findings.
"""
from __future__ import annotations

from logdoc.batch import Batch
from logdoc.patterns import default_patterns
from numpy_rule_streams import run  # noqa: F401  (fed as the engine feeds a rule)
from streams import numpy_blocks


def batch_pairs(data: bytes, block_bytes: int) -> list[tuple]:
    """[(columns batch, list batch of the same records)] of `data`; a block the vector parser
    declined gives its list batch twice."""
    out = []
    for cols, records in numpy_blocks(data, block_bytes, default_patterns()):
        listed = Batch.from_records(records)
        out.append((Batch.from_columns(cols) if cols is not None else listed, listed))
    return out


def one_record_batches(rule_id: str, data: bytes, block: int, options: dict, state) -> int:
    """One rule fed columns batches of `data` cut in blocks of about `block` bytes, another the
    same records one record per batch: the same findings, and until a rule fires (it then reads
    no further) the same `state(rule)` after each block; the same findings at finish (results
    must not depend on where batches are cut). Returns the findings."""
    from fast_series_streams import _view, batches
    from logdoc.engine import build_rules

    big, small = (build_rules([rule_id], options={rule_id: options})[0] for _ in range(2))
    found = 0
    for k, (cols, listed) in enumerate(batches(data, block)):
        want = [_view(f) for rec in listed.records() if not small.wants.isdisjoint(
            {m.role for m in rec.metrics}) for f in small.observe_batch(Batch.from_records([rec]))]
        got = [_view(f) for f in big.observe_batch(cols)] if not big.wants.isdisjoint(listed.roles) else []
        assert got == want, f"batch {k}"
        assert getattr(small, "fired", False) or state(big) == state(small), f"batch {k}"
        found += len(want)
    want = [_view(f) for f in small.finish()]
    assert [_view(f) for f in big.finish()] == want
    return found + len(want)
