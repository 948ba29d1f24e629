"""logdoc scan: many logs in parallel, one row each."""
import csv
import io
import shutil

from conftest import SAMPLES


def test_scan_rows_in_input_order_with_worst_and_diagnoses(cli, tmp_path):
    for name in ("warmup-zero-lr-broken.log", "warmup-zero-lr-fixed.log"):
        shutil.copy(SAMPLES / name, tmp_path / name)
    run = cli("scan", tmp_path, "--jobs", "2", "--format", "json")
    assert run.code == 1
    rows = run.json()["files"]
    assert [r["path"].rsplit("/", 1)[1] for r in rows] == ["warmup-zero-lr-broken.log", "warmup-zero-lr-fixed.log"]
    broken, fixed = rows
    assert broken["worst"] == "error" and broken["diagnoses"] == ["the warmup schedule starts at LR 0"]
    assert broken["format"] == "bracket-probes" and broken["epochs"] == 30
    assert fixed["errors"] == 0 and fixed["diagnoses"] == []


def test_scan_csv_and_fail_on_never(cli):
    run = cli("scan", SAMPLES / "warmup-zero-lr-fixed.log", "--format", "csv", "--fail-on", "never")
    assert run.code == 0
    (row,) = list(csv.DictReader(io.StringIO(run.out)))
    assert row["format"] == "bracket-probes" and row["diagnoses"] == ""


def test_scan_reports_unreadable_files_and_exits_2(cli, tmp_path):
    (tmp_path / "empty.log").write_bytes(b"")
    shutil.copy(SAMPLES / "warmup-zero-lr-fixed.log", tmp_path / "ok.log")
    run = cli("scan", tmp_path, "--format", "json", "-j", "1")
    assert run.code == 2
    rows = {r["path"].rsplit("/", 1)[1]: r for r in run.json()["files"]}
    assert "empty input" in rows["empty.log"]["error"] and rows["ok.log"]["error"] is None
    assert "empty input" in run.err


def test_scan_bad_jobs_is_a_usage_error(cli):
    run = cli("scan", SAMPLES, "--jobs", "0")
    assert run.code == 2 and run.err.startswith("logdoc: error:")
