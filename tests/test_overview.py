"""The terminal report's overview stays bounded on any length of log and draws the same
picture as the full tables on short ones."""
from __future__ import annotations

import math

from logdoc.core.batch import Batch
from logdoc.core.model import Metric, Record
from logdoc.views.overview import HEAD, MAX_POINTS, TAIL, Overview
from logdoc.report.sparkline import sparkline


def _batch(points):
    """points: (line, epoch, name, role, value)"""
    return Batch.from_records(Record(line=line, text="", pattern="t/t", family="t", epoch=epoch,
                                     metrics=[Metric(name, role, value)])
                              for line, epoch, name, role, value in points)


def test_short_series_are_kept_point_for_point():
    ov = Overview()
    ov.add_batch(_batch([(i, 1.0, "loss", "loss", 1.0 / i) for i in range(1, 40)]))
    s = ov.series["loss"]
    assert s.values() == [1.0 / i for i in range(1, 40)]
    assert s.points_at({5, 1000}) == [4]          # a finding at line 5 marks that point only
    assert s.finite_range == (1.0 / 39, 1.0)


def test_a_million_values_fit_in_a_bounded_curve_with_the_same_shape():
    ov = Overview()
    n = 1_000_000
    values = [math.sin(i / n * 6.28) for i in range(n)]
    for start in range(0, n, 100_000):
        ov.add_batch(_batch([(i + 1, None, "loss", "loss", values[i]) for i in range(start, start + 100_000)]))
    s = ov.series["loss"]
    assert len(s.values()) < 2 * MAX_POINTS
    assert s.finite_range == (min(values), max(values))
    assert sparkline(s.values()) == sparkline(values)       # same 48-character picture
    assert s.points_at({n // 2}) and len(s.points_at({n // 2})) == 1


def test_nan_survives_merging():
    ov = Overview()
    pts = [(i, None, "loss", "loss", 0.5) for i in range(1, 20_000)]
    pts[12_345] = (12_346, None, "loss", "loss", math.nan)
    ov.add_batch(_batch(pts))
    assert sum(1 for v in ov.series["loss"].values() if v != v) == 1


def test_epochs_keep_the_first_and_the_last():
    ov = Overview()
    ov.add_batch(_batch([(e, float(e), "val_loss", "val_loss", e / 10) for e in range(1, 1001)]))
    cols, rows, skipped = ov.epoch_rows()
    assert cols == ["val_loss"] and skipped
    assert [r[0] for r in rows] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, *[float(e) for e in range(995, 1001)]]
    assert len(ov.head) == HEAD and len(ov.tail) == TAIL


def _overview_of(path, monkeypatch, arrays: bool):
    import gzip

    from logdoc.source.reading import iter_blocks
    from logdoc.engine.session import Session
    from streams import Trickle, vector_everywhere

    if not arrays:         # the list code on the very same NumPy batches
        monkeypatch.setattr(Overview, "_add_columns", lambda self, b: False)
    data = path.read_bytes()
    data = gzip.decompress(data) if path.suffix == ".gz" else data
    with vector_everywhere():
        o = Session(str(path), keep_overview=True).feed_blocks(iter_blocks(Trickle(data, 3000), str(path))).overview
    monkeypatch.undo()
    return (o.head, dict(o.tail), o.epochs_seen, o.role_of,
            {k: (s.lines, s.counts, s.lo, s.hi, [round(v, 9) if v == v else "nan" for v in s.values()])
             for k, s in o.series.items()})


def test_numpy_batches_give_the_list_overview(monkeypatch):
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    logs = sorted([*root.glob("tests/corpus/*.log"), *root.glob("sample_logs/*.log")])
    for path in logs:
        assert repr(_overview_of(path, monkeypatch, True)) == repr(_overview_of(path, monkeypatch, False)), path


def test_arrays_squeeze_a_series_as_lists_do():
    # extend_array (big NumPy batches) against extend, over random batch sizes, nan and inf,
    # and -0.0 before 0.0 (min() keeps the first of equal extremes): the same points
    import random

    import numpy as np

    from logdoc.views.overview import Series

    rng = random.Random(7)
    for trial in range(20):
        lists, arrays = Series("loss"), Series("loss")
        line = 1
        for _ in range(rng.randint(1, 30)):
            n = rng.choice([1, 3, 50, 700, 5000])
            values = [rng.choice([rng.uniform(-1, 1), -0.0, 0.0, math.nan, math.inf])
                      if rng.random() < 0.05 else rng.uniform(0, 3) for _ in range(n)]
            lines = list(range(line, line + n))
            line += n
            lists.extend(lines, values)
            arrays.extend_array(np.array(lines), np.array(values))
        assert (arrays.lines, arrays.counts, arrays.per_point) == (lists.lines, lists.counts, lists.per_point)
        assert repr((arrays.lo, arrays.hi)) == repr((lists.lo, lists.hi))
        for a, b in zip(arrays.values(), lists.values()):
            assert (a != a and b != b) or math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)


def test_arrays_keep_the_first_of_equal_extremes():
    # min() keeps 0.0 before -0.0; NumPy's min returns -0.0 for [0.0, -0.0]
    import numpy as np

    from logdoc.views.overview import Series

    for values in ([0.0, -0.0, 1.0], [-0.0, 0.0, 1.0], [2.0, 0.0, -0.0, 0.0]):
        lists, arrays = Series("loss"), Series("loss")
        lists.extend(list(range(len(values))), values)
        arrays.extend_array(np.arange(len(values)), np.array(values))
        assert repr(arrays.finite_range) == repr(lists.finite_range)


def test_fractional_epochs_of_a_long_run_stay_apart_in_the_table():
    from logdoc.report.terminal import epoch_label

    assert [epoch_label(e) for e in (3.0, 1275.96, 1275.97, 0.0125)] == ["3", "1275.96", "1275.97", "0.0125"]
