"""Streams for the loss rules' NumPy fast paths (tests/test_fast_loss_*.py).

A log is cut into blocks of about `block_bytes`, each read by the bulk parser with the
vector parser forced on every block. Each block gives a pair: the batch over BlockColumns
(what the rules see on a big log) and a list batch of the same records (what the row code
sees). A rule fed both streams must report the same findings.
"""
from __future__ import annotations

import logdoc.bulk
import logdoc.bulk_vector
from logdoc.batch import Batch
from logdoc.bulk import BulkParser
from logdoc.engine import build_rules
from logdoc.parser import Parser
from logdoc.patterns import default_patterns


def batch_pairs(data: bytes, block_bytes: int) -> list[tuple]:
    """[(columns batch, list batch of the same records)] of `data`; a block the vector parser
    declined gives its list batch twice."""
    saved = logdoc.bulk.VECTOR_MIN_BYTES, logdoc.bulk_vector.MAX_SLOW_SHARE
    logdoc.bulk.VECTOR_MIN_BYTES, logdoc.bulk_vector.MAX_SLOW_SHARE = 0, 2.0
    try:
        bulk = BulkParser(Parser(default_patterns()))
        out, no, start = [], 1, 0
        while start < len(data):
            cut = data.find(b"\n", start + block_bytes)
            end = len(data) if cut < 0 else cut
            batch, n = bulk.parse_block(data[start:end], no)
            listed = Batch.from_records(batch.records())
            fresh = Batch.from_columns(batch.columns) if batch.columns is not None else listed
            out.append((fresh, listed))
            no, start = no + n, end + 1
        return out
    finally:
        logdoc.bulk.VECTOR_MIN_BYTES, logdoc.bulk_vector.MAX_SLOW_SHARE = saved


def _view(f) -> tuple:
    return (f.rule, f.severity, f.line, f.message, [(e.line, e.text) for e in f.evidence],
            f.epoch, f.step, f.metric, sorted(f.tags))


def run(rule_id: str, stream: list, options: dict | None = None) -> list:
    """Findings of a fresh rule fed `stream` as the engine feeds it: (batch no, finding)."""
    rule = build_rules([rule_id], options={rule_id: options or {}})[0]
    got = []
    for k, b in enumerate(stream):
        if rule.wants is not None and rule.wants.isdisjoint(b.roles):
            continue
        got.extend((k, _view(f)) for f in rule.observe_batch(b))
    got.extend(("finish", _view(f)) for f in rule.finish())
    return got
