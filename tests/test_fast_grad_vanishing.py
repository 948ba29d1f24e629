"""grad-vanishing's NumPy test (`_quiet`) leaves the rule exactly as its list code does: same findings
and same state after every batch, on random gradient-norm streams (jumps, drops, zeros, nan,
inf, negative values, two norms on a record)."""
from __future__ import annotations

import random

import pytest

from fast_series_streams import lockstep, place, series_log
from logdoc.rules import all_rules

# (through all_rules: importing one rule module first would leave the others out of the registry)
GradVanishing = all_rules()["grad-vanishing"]


def _state(r: GradVanishing) -> tuple:
    return (r.seen, r.early_max, r.hold.count, r.hold.fired, place(r.hold.first), r.fired)


@pytest.fixture
def quiet_calls(monkeypatch):
    """How often the NumPy test settled a batch or left it to the list code (so the test
    cannot pass without reaching both)."""
    calls = {True: 0, False: 0}
    inner = GradVanishing._quiet

    def counted(self, *args):
        done = inner(self, *args)
        calls[done] += 1
        return done

    monkeypatch.setattr(GradVanishing, "_quiet", counted)
    return calls


OPTIONS = [{}, {"early": 1, "hold": 1}, {"tiny": 1e-3}, {"drop": 10.0, "hold": 5}, {"early": 2.5},
           {"drop": 0}]

NEVER_QUIET = [{"drop": 0}]                 # options the NumPy test leaves to the list code


@pytest.mark.parametrize("options", OPTIONS, ids=str)
def test_columns_batches_give_the_list_code_findings_and_state(options, quiet_calls):
    found = fed = 0
    for seed in range(8):
        data = series_log(seed, "grad_norm", mild=seed % 2 == 1)
        block = random.Random(seed).choice([300, 1000, 4000, 20000])
        got, n = lockstep("grad-vanishing", data, block, options, _state)
        found += len(got)
        fed += n
    assert fed > 50
    if options not in NEVER_QUIET:
        assert quiet_calls[True] > 0       # batches settled by NumPy
    assert found > 0
