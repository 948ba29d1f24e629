"""The gradient-norm rules' NumPy tests (`_quiet`) leave each rule exactly as its list code
does: same findings and same state after every batch, on random gradient-norm streams (jumps,
drops, zeros, nan, inf, negative values, two norms on a record)."""
from __future__ import annotations

import random

import pytest

from fast_series_streams import lockstep, lockstep_runs, place
from logdoc.rules import all_rules

# (through all_rules: importing one rule module first would leave the others out of the registry)
RULES = all_rules()

STATE = {   # what each rule carries from batch to batch
    "grad-explosion": lambda r: (list(r.recent), r.fired),
    "grad-vanishing": lambda r: (r.seen, r.early_max, r.hold.count, r.hold.fired, place(r.hold.first), r.fired),
    "grad-norm-zero": lambda r: (r.hold.count, r.hold.fired, place(r.hold.first), r.fired),
}
# (rule, options, whether the NumPy test may settle batches with these options)
CASES = [
    *[("grad-explosion", o, True) for o in ({}, {"window": 3, "min_history": 1}, {"jump": 5.0},
                                            {"jump": 3.0, "ceiling": 50.0}, {"window": 1})],
    ("grad-explosion", {"jump": 0.5}, False),
    *[("grad-vanishing", o, True) for o in ({}, {"early": 1, "hold": 1}, {"tiny": 1e-3},
                                            {"drop": 10.0, "hold": 5}, {"early": 2.5})],
    ("grad-vanishing", {"drop": 0}, False),
    *[("grad-norm-zero", o, True) for o in ({}, {"hold": 1}, {"hold": 4})],
]


@pytest.fixture
def quiet_calls(monkeypatch):
    """How often each rule's NumPy test settled a batch (True) or left it to the list code
    (False): a test cannot pass without reaching the path it is about."""
    calls = {(rid, done): 0 for rid in STATE for done in (True, False)}
    for rid in STATE:
        cls = RULES[rid]
        if not hasattr(cls, "_quiet"):
            continue                  # written once: no NumPy twin to count

        def counted(self, *args, _inner=cls._quiet, _rid=rid):
            done = _inner(self, *args)
            calls[_rid, done] += 1
            return done

        monkeypatch.setattr(cls, "_quiet", counted)
    return calls


@pytest.mark.parametrize("rule_id,options,settles", CASES, ids=lambda x: str(x))
def test_columns_batches_give_the_list_code_findings_and_state(rule_id, options, settles, quiet_calls):
    found, fed = lockstep_runs(rule_id, "grad_norm", options, STATE[rule_id])
    assert fed > 50
    if settles and hasattr(RULES[rule_id], "_quiet"):
        assert quiet_calls[rule_id, True] > 0      # batches settled by NumPy
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
        got, _ = lockstep("grad-explosion", _decaying_log(seed), 100000, {}, STATE["grad-explosion"])
        assert got == []
    assert quiet_calls["grad-explosion", True] >= 3 and quiet_calls["grad-explosion", False] == 0
