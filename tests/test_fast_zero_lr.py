"""zero-lr: its one body gives the same findings and carries the same state on columns batches
and on list batches of the same records (tests/lr_streams.py): zeros of groups already
reported, skip events and skipped-step counters, starts at 0 and decays to 0."""
from __future__ import annotations

import pytest

from logdoc.rules.zero_lr import ZeroLR

from lr_streams import lockstep


def _state(rule: ZeroLR) -> tuple:
    return (sorted(rule.seen_positive), {g: (rec.line, n) for g, (rec, n) in rule.pending.items()},
            sorted(rule.reported), rule.skipping,
            {g: rec.line for g, rec in rule.first_step_zero.items()})


@pytest.mark.parametrize("options", [{}, {"confirm_reports": 4}])
def test_same_findings_and_state_on_columns_and_list_batches(options):
    found = lockstep("zero-lr", range(15), _state, options=options)
    # mostly zeros (a group at 0 from some step on, starts at 0) beside positive groups
    found += lockstep("zero-lr", range(30, 55), _state, options=options,
                      n_lines=1200, kinds=[0, 1, 6, 6, 7, 7])
    assert found > 10
