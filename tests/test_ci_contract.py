"""The CI contract (issue 17): nothing unread passes green, no log text runs as a runner
command, a closed stdout is not a finding, stdin has a name, every report can go to a file."""
from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
import xmlschema

from conftest import ROOT, SAMPLES
from logdoc.cli import main
from logdoc.report import formats

BROKEN = SAMPLES / "warmup-zero-lr-broken.log"
FIXED = SAMPLES / "warmup-zero-lr-fixed.log"
SCHEMAS = ROOT / "tests" / "schemas"
PIP_LOG = "Collecting numpy\n  Downloading numpy-1.26.4.whl (18.2 MB)\nSuccessfully installed numpy-1.26.4\n"


@pytest.fixture
def pip_log(tmp_path: Path) -> Path:
    path = tmp_path / "pip.log"
    path.write_text(PIP_LOG)
    return path


def feed_stdin(monkeypatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(io.BytesIO(data))))


# ------------------------------------------------------------------ 1. nothing recognised is not a pass

def test_nothing_recognised_exits_5_findings_rule_and_the_flag_restores_0(cli, pip_log):
    assert cli("analyze", pip_log).code == 5
    assert cli("analyze", pip_log, "-f", "json").code == 5
    assert cli("analyze", pip_log, "--allow-unrecognized").code == 0
    assert cli("analyze", pip_log, "--exit-zero").code == 5          # --exit-zero is about findings
    assert cli("analyze", pip_log, "--exit-zero", "--allow-unrecognized").code == 0
    assert cli("analyze", pip_log, "--fail-on", "info").code == 1    # its info finding is a finding
    assert cli("analyze", FIXED, pip_log).code == 5                  # one input nothing looked at
    assert cli("analyze", BROKEN, pip_log).code == 1                 # findings rule over 5
    assert cli("analyze", BROKEN, pip_log, "--exit-zero").code == 5
    assert cli("analyze", FIXED).code == 0


def test_scan_and_compare_exit_5_on_an_unrecognised_log(cli, pip_log):
    assert cli("scan", pip_log, "-j", "1").code == 5
    assert cli("scan", pip_log, "-j", "1", "--allow-unrecognized").code == 0
    assert cli("compare", BROKEN, pip_log).code == 5                  # "everything resolved" is not a pass
    assert cli("compare", BROKEN, pip_log, "--allow-unrecognized").code == 0


def test_watch_exits_5_when_nothing_is_recognised():
    env = {**os.environ, "NO_COLOR": "1"}
    for extra, code in (((), 5), (("--allow-unrecognized",), 0)):
        proc = subprocess.run([sys.executable, "-m", "logdoc", "watch", "--format", "plain", *extra],
                              input=PIP_LOG.encode(), capture_output=True, env=env, cwd=ROOT, timeout=60)
        assert proc.returncode == code, proc.stderr


def test_junit_skips_every_check_of_an_unrecognised_log_with_the_reason(cli, pip_log):
    run = cli("analyze", pip_log, "-f", "junit")
    xmlschema.XMLSchema(str(SCHEMAS / "junit-10.xsd")).validate(run.out)
    suite = ET.fromstring(run.out).find("testsuite")
    cases = suite.findall("testcase")
    assert len(cases) > 20
    for case in cases:
        skipped = case.find("skipped")
        assert skipped is not None and "nothing recognised" in skipped.get("message"), case.get("name")
    assert suite.get("skipped") == suite.get("tests") and suite.get("failures") == "0"
    # a recognised log in the same report is judged as before
    both = ET.fromstring(cli("analyze", FIXED, pip_log, "-f", "junit").out).findall("testsuite")
    assert both[0].get("skipped") == "0" and both[1].get("skipped") == both[1].get("tests")


def test_sarif_gitlab_and_github_carry_a_notice_for_an_unrecognised_log(cli, pip_log):
    schema = json.loads((SCHEMAS / "sarif-schema-2.1.0.json").read_text())
    sarif = cli("analyze", FIXED, pip_log, "-f", "sarif").json()
    jsonschema.validate(sarif, schema)
    (invocation,) = sarif["runs"][0]["invocations"]
    (notice,) = invocation["toolExecutionNotifications"]
    assert notice["level"] == "warning" and notice["descriptor"]["id"] == "unrecognized-log"
    assert "nothing recognised" in notice["message"]["text"]
    assert notice["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith("pip.log")
    gitlab = cli("analyze", pip_log, "-f", "gitlab").json()
    assert [i["check_name"] for i in gitlab] == ["unrecognized-log"]
    lines = cli("analyze", BROKEN, pip_log, "-f", "github").out.splitlines()
    assert lines[0].startswith("::notice ") and "pip.log" in lines[0] and "no training lines recognised" in lines[0]


# ------------------------------------------------------------------ 2. SARIF category

def test_sarif_leaves_the_category_to_the_upload_action(cli):
    run = cli("analyze", FIXED, "-f", "sarif").json()["runs"][0]
    assert "automationDetails" not in run     # upload-sarif sets `category` only when it is missing
    readme = (ROOT / "README.md").read_text()
    assert "matrix" in readme and "category: logdoc-${{ matrix." in readme


# ------------------------------------------------------------------ 3. no runner command in any output

# The runner's command syntax (actions/runner src/Runner.Common/ActionCommand.cs):
# TryParseV2: after TrimStart the line starts with "::" and holds another "::" (`::cmd props::data`);
# TryParse: "##[" anywhere in the line, then "]" (`##[cmd props]data`). Azure's agent: "##vso[".
RUNNER_V2 = re.compile(r"^\s*::([^:\s]*)[^\n]*?::")
RUNNER_V1 = re.compile(r"##\[|##vso\[", re.IGNORECASE)
OWN_COMMANDS = {"error", "warning", "notice"}

HOSTILE = ["##[add-mask]hunter2", "##[stop-commands]tok", "##[error]forged", "::stop-commands::tok",
           "##vso[task.setvariable variable=x]1", "::error::pwned"]


def hostile_log(tmp_path: Path) -> Path:
    """Param group names go into messages, metric names and evidence; the lines are quoted."""
    path = tmp_path / "hostile.log"
    pad = "x" * 150          # long lines: a wrap must not bring "::" to the start of a line either
    path.write_text(
        f"[LR] epoch=1 groups=['{HOSTILE[0]}', '{HOSTILE[3]}'] lr=[0.0, 0.0] {pad} ::add-mask::s {HOSTILE[2]}\n"
        "[STEP] Δparam L2: median=0.000e+00  max=0.000e+00\n"
        f"Epoch 001/030: train 0.217  val 1.921642 {HOSTILE[4]}\n"
        f"[LR] epoch=2 groups=['{HOSTILE[1]}', '{HOSTILE[5]}'] lr=[0.0, 0.0] {HOSTILE[4]}\n"
        "[STEP] Δparam L2: median=0.000e+00  max=0.000e+00\n"
        "Epoch 002/030: train 0.217  val nan\n")
    return path


def runner_commands(text: str) -> list[tuple[str, str]]:
    """Every command GitHub's (or Azure's) runner would act on in this output."""
    found = []
    for line in text.splitlines():
        m = RUNNER_V2.match(line)
        if m:
            found.append(("v2", m.group(1)))
        if RUNNER_V1.search(line):
            found.append(("v1", line))
    return found


def assert_no_command(label: str, text: str, *, own: bool = False) -> None:
    for kind, what in runner_commands(text):
        assert own and kind == "v2" and what in OWN_COMMANDS, f"{label}: the runner would run {kind} {what!r}"


@pytest.mark.parametrize("fmt", formats.FORMATS)
def test_no_log_text_can_run_as_a_runner_command_in_any_analyze_format(cli, tmp_path, fmt):
    run = cli("analyze", hostile_log(tmp_path), "-f", fmt)
    assert run.code == 1 and run.out
    assert_no_command(fmt, run.out, own=fmt == "github")
    if fmt == "github":
        assert "# #[add-mask]hunter2" in run.out                     # broken visibly, still there
    if fmt in ("json", "sarif", "gitlab"):
        text = json.dumps(json.loads(run.out), ensure_ascii=False)  # lossless: decoded text unchanged
        assert HOSTILE[0] in text and (fmt != "json" or all(h in text for h in HOSTILE))
    if fmt == "json":
        evidence = {e["text"] for f in json.loads(run.out)["files"][0]["findings"] for e in f["evidence"]}
        assert hostile_log(tmp_path).read_text().splitlines()[0] in evidence
    if fmt == "junit":
        body = "".join(f.text or "" for f in ET.fromstring(run.out).iter("failure"))
        assert HOSTILE[0] in body and HOSTILE[3] in body               # &#35; and &#58; decode back


def test_no_log_text_can_run_as_a_runner_command_in_other_commands(cli, tmp_path):
    log = hostile_log(tmp_path)
    outputs = {
        "compare": cli("compare", FIXED, log).out,
        "compare json": cli("compare", FIXED, log, "-f", "json").out,
        "compare markdown": cli("compare", FIXED, log, "-f", "markdown").out,
        "scan": cli("scan", log, "-j", "1").out,
        "scan csv": cli("scan", log, "-j", "1", "-f", "csv").out,
        "coverage": cli("coverage", log).out,
        "coverage json": cli("coverage", log, "-f", "json").out,
        "metrics": cli("metrics", log).out,
        "metrics json": cli("metrics", log, "-f", "json").out,
        "report": cli("report", log, "-o", "-").out,
        "junit file": (cli("analyze", log, "--junit-xml", tmp_path / "j.xml"), (tmp_path / "j.xml").read_text())[1],
        "terminal file": (cli("analyze", log, "-o", tmp_path / "t.txt"), (tmp_path / "t.txt").read_text())[1],
    }
    for label, text in outputs.items():
        assert text, label
        assert_no_command(label, text)
    assert json.loads(outputs["coverage json"]) and json.loads(outputs["metrics json"])


def test_inert_escapes_are_lossless_in_machine_formats_and_visible_in_human_ones():
    from logdoc.report.common import InertStream, inert_json, inert_text, inert_xml

    for text in ["##[error]x", "a ##[add-mask]b", "###[x]", "##VSO[task]", "  ::error::x", "a::b\n::c", ":::"]:
        encoded = inert_json(json.dumps({"k": text}))
        assert json.loads(encoded) == {"k": text} and "##" not in encoded and "::" not in encoded
        xml = inert_xml(ET.tostring(ET.Element("t", a=text), encoding="unicode"))
        assert ET.fromstring(xml).get("a") == text and "##" not in xml and "::" not in xml
        assert not runner_commands(inert_text(text))
    assert inert_text("##[error]x") == "# #[error]x" and inert_text("  ::error::x") == "  : :error::x"
    assert inert_text("c10::Error in std::bad_alloc") == "c10::Error in std::bad_alloc"   # mid-line: harmless
    out = io.StringIO()
    stream = InertStream(out)
    for chunk in ("│ text\n", "::error::a", "::b\n", "x ::c\n", "  ::d::e\n"):   # line starts across writes
        stream.write(chunk)
    assert not runner_commands(out.getvalue()) and "::error::a::b" not in out.getvalue()


# ------------------------------------------------------------------ 4. exit codes and a closed stdout

def closed_stdout_run(monkeypatch, *args) -> int:
    """main() with stdout a pipe whose reader has gone (what `| head -1` leaves behind)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    stdout = io.TextIOWrapper(os.fdopen(write_end, "wb"), encoding="utf-8")
    monkeypatch.setattr(sys, "stdout", stdout)
    monkeypatch.setenv("NO_COLOR", "1")
    try:
        return main([str(a) for a in args])
    except SystemExit as exc:        # rich's reaction to a broken pipe, before the fix
        return exc.code
    finally:
        monkeypatch.undo()
        stdout.close()


@pytest.mark.parametrize("args, code", [
    (["analyze", FIXED], 0),
    (["analyze", FIXED, "-f", "json"], 0),
    (["analyze", BROKEN, "--exit-zero"], 0),
    (["analyze", BROKEN, "-f", "sarif"], 1),
    (["compare", BROKEN, FIXED], 0),
    (["scan", FIXED, "-j", "1"], 0),
    (["metrics", FIXED], 0),
])
def test_a_closed_stdout_is_not_a_finding(monkeypatch, args, code):
    assert closed_stdout_run(monkeypatch, *args) == code


def test_head_closing_the_pipe_leaves_the_exit_status_of_the_analysis():
    proc = subprocess.Popen([sys.executable, "-m", "logdoc", "analyze", str(FIXED)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=ROOT, env={**os.environ, "NO_COLOR": "1"})
    try:
        proc.stdout.readline()
        proc.stdout.close()                                  # `| head -1`
        assert proc.wait(timeout=60) == 0
        assert b"Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()


def test_exit_zero_means_0_for_findings_in_every_command(cli):
    assert cli("compare", FIXED, BROKEN).code == 1
    assert cli("compare", FIXED, BROKEN, "--exit-zero").code == 0
    assert cli("scan", BROKEN, "-j", "1").code == 1
    assert cli("scan", BROKEN, "-j", "1", "--exit-zero").code == 0
    assert cli("analyze", BROKEN, "--exit-zero").code == 0
    assert cli("analyze", BROKEN, "--select", "no-such-rule", "--exit-zero").code == 2   # errors stay 2
    for command in ("watch", "run"):
        assert "--exit-zero" in cli(command, "--help").out


# ------------------------------------------------------------------ 5. --stdin-filename

@pytest.mark.parametrize("fmt", formats.FORMATS)
def test_stdin_filename_names_stdin_in_every_analyze_format(cli, monkeypatch, fmt):
    feed_stdin(monkeypatch, BROKEN.read_bytes())
    run = cli("analyze", "-", "--stdin-filename", "runs/a.log", "-f", fmt)
    assert run.code == 1
    assert "runs/a.log" in run.out and "<stdin>" not in run.out and "&lt;stdin&gt;" not in run.out


def test_stdin_filename_on_report_tables_coverage_and_metrics(cli, monkeypatch, tmp_path):
    def stdin_run(*args):
        feed_stdin(monkeypatch, BROKEN.read_bytes())
        return cli(*args, "-", "--stdin-filename", "runs/a.log")

    cov = stdin_run("coverage", "-f", "json")
    assert cov.code == 0 and json.loads(cov.out)["path"] == "runs/a.log"
    assert stdin_run("coverage").out.startswith("runs/a.log: ")
    html = stdin_run("report", "-o", "-")
    assert html.code == 0 and "runs/a.log" in html.out and "&lt;stdin&gt;" not in html.out
    tables = stdin_run("tables", "--out", tmp_path / "t")
    assert tables.code == 0 and "from runs/a.log" in tables.out
    assert stdin_run("metrics").code == 0
    run = cli("analyze", BROKEN, "--stdin-filename", "x.log")      # it names stdin: - is needed
    assert run.code == 2 and run.err.count("\n") == 1 and "--stdin-filename" in run.err


# ------------------------------------------------------------------ 8. -o on every command that writes a report

def test_compare_and_scan_write_their_report_to_output(cli, tmp_path):
    for args, name in ((["compare", BROKEN, FIXED, "-f", "json"], "c.json"),
                       (["compare", BROKEN, FIXED], "c.txt"),
                       (["scan", BROKEN, "-j", "1", "-f", "csv"], "s.csv"),
                       (["scan", BROKEN, "-j", "1"], "s.txt")):
        target = tmp_path / name
        run = cli(*args, "-o", target)
        assert run.out == "" and target.read_text(), args
    assert json.loads((tmp_path / "c.json").read_text())["resolved"]
    assert (tmp_path / "s.csv").read_text().startswith("path,format")
    run = cli("scan", BROKEN, "-j", "1", "-o", tmp_path / "missing" / "s.txt")
    assert run.code == 2 and run.err.count("\n") == 1 and "cannot write" in run.err


def test_report_says_where_it_wrote_and_can_write_to_stdout(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = cli("report", FIXED)
    assert run.code == 0 and run.out == "" and "wrote report.html" in run.err
    assert (tmp_path / "report.html").read_text().startswith("<!doctype html>")
    run = cli("report", FIXED, "-o", "-")
    assert run.out.startswith("<!doctype html>") and run.err == ""
