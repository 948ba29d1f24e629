"""loss-divergence's NumPy block test (`_quiet_blocks`) leaves the rule exactly as its list code
(`_blocks`) does: same findings, same state after every batch (block means, levels and spread
sums compared as floats, so the order of every addition counts).
"""
from __future__ import annotations


import pytest

from fast_series_streams import lockstep_runs, place
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
    """How often the NumPy path answered (so the test cannot pass without reaching it)."""
    calls = {True: 0, False: 0}
    inner = LossDivergence._quiet_blocks

    def counted(self, *args):
        done = inner(self, *args)
        calls[done] += 1
        return done

    monkeypatch.setattr(LossDivergence, "_quiet_blocks", counted)
    return calls


@pytest.mark.parametrize("options", OPTIONS, ids=str)
def test_columns_batches_give_the_list_code_findings_and_state(options, quiet_calls):
    found, fed = lockstep_runs("loss-divergence", "loss", options, _state)
    assert fed > 50
    if options.get("patience", 3) > 0:     # (with 0 the first judged block fires)
        assert quiet_calls[True] > 0       # batches settled by NumPy
    assert found > 0
