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


def test_scan_reads_the_configuration_like_analyze(cli, tmp_path):
    shutil.copy(SAMPLES / "warmup-zero-lr-broken.log", tmp_path / "broken.log")
    config = tmp_path / "ci.toml"
    config.write_text('ignore = ["zero-lr", "frozen-params", "constant-val-loss", "nonfinite"]\n')
    run = cli("scan", tmp_path / "broken.log", "--format", "json", "--config", config)
    (row,) = run.json()["files"]
    assert row["errors"] == 0 and row["diagnoses"] == []          # the config's ignores hold
    shutil.copy(SAMPLES / "warmup-zero-lr-broken.log", tmp_path / "broken2.log")
    run = cli("scan", tmp_path / "broken.log", tmp_path / "broken2.log", "--format", "json",
              "--select", "zero-lr", "--config", config, "-j", "2")     # settings cross to workers
    assert [r["errors"] for r in run.json()["files"]] == [0, 0]       # --select keeps the ignores
    run = cli("scan", tmp_path / "broken.log", tmp_path / "broken2.log", "--format", "json",
              "--select", "zero-lr", "-j", "2")
    assert [r["errors"] for r in run.json()["files"]] == [1, 1] and run.code == 1


def test_scan_bad_configuration_is_exit_2_before_any_work(cli, tmp_path):
    run = cli("scan", SAMPLES, "--select", "no-such-rule")
    assert run.code == 2 and run.err.count("\n") == 1 and "no-such-rule" in run.err
