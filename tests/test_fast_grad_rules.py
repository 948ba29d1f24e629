"""The gradient-norm rules, written once over arrays, give the same findings and carry the same
state after every batch on columns batches and on list batches of the same records, on random
gradient-norm streams (jumps, drops, zeros, nan, inf, negative values, two norms on a
record)."""
from __future__ import annotations

import random

import pytest

from fast_series_streams import lockstep, lockstep_runs, place

STATE = {   # what each rule carries from batch to batch
    "grad-explosion": lambda r: (list(r.recent), r.fired),
    "grad-vanishing": lambda r: (r.seen, r.early_max, r.hold.count, r.hold.fired, place(r.hold.first), r.fired),
    "grad-norm-zero": lambda r: (r.hold.count, r.hold.fired, place(r.hold.first), r.fired),
}
CASES = [
    *[("grad-explosion", o) for o in ({}, {"window": 3, "min_history": 1}, {"jump": 5.0},
                                      {"jump": 3.0, "ceiling": 50.0}, {"window": 1}, {"jump": 0.5})],
    *[("grad-vanishing", o) for o in ({}, {"early": 1, "hold": 1}, {"tiny": 1e-3},
                                      {"drop": 10.0, "hold": 5}, {"early": 2.5}, {"drop": 0})],
    *[("grad-norm-zero", o) for o in ({}, {"hold": 1}, {"hold": 4})],
]


@pytest.mark.parametrize("rule_id,options", CASES, ids=lambda x: str(x))
def test_columns_batches_give_the_list_batches_findings_and_state(rule_id, options):
    found, fed = lockstep_runs(rule_id, "grad_norm", options, STATE[rule_id])
    assert fed > 50
    assert found > 0


def _decaying_log(seed: int) -> bytes:
    """Norms falling steadily by six orders of magnitude (no jump against the recent median,
    but far more than `jump` between the first and the last norm of a big batch)."""
    rnd = random.Random(seed)
    lines = [f"[probe] epoch=1 step={s} grad_norm={500.0 * 0.997 ** s * rnd.uniform(0.8, 1.25):.4e}"
             for s in range(1, 5000)]
    return ("\n".join(lines) + "\n").encode()


def test_a_batch_spanning_orders_of_magnitude_is_no_explosion():
    for seed in range(3):
        got, fed = lockstep("grad-explosion", _decaying_log(seed), 100000, {}, STATE["grad-explosion"])
        assert got == [] and fed >= 1
