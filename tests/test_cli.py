import gzip
import sys

import pytest

from conftest import SAMPLES
from logdoc.core.model import CATEGORIES

BROKEN = SAMPLES / "warmup-zero-lr-broken.log"


def test_terminal_report_shows_diagnosis_findings_and_lines(cli):
    run = cli("analyze", BROKEN)
    assert run.code == 1
    assert "diagnosis: the warmup schedule starts at LR 0" in run.out
    assert f"{BROKEN}:5: error [zero-lr]" in run.out
    assert "bracket-probes" in run.out


def test_json_contract(cli):
    run = cli("analyze", BROKEN, "--format", "json")
    doc = run.json()
    assert doc["schema"] == 1 and run.err == ""
    (f,) = doc["files"]
    assert set(f) >= {"path", "lines", "records", "findings", "diagnoses", "formats"}
    for finding in f["findings"]:
        assert set(finding) >= {"rule", "category", "severity", "message", "path", "line", "evidence"}
        assert finding["category"] in CATEGORIES
        assert finding["severity"] in ("error", "warning", "info")
        assert all(set(e) == {"line", "text"} for e in finding["evidence"])
    assert {x["category"] for x in f["findings"]} >= {"zero-lr", "frozen-params", "constant-val-loss", "nonfinite"}
    # diagnoses must not look like findings to consumers that count categories
    assert all("category" not in d for d in f["diagnoses"])


@pytest.mark.parametrize("fail_on, code", [("error", 1), ("warning", 1), ("info", 1), ("never", 0)])
def test_fail_on(cli, fail_on, code):
    assert cli("analyze", BROKEN, "-f", "json", "--fail-on", fail_on).code == code


def test_fail_on_info_counts_the_unrecognised_notice(cli, tmp_path):
    log = tmp_path / "x.log"
    log.write_text("hello\nworld\n")
    assert cli("analyze", log, "-f", "json").code == 5          # nothing recognised (README, Exit codes)
    assert cli("analyze", log, "-f", "json", "--fail-on", "info").code == 1   # a finding rules over 5


def test_unrecognised_log_says_so_plainly(cli, tmp_path):
    log = tmp_path / "x.log"
    log.write_text("compiling...\ndone\n")
    run = cli("analyze", log)
    assert run.code == 5 and "nothing recognised" in run.out
    doc = cli("analyze", log, "-f", "json").json()["files"][0]
    assert doc["records"] == 0
    assert [f["category"] for f in doc["findings"]] == ["unrecognized"]


def test_stdin_and_gzip(cli, monkeypatch, tmp_path):
    import io

    data = gzip.compress(BROKEN.read_bytes())
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(io.BytesIO(data))))
    run = cli("analyze", "-", "-f", "json")
    assert run.code == 1
    assert run.json()["files"][0]["path"] == "<stdin>"
    gz = tmp_path / "run.log.gz"
    gz.write_bytes(data)
    assert cli("analyze", gz, "-f", "json").json()["files"][0]["lines"] == 186


def _corrupt_gzip() -> bytes:
    data = bytearray(gzip.compress(BROKEN.read_bytes()))
    data[-8] ^= 0xFF                  # the CRC: the text is whole, its check fails
    return bytes(data)


@pytest.mark.parametrize("make, message", [
    (lambda p: None, "no such file"),
    (lambda p: p.mkdir(), "is a directory"),
    (lambda p: p.write_bytes(b""), "empty input"),
    (lambda p: p.write_bytes(b"\x7fELF\x02\x01\x00\x00"), "binary file"),
    (lambda p: p.write_bytes(_corrupt_gzip()), "corrupt gzip data"),
    (lambda p: p.write_bytes(gzip.compress(b"x\n" * 5000)[:12]), "truncated gzip data: cut at byte 12, before any text"),
])
def test_bad_input_is_one_line_exit_2(cli, tmp_path, make, message):
    path = tmp_path / "input.log"
    make(path)
    run = cli("analyze", path)
    assert run.code == 2 and run.out == ""
    assert run.err.count("\n") == 1 and message in run.err and "Traceback" not in run.err


@pytest.mark.parametrize("args", [
    ["analyze", str(BROKEN), "--format", "xml"],
    ["analyze"],
    ["analyze", str(BROKEN), "--select", "no-such-rule"],
    ["explain", "no-such-rule"],
    ["frobnicate"],
])
def test_usage_errors_are_one_line_exit_2(cli, args):
    run = cli(*args)
    assert run.code == 2, run.err
    assert run.err.count("\n") == 1 and run.err.startswith("logdoc: error:")


def test_select_and_ignore(cli):
    only = cli("analyze", BROKEN, "-f", "json", "--select", "nonfinite").json()["files"][0]["findings"]
    assert {f["rule"] for f in only} == {"nonfinite"}
    rest = cli("analyze", BROKEN, "-f", "json", "--ignore", "nonfinite").json()["files"][0]["findings"]
    assert "nonfinite" not in {f["rule"] for f in rest}


def test_bad_user_pattern_file_is_exit_2_naming_it(cli, tmp_path):
    bad = tmp_path / "mine.toml"
    bad.write_text('schema = "logdoc.pattern/1"\n[family]\nid = "mine"\n[[rule]]\nid = "x"\nregex = "a"\n')
    run = cli("analyze", BROKEN, "--patterns", bad)
    assert run.code == 2 and str(bad) in run.err and "sample" in run.err


def test_rules_and_explain(cli):
    run = cli("rules")
    assert run.code == 0 and "zero-lr" in run.out and "frozen-params" in run.out
    run = cli("explain", "zero-lr")
    assert run.code == 0 and "## Fix" in run.out and "max(0.01, step / warmup_steps)" in run.out


def test_patterns_list_and_test(cli, tmp_path):
    assert "bracket-probes" in cli("patterns", "list").out
    assert cli("patterns", "test").code == 0
    bad = tmp_path / "b.toml"
    bad.write_text('schema = "logdoc.pattern/1"\n[family]\nid = "b"\n[[rule]]\nid = "x"\nregex = "loss=%{FLOAT:l}"\n'
                   'fields = { l = "loss" }\n[[rule.sample]]\nline = "loss=1"\nexpect = { l = 2 }\n')
    run = cli("patterns", "test", bad)
    assert run.code == 1 and "FAIL" in run.out and "l expected 2" in run.out


def test_log_text_is_never_rich_markup(cli, tmp_path):
    log = tmp_path / "m.log"
    log.write_text("[bold red]evil[/] \x1b[31m\n" + "Epoch 001/003: train nan  val [link=http://x]1[/link]\n")
    run = cli("analyze", log)
    assert "\x1b" not in run.out
    assert "[bold red]" not in run.out or "[bold red]evil[/]" in run.out   # shown literally if at all


def test_version(cli):
    assert cli("--version").out.startswith("logdoc ")


def test_module_entry_point():
    import subprocess

    proc = subprocess.run([sys.executable, "-m", "logdoc", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("logdoc ")
