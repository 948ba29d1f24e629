"""constant-val-loss: its NumPy path on big columns batches gives the list code's findings.

Random logs with evaluations repeating values from a small pool,
fed as columns batches and as list batches cut at the same lines (tests/numpy_rule_streams.py).
"""
from __future__ import annotations

import pytest
from numpy_rule_streams import EVALS, compare


@pytest.mark.parametrize("options, log", [
    ({}, EVALS),
    ({"min_repeats": 2, "metric_repeats": 2}, EVALS),
])
def test_columns_batches_give_the_list_findings(options, log):
    findings, fed = compare("constant-val-loss", range(12), options=options, **log)
    assert fed > 0             # the vector parser made columns batches
    assert findings > 0        # and the streams made the rule fire (or the test proves little)
