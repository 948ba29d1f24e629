"""lr-warmup-never-ends: its one body gives the same findings and carries the same state on
columns batches and on list batches of the same records (tests/lr_streams.py)."""
from __future__ import annotations

import pytest

from logdoc.rules.lr_warmup_never_ends import LRWarmupNeverEnds

from lr_streams import lockstep


def _state(rule: LRWarmupNeverEnds) -> tuple:
    return (rule.fired, rule.from_start,
            {key: (g[0].line, g[1], g[2], g[3]) for key, g in rule.groups.items()})


@pytest.mark.parametrize("options", [{}, {"fraction": 0.2, "min_increases": 1}])
def test_same_findings_and_state_on_columns_and_list_batches(options):
    found = lockstep("lr-warmup-never-ends", range(20), _state, options=options)
    # mostly rising schedules (warm-ups, rises that never stop, a few rises then flat)
    found += lockstep("lr-warmup-never-ends", range(40, 70), _state, options=options,
                      n_lines=1200, kinds=[0, 1, 2, 8, 9, 9, 9])
    assert found > 5
