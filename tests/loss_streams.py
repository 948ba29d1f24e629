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
