"""compare, HTML report, table export and the Python API (issue 8)."""
import doctest
import re

import pandas as pd
import pytest

import logdoc
import logdoc.run
from conftest import ROOT, SAMPLES

BROKEN = SAMPLES / "warmup-zero-lr-broken.log"
FIXED = SAMPLES / "warmup-zero-lr-fixed.log"


def test_compare_broken_then_fixed_resolves_the_incident(cli):
    run = cli("compare", BROKEN, FIXED, "--format", "json")
    assert run.code == 0, run.err
    doc = run.json()
    assert {f["category"] for f in doc["resolved"]} == {"zero-lr", "frozen-params", "constant-val-loss", "nonfinite"}
    assert doc["new"] == [] and doc["persisting"] == []
    metrics = {m["metric"]: (m["before"], m["after"]) for m in doc["metrics"]}
    assert metrics["LR at first epoch (backbone)"] == (0.0, 0.0002)
    assert metrics["median parameter update"][0] == 0.0 and metrics["median parameter update"][1] > 0
    assert metrics["val loss (last)"][0] == "inf"          # strict JSON: non-finite spelled as text


def test_compare_fixed_then_broken_exits_1_on_new_errors(cli):
    run = cli("compare", FIXED, BROKEN)
    assert run.code == 1
    assert "new (4)" in run.out


def test_compare_reads_the_configuration_like_analyze(cli, tmp_path):
    config = tmp_path / "ci.toml"
    config.write_text('ignore = ["nonfinite"]\n')
    run = cli("compare", FIXED, BROKEN, "--format", "json", "--config", config, "--ignore", "frozen-params")
    assert run.code == 1
    assert {f["category"] for f in run.json()["new"]} == {"zero-lr", "constant-val-loss"}


def test_compare_markdown_escapes_log_text(cli, tmp_path):
    evil = tmp_path / "evil.log"
    evil.write_text("Epoch 001/003: train nan  val 1.0\n<script>alert(1)</script> | x\n")
    run = cli("compare", FIXED, evil, "--format", "markdown")
    assert "| metric | before | after |" in run.out and "<script>" not in run.out


def test_html_report_reads_the_rule_selection_like_analyze(cli, tmp_path):
    out = tmp_path / "r.html"
    run = cli("report", BROKEN, "-o", out, "--select", "zero-lr")
    assert run.code == 0, run.err
    page = out.read_text(encoding="utf-8")
    assert "zero-lr" in page and "frozen-params" not in page
    bad = cli("report", BROKEN, "-o", out, "--select", "no-such-rule")
    assert bad.code == 2 and "no-such-rule" in bad.err


def test_html_report_is_self_contained_and_escaped(cli, tmp_path):
    evil = tmp_path / "e<v>il.log"
    evil.write_text(BROKEN.read_text() + "<script>alert('x')</script>\n")
    out = tmp_path / "report.html"
    run = cli("report", BROKEN, evil, "-o", out)
    assert run.code == 0, run.err
    page = out.read_text()
    assert page.count("<script>alert") == 0 and "e&lt;v&gt;il.log" in page
    assert "Plotly.newPlot" in page                         # charts are drawn by inlined plotly.js
    assert not re.search(r"<script[^>]+src=['\"]https?:", page)   # no network needed to open it
    assert "Diagnosis: the warmup schedule starts at LR 0" in page
    assert page.count("Plotly.newPlot") >= 3                # loss, LR, parameter updates


@pytest.mark.parametrize("fmt", ["csv", "parquet", "json"])
def test_tables_round_trip_with_documented_columns(cli, tmp_path, fmt):
    run = cli("tables", BROKEN, "--format", fmt, "--out", tmp_path)
    assert run.code == 0, run.err
    read = {"csv": pd.read_csv, "parquet": pd.read_parquet, "json": lambda p: pd.read_json(p, lines=True)}[fmt]
    metrics = read(tmp_path / f"metrics.{fmt}")
    assert list(metrics.columns) == ["line", "epoch", "step", "name", "role", "group", "value", "phase", "pattern"]
    lr = read(tmp_path / f"lr.{fmt}")
    assert list(lr.columns) == ["line", "epoch", "step", "group", "lr"]
    assert lr.iloc[0].to_dict()["lr"] == 0.0 and lr.iloc[0]["group"] == "backbone"
    epochs = read(tmp_path / f"epochs.{fmt}")
    assert len(epochs) == 30 and "val_loss" in epochs.columns


def test_python_api_doctest():
    failures, tried = doctest.testmod(logdoc.run)
    assert tried >= 4 and failures == 0


def test_python_api_tables_come_from_the_same_records_as_the_rules():
    run = logdoc.parse(str(BROKEN))
    zero = next(f for f in run.findings if f.rule == "zero-lr")
    lr = run.tables["lr"]
    assert set(lr[lr.line == zero.line]["lr"]) == {0.0}
    assert [d.id for d in logdoc.diagnose(run)] == ["warmup-starts-at-zero"]


def test_html_charts_read_the_table_arrays_as_its_rows(monkeypatch):
    # the charts are drawn from the table's arrays (no tuple per metric); the traces are those
    # the rows give: the same names in order, points, thinning and x axis
    from collections import defaultdict

    from logdoc import api
    from logdoc.report import html as report

    monkeypatch.setattr(report, "MAX_POINTS", 50)        # long series are thinned

    logs = [BROKEN, *sorted((ROOT / "tests" / "corpus").glob("*.log"))[::3]]
    results = [api.analyze(str(p), keep_tables=True) for p in logs]

    def reference(roles):
        traces = []
        for result in results:
            rows = result.tables.rows
            steps, epochs = sum(r[2] is not None for r in rows), sum(r[1] is not None for r in rows)
            axis = ("line" if not rows else "step" if steps >= len(rows) / 2
                    else "epoch" if epochs >= len(rows) / 2 else "line")
            series = defaultdict(list)
            for r in rows:
                x = {"line": r[0], "epoch": r[1], "step": r[2]}[axis]
                if r[4] in roles and x is not None and r[6] == r[6] and abs(r[6]) != float("inf"):
                    series[r[3]].append((x, r[6], r[0]))
            for name, points in series.items():
                if len(points) > report.MAX_POINTS:
                    points = points[:: len(points) // report.MAX_POINTS + 1]
                traces.append((f"{result.path}: {name}", [p[0] for p in points], [p[1] for p in points],
                               [p[2] for p in points]))
        return traces

    drawn = 0
    for title, roles in report.PANELS:
        fig = report._figure(title, roles, results)
        got = [] if fig is None else [(t.name, list(t.x), list(t.y), list(t.customdata)) for t in fig.data]
        assert got == [(report._esc(n), x, y, c) for n, x, y, c in reference(roles)], title
        drawn += len(got)
    assert drawn >= 5


def _key_metrics_from_rows(before, after):
    """compare.key_metrics as it read a tuple per metric (the oracle for the array version)."""
    import statistics
    from collections import Counter

    def finite(values):
        return [v for v in values if v == v and abs(v) != float("inf")]

    def series(result, role):
        rows = [r for r in result.tables.rows if r[4] == role]
        if not rows:
            return []
        name = Counter(r[3] for r in rows).most_common(1)[0][0]
        return [(r[1], r[6]) for r in rows if r[3] == name]

    def reach(s, target):
        return next((e for e, v in s if v == v and v <= target), None)

    def lr_first(result):
        first, epoch0 = {}, None
        for line, epoch, step, name, role, group, value, phase, pattern in result.tables.rows:
            if role == "lr":
                if epoch0 is None:
                    epoch0 = epoch
                if epoch == epoch0:
                    first.setdefault(group or name, value)
        return first

    def median_update(result):
        rows = [r for r in result.tables.rows if r[4] == "param_delta"]
        medians = finite([r[6] for r in rows if "median" in r[3]] or [r[6] for r in rows])
        return statistics.median(medians) if medians else None

    out = []
    for role, label in (("loss", "train loss"), ("val_loss", "val loss")):
        bs, as_ = series(before, role), series(after, role)
        if not bs and not as_:
            continue
        for what, pick in (("first", lambda s: s[0][1] if s else None), ("last", lambda s: s[-1][1] if s else None),
                           ("best", lambda s: min(finite([v for _, v in s]), default=None))):
            out.append((f"{label} ({what})", pick(bs), pick(as_)))
        target = min(finite([v for _, v in bs]), default=None)
        if target is not None:
            out.append((f"epoch reaching before's best {label} ({target:g})", reach(bs, target), reach(as_, target)))
    b_lr, a_lr = lr_first(before), lr_first(after)
    out += [(f"LR at first epoch ({g})", b_lr.get(g), a_lr.get(g)) for g in dict.fromkeys([*b_lr, *a_lr])]
    b_up, a_up = median_update(before), median_update(after)
    if b_up is not None or a_up is not None:
        out.append(("median parameter update", b_up, a_up))
    return out


def test_key_metrics_read_the_table_arrays_as_its_rows():
    from logdoc import api
    from logdoc.diagnosis.compare import key_metrics

    logs = [*sorted(SAMPLES.glob("*.log")), *sorted((ROOT / "tests" / "corpus").glob("*.log"))]
    results = [api.analyze(str(p), keep_tables=True) for p in logs]
    compared = 0
    for before, after in zip(results, results[1:] + results[:1]):
        want = _key_metrics_from_rows(before, after)
        assert repr(key_metrics(before, after)) == repr(want), (before.path, after.path)
        compared += len(want)
    assert compared > 50


def test_parquet_without_pyarrow_is_a_one_line_error(cli, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "pyarrow", None)       # import pyarrow -> ImportError
    run = cli("tables", BROKEN, "--format", "parquet", "--out", tmp_path / "t")
    assert run.code == 2 and run.err.strip().count("\n") == 0 and "needs pyarrow" in run.err
