"""Rules whose NumPy path on big columns batches must give the list code's findings, as data.

Each case: a rule, its options, and the kind of random log that makes it fire
(tests/numpy_rule_streams.py), fed as columns batches and as list batches cut at the same
lines. Rules whose quick test needs its own streams or state checks have their own
tests/test_fast_*.py.
"""
from __future__ import annotations

import pytest
from numpy_rule_streams import ENDINGS, EVALS, EVENTS, SPECIAL, compare

CASES = [
    # rule,                   options,                                       log (what it holds)
    ("constant-val-loss",     {},                                            EVALS),    # evaluations repeating a small pool
    ("constant-val-loss",     {"min_repeats": 2, "metric_repeats": 2},       EVALS),
    ("crash",                 {},                                            ENDINGS),  # tracebacks, swallowed exceptions, aborts
    ("crash",                 {"resume_records": 100},                       EVENTS),
    ("fp16-overflow",         {},                                            EVENTS),   # overflow events, skipped-step counters
    ("fp16-overflow",         {"window": 400, "max_overflows": 2},           EVENTS),
    ("frozen-params",         {},                                            SPECIAL),  # zero update statistics
    ("frozen-params",         {"hold": 1},                                   SPECIAL),
    ("hf-masked-nan",         {},                                            SPECIAL),  # zero losses beside nan grad norms
    ("metric-zero",           {},                                            SPECIAL),  # runs of zero scores across batch cuts
    ("metric-zero",           {"hold": 2},                                   SPECIAL),
    ("nan-not-counted",       {},                                            SPECIAL),  # nan grad norms, nan-iteration counters
    ("nan-not-counted",       {},                                            {}),
    ("nonfinite",             {},                                            {}),       # non-finite values and events
    ("nonfinite",             {},                                            EVENTS),
    ("overfitting",           {},                                            EVALS),    # evaluations between training losses
    ("overfitting",           {"patience": 1},                               EVALS),
    ("overfitting",           {"patience": 2},                               {}),
    ("val-better-than-train", {},                                            EVALS),
    ("val-better-than-train", {"ratio": 0.9, "hold": 2, "start": 1},         EVALS),
]


@pytest.mark.parametrize("rule, options, log", CASES,
                         ids=[f"{rule}-{k}" for k, (rule, _, _) in enumerate(CASES)])
def test_columns_batches_give_the_list_findings(rule, options, log):
    findings, fed = compare(rule, range(12), options=options, **log)
    assert fed > 0             # the vector parser made columns batches
    assert findings > 0        # and the streams made the rule fire (or the test proves little)
