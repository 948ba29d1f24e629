"""zero-lr: the NumPy quick test (`ZeroLR._quiet`) never changes a finding nor the state
carried to the next batch (tests/lr_streams.py): zeros of groups already reported, skip
events and skipped-step counters, starts at 0 and decays to 0."""
from __future__ import annotations

import pytest

from logdoc.rules.zero_lr import ZeroLR

from lr_streams import lockstep
from streams import record_answers


def _state(rule: ZeroLR) -> tuple:
    return (sorted(rule.seen_positive), {g: (rec.line, n) for g, (rec, n) in rule.pending.items()},
            sorted(rule.reported), rule.skipping,
            {g: rec.line for g, rec in rule.first_step_zero.items()})


@pytest.fixture
def quiet_calls(monkeypatch):
    """What the quick test answered, so the test knows both branches were taken."""
    return record_answers(monkeypatch, ZeroLR, "_quiet")


@pytest.mark.parametrize("options", [{}, {"confirm_reports": 4}])
def test_same_findings_and_state_as_the_list_code(quiet_calls, options):
    found = lockstep("zero-lr", range(15), _state, options=options)
    # mostly zeros (a group at 0 from some step on, starts at 0) beside positive groups
    found += lockstep("zero-lr", range(30, 55), _state, options=options,
                      n_lines=1200, kinds=[0, 1, 6, 6, 7, 7])
    assert found > 10
    assert True in quiet_calls and False in quiet_calls
