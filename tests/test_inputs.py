"""Many inputs (files, globs, directories, stdin), --output, side reports and the exit policy."""
from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import sys
import xml.etree.ElementTree as ET

import pytest

from conftest import SAMPLES
from logdoc.source.inputs import expand_paths
from logdoc.source.reading import InputError

BROKEN = SAMPLES / "warmup-zero-lr-broken.log"
FIXED = SAMPLES / "warmup-zero-lr-fixed.log"


@pytest.fixture
def artifacts(tmp_path):
    """A CI artifact folder: logs at two depths, a gzipped one, and files that are not logs."""
    (tmp_path / "runs" / "a").mkdir(parents=True)
    shutil.copy(BROKEN, tmp_path / "runs" / "a" / "train.log")
    shutil.copy(FIXED, tmp_path / "runs" / "fixed.out")
    (tmp_path / "runs" / "b.txt.gz").write_bytes(gzip.compress(FIXED.read_bytes()))
    (tmp_path / "runs" / "model.pt").write_bytes(b"\x00\x01")
    (tmp_path / "runs" / "config.yaml").write_text("lr: 0.1\n")
    (tmp_path / "runs" / ".hidden").mkdir()
    (tmp_path / "runs" / ".hidden" / "x.log").write_text("ignored\n")
    return tmp_path / "runs"


def test_a_directory_is_searched_recursively_for_logs(artifacts):
    found = expand_paths([str(artifacts)])
    names = [p.replace(str(artifacts), "") for p in found]
    assert names == ["/b.txt.gz", "/fixed.out", "/a/train.log"]


def test_globs_and_duplicates(artifacts):
    found = expand_paths([str(artifacts / "**" / "*.log"), str(artifacts / "a" / "train.log"),
                          str(artifacts / "*.out")])
    assert [p.rsplit("/", 1)[-1] for p in found] == ["train.log", "fixed.out"]


@pytest.fixture
def looped(artifacts):
    """The artifact folder with symlink loops: a/back -> .. (the folder) and self -> ."""
    (artifacts / "a" / "back").symlink_to("..", target_is_directory=True)
    (artifacts / "self").symlink_to(".", target_is_directory=True)
    return artifacts


def test_globs_and_walks_never_go_round_a_symlink_loop(looped):
    # Python's glob follows a/back/a/back/... until the OS gives up (ELOOP, 40 deep); with
    # two loops that is 2**40 paths, a hung CI job. Each real directory is visited once.
    assert expand_paths([str(looped / "**" / "*.log")]) == [str(looped / "a" / "train.log")]
    found = expand_paths([str(looped / "**" / "*")])       # folders too, each walked: every log once
    assert sorted(os.path.realpath(p) for p in found) == sorted(
        os.path.realpath(looped / n) for n in ("a/train.log", "b.txt.gz", "config.yaml", "fixed.out",
                                               "model.pt"))
    names = [p.replace(str(looped), "") for p in expand_paths([str(looped)])]
    assert names == ["/b.txt.gz", "/fixed.out", "/a/train.log"]


def test_analyze_and_scan_end_on_a_symlink_loop(cli, looped):
    run = cli("analyze", looped / "**" / "*.log", "-f", "json")
    assert run.code == 1 and [f["path"] for f in run.json()["files"]] == [str(looped / "a" / "train.log")]
    run = cli("scan", looped, "-f", "json")
    assert len(run.json()["files"]) == 3


@pytest.mark.parametrize("pattern", ["**/*.log", "**/*", "**", "**/", "*/*.log", "a/**/*.log",
                                     "**/a/*", "**/.hidden/*.log", "**/*.gz", "*/**/*.log"])
def test_loop_safe_glob_matches_what_glob_matches(artifacts, monkeypatch, pattern):
    import glob

    from logdoc.source.inputs import _glob

    (artifacts / "a" / "deeper" / "x").mkdir(parents=True)
    (artifacts / "a" / "deeper" / "x" / "y.log").write_text("y\n")
    monkeypatch.chdir(artifacts)
    assert sorted(_glob(pattern)) == sorted(glob.glob(pattern, recursive=True))
    absolute = str(artifacts / pattern)
    assert sorted(_glob(absolute)) == sorted(glob.glob(absolute, recursive=True))


@pytest.mark.parametrize("args, message", [
    (["missing.log"], "no such file or directory"),
    (["nothing-*.log"], "no file matches"),
])
def test_paths_that_name_no_log_are_errors(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match=message):
        expand_paths(args)


def test_many_files_are_reported_per_file_and_in_total(cli, artifacts):
    run = cli("analyze", artifacts, "-f", "json")
    doc = run.json()
    assert run.code == 1   # one of the three runs is broken
    assert [f["path"].rsplit("/", 1)[-1] for f in doc["files"]] == ["b.txt.gz", "fixed.out", "train.log"]
    assert doc["totals"]["files"] == 3
    assert doc["totals"]["errors"] == sum(1 for f in doc["files"] for x in f["findings"] if x["severity"] == "error")
    assert [bool(f["findings"]) for f in doc["files"]] == [False, False, True]


def test_terminal_report_ends_with_a_total_for_many_logs(cli, artifacts):
    run = cli("analyze", artifacts)
    assert "total: 3 logs, 1 with problems" in run.out


def test_a_missing_path_among_others_is_one_line_exit_2(cli):
    run = cli("analyze", BROKEN, "no-such.log", "-f", "json")
    assert run.code == 2 and run.out == ""
    assert run.err.count("\n") == 1 and "no-such.log: no such file or directory" in run.err


def test_stdin_is_still_dash(cli, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(BROKEN.read_bytes())))
    doc = cli("analyze", "-", "-f", "json").json()
    assert doc["files"][0]["path"] == "<stdin>" and doc["files"][0]["findings"]


def test_output_file_and_side_reports_from_one_run(cli, tmp_path):
    out = tmp_path / "report.json"
    run = cli("analyze", BROKEN, "-o", out, "--junit-xml", tmp_path / "junit.xml",
              "--sarif", tmp_path / "r.sarif", "--markdown", tmp_path / "summary.md",
              "--gitlab", tmp_path / "cq.json", "--json", tmp_path / "side.json")
    assert run.code == 1 and run.out == ""   # the terminal report went to the file
    text = out.read_text()
    assert "diagnosis" in text and "\x1b" not in text
    ET.parse(tmp_path / "junit.xml")
    assert json.loads((tmp_path / "r.sarif").read_text())["version"] == "2.1.0"
    assert (tmp_path / "summary.md").read_text().startswith("## logdoc")
    assert not (tmp_path / "cq.json").read_bytes().startswith(b"\xef\xbb\xbf")   # no BOM for GitLab
    assert json.loads((tmp_path / "cq.json").read_text())
    assert json.loads((tmp_path / "side.json").read_text())["schema"] == 1


def test_machine_format_to_output_file(cli, tmp_path):
    out = tmp_path / "r.sarif"
    run = cli("analyze", BROKEN, "-f", "sarif", "--output", out)
    assert run.out == "" and json.loads(out.read_text())["runs"][0]["results"]


def test_unwritable_report_is_exit_2(cli, tmp_path):
    run = cli("analyze", BROKEN, "--sarif", tmp_path / "no" / "such" / "dir.sarif")
    assert run.code == 2 and run.err.count("\n") == 1 and "cannot write report" in run.err


def test_github_summary_appends_when_the_variable_is_set(cli, tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    cli("analyze", BROKEN, "-f", "json", "--github-summary")
    text = summary.read_text()
    assert text.startswith("earlier step\n") and "## logdoc" in text
    monkeypatch.delenv("GITHUB_STEP_SUMMARY")
    assert cli("analyze", BROKEN, "-f", "json", "--github-summary").code == 1   # no variable: no-op


@pytest.mark.parametrize("args, code", [
    ([], 1),
    (["--fail-on", "never"], 0),
    (["--exit-zero"], 0),
    (["--exit-zero", "--fail-on", "info"], 0),
])
def test_exit_policy(cli, args, code):
    assert cli("analyze", BROKEN, "-f", "json", *args).code == code


def test_exit_zero_keeps_2_for_errors(cli):
    assert cli("analyze", "no-such.log", "--exit-zero").code == 2


def test_fail_on_info_counts_informational_findings(cli, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("nothing a training script prints\n")
    assert cli("analyze", notes, "-f", "json").code == 5          # nothing recognised
    assert cli("analyze", notes, "-f", "json", "--fail-on", "info").code == 1
    assert cli("analyze", notes, "-f", "json", "--fail-on", "warning").code == 5
    assert cli("analyze", notes, "-f", "json", "--fail-on", "warning", "--allow-unrecognized").code == 0
