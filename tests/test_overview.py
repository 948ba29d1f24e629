"""The terminal report's overview stays bounded on any length of log and draws the same
picture as the full tables on short ones."""
from __future__ import annotations

import math

from logdoc.batch import Batch
from logdoc.model import Metric, Record
from logdoc.overview import HEAD, MAX_POINTS, TAIL, Overview
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

    from logdoc.reading import iter_blocks
    from logdoc.session import Session
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
