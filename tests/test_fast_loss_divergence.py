"""loss-divergence reads every batch one way: blocks cut from the new reports' arrays, judged
together (`_judge`). Columns batches and list batches of the same records, and batches of one
record, leave the rule in the same state: same findings, same state after every batch (block
means, levels and spread sums compared as floats, so the order of every addition counts; with
one record per batch, `_judge` sees one block at a time).
"""
from __future__ import annotations


import pytest

import random

from fast_series_streams import lockstep_runs, place, series_log
from loss_streams import one_record_batches
from logdoc.rules import all_rules

# (through all_rules: importing one rule module first would leave the others out of the registry)
LossDivergence = all_rules()["loss-divergence"]


def _state(r: LossDivergence) -> tuple:
    return (r.block, place(r.block_first), r.best and (r.best[0], place(r.best[1])), r.risen,
            place(r.risen_first), r.fired, r.last and (r.last[0], place(r.last[1])), r.size,
            r.level, r.spread_sum, r.spread_blocks, list(r.epoch_values),
            r.last_raw and (r.last_raw[0], place(r.last_raw[1])), r.reports.state())


OPTIONS = [{}, {"window": 3}, {"window": 2, "patience": 1}, {"window": 5, "patience": 0},
           {"factor": 1.05, "sigmas": 0.0}, {"smoothing": 1.0, "explode": 3.0},
           {"smoothing": 0, "window": 4}, {"window": 7, "patience": 6, "factor": 1.2}]


@pytest.fixture
def quiet_calls(monkeypatch):
    """How many blocks `_judge` saw at once (so the tests cannot pass without judging many
    blocks together, and one alone)."""
    calls = {"many": 0, "one": 0}
    inner = LossDivergence._judge

    def counted(self, b, means, *args):
        calls["many" if len(means) > 1 else "one"] += 1
        return inner(self, b, means, *args)

    monkeypatch.setattr(LossDivergence, "_judge", counted)
    return calls


@pytest.mark.parametrize("options", OPTIONS, ids=str)
def test_columns_batches_give_the_list_code_findings_and_state(options, quiet_calls):
    found, fed = lockstep_runs("loss-divergence", "loss", options, _state)
    assert fed > 50
    if options.get("patience", 3) > 0:     # (with 0 the first judged block fires)
        assert quiet_calls["many"] > 0     # blocks judged together
    assert found > 0


@pytest.mark.parametrize("options", OPTIONS, ids=str)
def test_batches_of_one_record_give_the_same(options, quiet_calls):
    found = 0
    for seed in range(6):
        block = random.Random(seed).choice([1000, 4000, 20000])
        found += one_record_batches("loss-divergence", series_log(seed, "loss", mild=seed % 2 == 1),
                                    block, options, _state)
    assert found > 0 and quiet_calls["one"] > 0
    if options.get("patience", 3) > 0:
        assert quiet_calls["many"] > 0
