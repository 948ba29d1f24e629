"""fp16-overflow: its NumPy path on big columns batches gives the list code's findings.

Random logs with overflow events and skipped-step counters,
fed as columns batches and as list batches cut at the same lines (tests/numpy_rule_streams.py).
"""
from __future__ import annotations

import pytest
from numpy_rule_streams import EVENTS, compare


@pytest.mark.parametrize("options, log", [
    ({}, EVENTS),
    ({"window": 400, "max_overflows": 2}, EVENTS),
])
def test_columns_batches_give_the_list_findings(options, log):
    findings, fed = compare("fp16-overflow", range(12), options=options, **log)
    assert fed > 0             # the vector parser made columns batches
    assert findings > 0        # and the streams made the rule fire (or the test proves little)
