"""grad-norm-zero's NumPy test (`_quiet`) leaves the rule exactly as its list code does: same findings
and same state after every batch, on random gradient-norm streams (jumps, drops, zeros, nan,
inf, negative values, two norms on a record)."""
from __future__ import annotations

import random

import pytest

from fast_series_streams import lockstep, place, series_log
from logdoc.rules import all_rules

# (through all_rules: importing one rule module first would leave the others out of the registry)
GradNormZero = all_rules()["grad-norm-zero"]


def _state(r: GradNormZero) -> tuple:
    return (r.hold.count, r.hold.fired, place(r.hold.first), r.fired)


@pytest.fixture
def quiet_calls(monkeypatch):
    """How often the NumPy test settled a batch or left it to the list code (so the test
    cannot pass without reaching both)."""
    calls = {True: 0, False: 0}
    inner = GradNormZero._quiet

    def counted(self, *args):
        done = inner(self, *args)
        calls[done] += 1
        return done

    monkeypatch.setattr(GradNormZero, "_quiet", counted)
    return calls


OPTIONS = [{}, {"hold": 1}, {"hold": 4}]

NEVER_QUIET = []                 # options the NumPy test leaves to the list code


@pytest.mark.parametrize("options", OPTIONS, ids=str)
def test_columns_batches_give_the_list_code_findings_and_state(options, quiet_calls):
    found = fed = 0
    for seed in range(8):
        data = series_log(seed, "grad_norm", mild=seed % 2 == 1)
        block = random.Random(seed).choice([300, 1000, 4000, 20000])
        got, n = lockstep("grad-norm-zero", data, block, options, _state)
        found += len(got)
        fed += n
    assert fed > 50
    if options not in NEVER_QUIET:
        assert quiet_calls[True] > 0       # batches settled by NumPy
    assert found > 0
