"""nonfinite: its NumPy path on big columns batches gives the list code's findings.

Random logs with non-finite values and the frameworks' non-finite events,
fed as columns batches and as list batches cut at the same lines (tests/numpy_rule_streams.py).
"""
from __future__ import annotations

import pytest
from numpy_rule_streams import EVENTS, compare


@pytest.mark.parametrize("options, log", [
    ({}, {}),
    ({}, EVENTS),
])
def test_columns_batches_give_the_list_findings(options, log):
    findings, fed = compare("nonfinite", range(12), options=options, **log)
    assert fed > 0             # the vector parser made columns batches
    assert findings > 0        # and the streams made the rule fire (or the test proves little)
