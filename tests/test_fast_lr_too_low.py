"""lr-too-low: its one body gives the same findings and carries the same state on columns
batches and on list batches of the same records (tests/lr_streams.py)."""
from __future__ import annotations

import pytest

from logdoc.rules.lr_too_low import LRTooLow

from lr_streams import lockstep


def _state(rule: LRTooLow) -> tuple:
    return (rule.fired, rule.reports,
            {key: (run[0].line, run[1], run[2]) for key, run in rule.runs.items()})


@pytest.mark.parametrize("options", [{}, {"tiny": 1e-4, "hold": 5}])
def test_same_findings_and_state_on_columns_and_list_batches(options):
    found = lockstep("lr-too-low", range(15), _state, options=options)
    # mostly decays below 1e-7 (cosine, steps, a tiny stretch) beside constants
    found += lockstep("lr-too-low", range(30, 55), _state, options=options,
                      n_lines=1200, kinds=[0, 3, 4, 5, 5, 6])
    assert found > 10
