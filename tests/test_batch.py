"""Batch views: the per-role series and the training loss per record."""
from __future__ import annotations

import math

from logdoc.batch import Batch
from logdoc.model import Metric, Record


def rec(line, *metrics, phase="train"):
    return Record(line=line, text=f"line {line}", pattern="t/t", family="t", phase=phase,
                  metrics=[Metric(n, r, v) for n, r, v in metrics])


def test_train_loss_is_the_loss_series_when_each_training_record_has_one_loss():
    b = Batch.from_records([rec(1, ("loss", "loss", 0.5), ("lr", "lr", 0.1)), rec(2, ("loss", "loss", 0.4))])
    assert b.train_loss() == ([0, 1], ["loss", "loss"], [0.5, 0.4])
    assert b.series("lr")[:3] == ([0], ["lr"], [0.1])


def test_train_loss_takes_the_largest_component_and_a_nonfinite_one_first():
    b = Batch.from_records([
        rec(1, ("loss_cls", "loss", 0.2), ("loss", "loss", 0.9), ("loss_box", "loss", 0.9)),
        rec(2, ("loss_a", "loss", 0.1), ("loss_b", "loss", math.nan), ("loss_c", "loss", math.inf)),
        rec(3, ("val_loss", "loss", 7.0), phase="eval"),
        rec(4, ("loss", "loss", 0.3)),
    ])
    rows, names, values = b.train_loss()
    assert rows == [0, 1, 3] and names == ["loss", "loss_b", "loss"]
    assert values[0] == 0.9 and math.isnan(values[1]) and values[2] == 0.3


def test_record_rebuilds_a_row_with_its_metrics():
    b = Batch.from_records([rec(1, ("loss", "loss", 0.5)), rec(2, ("lr", "lr", 0.1), ("loss", "loss", 0.4))])
    b._records.clear()                        # as the bulk parser leaves it: columns only
    r = b.record(1)
    assert (r.line, r.text, [(m.name, m.value) for m in r.metrics]) == (2, "line 2", [("lr", 0.1), ("loss", 0.4)])
    assert b.rows_for(frozenset({"lr"})) == [1]
