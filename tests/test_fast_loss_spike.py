"""loss-spike reads every batch one way: NumPy marks the reports that may be spikes
(`_marks`), the others enter the window in bulk (`_skip`) and `_report` judges each mark and
the reports after it. Columns batches and list batches of the same records, cut anywhere,
leave the rule in the same state (findings, window, counters, run after every batch); and the
marks miss no spike: the rule gives what `_report` gives when it judges every report, on
random streams and on values exactly at the spike threshold (where `_report`'s `sum` and the
arrays' sums could round differently).
"""
from __future__ import annotations

import random

import pytest

from fast_series_streams import _view, batches, lockstep, lockstep_runs, place, series_log
from logdoc.engine import build_rules
from logdoc.rules import all_rules

# (through all_rules: importing one rule module first would leave the others out of the registry)
LossSpike = all_rules()["loss-spike"]


def _state(r: LossSpike) -> tuple:
    return (list(r.recent), r.seen, r.run, place(r.run_first), r.reported_info, r.reported_warning,
            r.reports.state())


@pytest.fixture
def quiet_calls(monkeypatch):
    """How often the NumPy test ran, and how many values it marked (so the test cannot pass
    without reaching both the bulk path and the judgement from a mark)."""
    calls = {"batches": 0, "marks": 0}
    inner = LossSpike._marks

    def counted(self, values):
        marks = inner(self, values)
        if marks is not None:
            calls["batches"] += 1
            calls["marks"] += len(marks)
        return marks

    monkeypatch.setattr(LossSpike, "_marks", counted)
    return calls


OPTIONS = [{}, {"window": 3}, {"rtol": 0.5, "patience": 2}, {"warmup": 50}, {"rtol": 0.0},
           {"window": 1, "patience": 1}, {"window": 25, "rtol": 1.0}]


@pytest.mark.parametrize("options", OPTIONS, ids=str)
def test_columns_batches_give_the_loop_findings_and_state(options, quiet_calls):
    found, fed = lockstep_runs("loss-spike", "loss", options, _state)
    assert fed > 50
    assert quiet_calls["batches"] > 0      # batches read by NumPy
    assert quiet_calls["marks"] > 0        # and values left to the loop (a spike may be there)
    assert found > 0


def _threshold_log(seed: int) -> bytes:
    """Flat losses with values at, just below and just above three times the running mean
    (the default threshold: value - mean >= 2 * mean)."""
    rnd = random.Random(seed)
    base = rnd.choice(["1.0", "0.1", "0.3", "0.7", "1e-05"])
    b = float(base)
    near = [repr(3 * b), repr(3 * b * (1 - 1e-15)), repr(3 * b * (1 + 1e-15)), repr(2.9999 * b)]
    lines = []
    for step in range(1, 4000):
        value = rnd.choice(near) if rnd.random() < 0.003 else base
        lines.append(f"[probe] epoch=1 step={step} loss={value}")
    return ("\n".join(lines) + "\n").encode()


def test_values_at_the_threshold(quiet_calls):
    found = 0
    for seed in range(6):
        block = random.Random(seed).choice([2000, 8000])
        got, _ = lockstep("loss-spike", _threshold_log(seed), block, {}, _state)
        found += len(got)
    assert found > 0 and quiet_calls["batches"] > 0 and quiet_calls["marks"] > 0


def _spiky_log(seed: int) -> bytes:
    """Noisy flat losses with many spikes, alone or in runs (a run's values stay out of the
    window, so the windows after it are not the arrays' for a while), near batch cuts too."""
    rnd = random.Random(seed)
    lines, step = [], 0
    while len(lines) < 5000:
        step += 1
        if rnd.random() < 0.03:
            for _ in range(rnd.choice([1, 1, 2, 3, 5, 8])):
                lines.append(f"[probe] epoch=2 step={step} loss={rnd.uniform(3.5, 9):.4f}")
                step += 1
        lines.append(f"[probe] epoch=2 step={step} loss={rnd.uniform(0.8, 1.2):.4f}")
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize("options", [{}, {"window": 4, "patience": 3}, {"window": 30}], ids=str)
def test_many_spikes_and_runs(options, quiet_calls):
    found = 0
    for seed in range(4):
        got, _ = lockstep("loss-spike", _spiky_log(seed), random.Random(seed).choice([1500, 6000, 30000]),
                          options, _state)
        found += len(got)
    assert found > 0 and quiet_calls["batches"] > 0 and quiet_calls["marks"] > 100


def _every_report_judged(data: bytes, block: int, options: dict) -> int:
    """The rule as it runs, and one whose `_marks` marks every report (so `_report` judges
    each, with its own `sum`), fed the same batches: the same findings and state after every
    batch. Returns the findings."""
    fast, slow = (build_rules(["loss-spike"], options={"loss-spike": options})[0] for _ in range(2))
    slow._marks = lambda values: range(len(values))
    found = 0
    for k, (cols, listed) in enumerate(batches(data, block)):
        got = [_view(f) for f in fast.observe_batch(cols)]
        want = [_view(f) for f in slow.observe_batch(listed)]
        assert got == want, f"batch {k}"
        assert _state(fast) == _state(slow), f"batch {k}"
        found += len(want)
    return found


@pytest.mark.parametrize("options", OPTIONS, ids=str)
def test_the_marks_miss_no_spike(options, quiet_calls):
    found = 0
    for seed in range(6):
        block = random.Random(seed).choice([300, 1000, 4000, 20000])
        found += _every_report_judged(series_log(seed, "loss", mild=seed % 2 == 1), block, options)
        found += _every_report_judged(_threshold_log(seed), block, options)
        found += _every_report_judged(_spiky_log(seed), block, options)
    assert found > 0 and quiet_calls["marks"] > 0
