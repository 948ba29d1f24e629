"""Batch views: the per-role series and the training loss per record."""
from __future__ import annotations

import math

from logdoc.core.batch import Batch
from logdoc.core.model import Metric, Record


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


def test_new_reports_replayed_to_a_second_rule_leave_the_same_state():
    from logdoc.rules._series import new_reports
    from logdoc.rules.base import Reports

    recs = [Record(line=i, text=f"step {i // 2}", pattern="t/t", family="t", epoch=1.0, step=float(i // 2),
                   metrics=[Metric("loss", "loss", 1.0 / (i + 1))]) for i in range(1, 40)]
    b = Batch.from_records(recs)
    rows, _, values = b.train_loss()
    first, second, alone = Reports(one_series=True), Reports(one_series=True), Reports(one_series=True)
    got1 = new_reports(first, b, rows, values)
    got2 = new_reports(second, b, rows, values)           # answered from the batch's memo
    got3 = new_reports(alone, Batch.from_records(recs), rows, values)   # computed afresh
    assert got1 == got2 == got3 and len(got1[0]) == 20    # each step printed twice: one report
    assert first.state() == second.state() == alone.state()


def test_train_loss_ignores_eval_records_without_a_training_loss():
    b = Batch.from_records([rec(1, ("loss", "loss", 0.5)), rec(2, ("val_loss", "val_loss", 0.7), phase="eval"),
                            rec(3, ("loss", "loss", 0.4))])
    assert b.train_loss() == ([0, 2], ["loss", "loss"], [0.5, 0.4])


def test_numpy_views_equal_the_lists_on_numpy_batches():
    # np_train_loss / np_series / np_counter of a NumPy batch come from its arrays; they must
    # be the very lists the batch builds when asked (every kept log, the NumPy path forced)
    import gzip
    from pathlib import Path

    import numpy as np

    from logdoc.parsing.bulk import BulkParser
    from logdoc.parsing.parser import Parser
    from logdoc.parsing.patterns import default_patterns
    from logdoc.source.reading import iter_blocks
    from streams import Trickle, vector_everywhere

    root = Path(__file__).resolve().parent.parent
    checked = 0
    for path in sorted([*root.glob("tests/corpus/*.log"), *root.glob("tests/heldout/*.log.gz")]):
        data = path.read_bytes()
        data = gzip.decompress(data) if path.suffix == ".gz" else data
        bulk = BulkParser(Parser(default_patterns()))
        with vector_everywhere():
            for no, block in iter_blocks(Trickle(data, 2000), str(path)):
                for b, _ in bulk.parse_blocks(block, no):
                    if b.columns is None or not len(b):
                        continue
                    rows, _, values = b.train_loss()
                    got_rows, got_values = b.np_train_loss()
                    assert got_rows.tolist() == rows
                    np.testing.assert_array_equal(got_values, np.array(values, np.float64))
                    for name in ("epoch", "step"):
                        v, known = b.np_counter(name)
                        assert [x if k else None for x, k in zip(v.tolist(), known.tolist())] == getattr(b, name)
                    checked += 1
    assert checked > 20
