"""grad-explosion's NumPy test (`_quiet`) leaves the rule exactly as its list code does: same findings
and same state after every batch, on random gradient-norm streams (jumps, drops, zeros, nan,
inf, negative values, two norms on a record)."""
from __future__ import annotations

import random

import pytest

from fast_series_streams import lockstep, series_log
from logdoc.rules import all_rules

# (through all_rules: importing one rule module first would leave the others out of the registry)
GradExplosion = all_rules()["grad-explosion"]


def _state(r: GradExplosion) -> tuple:
    return (list(r.recent), r.fired)


@pytest.fixture
def quiet_calls(monkeypatch):
    """How often the NumPy test settled a batch or left it to the list code (so the test
    cannot pass without reaching both)."""
    calls = {True: 0, False: 0}
    inner = GradExplosion._quiet

    def counted(self, *args):
        done = inner(self, *args)
        calls[done] += 1
        return done

    monkeypatch.setattr(GradExplosion, "_quiet", counted)
    return calls


OPTIONS = [{}, {"window": 3, "min_history": 1}, {"jump": 5.0}, {"jump": 3.0, "ceiling": 50.0}, {"window": 1},
           {"jump": 0.5}]

NEVER_QUIET = [{"jump": 0.5}]                 # options the NumPy test leaves to the list code


@pytest.mark.parametrize("options", OPTIONS, ids=str)
def test_columns_batches_give_the_list_code_findings_and_state(options, quiet_calls):
    found = fed = 0
    for seed in range(8):
        data = series_log(seed, "grad_norm", mild=seed % 2 == 1)
        block = random.Random(seed).choice([300, 1000, 4000, 20000])
        got, n = lockstep("grad-explosion", data, block, options, _state)
        found += len(got)
        fed += n
    assert fed > 50
    if options not in NEVER_QUIET:
        assert quiet_calls[True] > 0       # batches settled by NumPy
    assert found > 0


def _decaying_log(seed: int) -> bytes:
    """Norms falling steadily by six orders of magnitude (no jump against the recent median,
    but far more than `jump` between the first and the last norm of a big batch)."""
    rnd = random.Random(seed)
    lines = [f"[probe] epoch=1 step={s} grad_norm={500.0 * 0.997 ** s * rnd.uniform(0.8, 1.25):.4e}"
             for s in range(1, 5000)]
    return ("\n".join(lines) + "\n").encode()


def test_a_batch_spanning_orders_of_magnitude_is_settled_chunk_by_chunk(quiet_calls):
    for seed in range(3):
        got, _ = lockstep("grad-explosion", _decaying_log(seed), 100000, {}, _state)
        assert got == []
    assert quiet_calls[True] >= 3 and quiet_calls[False] == 0
