"""lr-too-low: the NumPy quick test (`LRTooLow._quiet`) never changes a finding nor the state
carried to the next batch (tests/lr_streams.py)."""
from __future__ import annotations

import pytest

from logdoc.rules.lr_too_low import LRTooLow

from lr_streams import lockstep
from streams import record_answers


def _state(rule: LRTooLow) -> tuple:
    return (rule.fired, rule.reports,
            {key: (run[0].line, run[1], run[2]) for key, run in rule.runs.items()})


@pytest.fixture
def quiet_calls(monkeypatch):
    """What the quick test answered, so the test knows both branches were taken."""
    return record_answers(monkeypatch, LRTooLow, "_quiet")


@pytest.mark.parametrize("options", [{}, {"tiny": 1e-4, "hold": 5}])
def test_same_findings_and_state_as_the_list_code(quiet_calls, options):
    found = lockstep("lr-too-low", range(15), _state, options=options)
    # mostly decays below 1e-7 (cosine, steps, a tiny stretch) beside constants
    found += lockstep("lr-too-low", range(30, 55), _state, options=options,
                      n_lines=1200, kinds=[0, 3, 4, 5, 5, 6])
    assert found > 10
    assert True in quiet_calls and False in quiet_calls
