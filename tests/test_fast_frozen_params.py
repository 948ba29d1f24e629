"""frozen-params: its NumPy path on big columns batches gives the list code's findings.

Random logs with zero update statistics,
fed as columns batches and as list batches cut at the same lines (tests/numpy_rule_streams.py).
"""
from __future__ import annotations

import pytest
from numpy_rule_streams import SPECIAL, compare


@pytest.mark.parametrize("options, log", [
    ({}, SPECIAL),
    ({"hold": 1}, SPECIAL),
])
def test_columns_batches_give_the_list_findings(options, log):
    findings, fed = compare("frozen-params", range(12), options=options, **log)
    assert fed > 0             # the vector parser made columns batches
    assert findings > 0        # and the streams made the rule fire (or the test proves little)
