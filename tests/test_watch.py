"""`logdoc watch`: live alerts through a real pipe, passthrough, the tail -F follower.

The child runs as `python -m logdoc` in a subprocess so pipes, buffering and signals are real.
Waits are bounded by generous deadlines (a loaded 2-core machine) but return as soon as the
expected output is there; no assertion depends on timing. Each child starts with SIGINT and
SIGTERM at their defaults whatever the suite was started with, and is killed at the test's
teardown if it still runs (tests/processes.py).
"""
from __future__ import annotations

import hashlib
import json
import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from processes import REAPER, dispositions, reap_children  # noqa: F401  (autouse)

from logdoc.report.github import command_for, escape_data, escape_property
from logdoc.watch import alert_line
from logdoc.core.model import Finding, Severity

ROOT = Path(__file__).resolve().parent.parent
INCIDENT = ROOT / "sample_logs" / "warmup-zero-lr-broken.log"
DEADLINE = 20.0          # seconds; only reached when something is wrong


def spawn(*args: str, stdin=subprocess.PIPE) -> subprocess.Popen:
    env = {**os.environ, "NO_COLOR": "1", "PYTHONUNBUFFERED": "1"}
    return REAPER.track(subprocess.Popen(
        [sys.executable, "-m", "logdoc", *args], stdin=stdin, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, env=env, cwd=ROOT, preexec_fn=dispositions()))


class Reader:
    """Accumulates a child's stream without blocking; waits until a condition holds."""

    def __init__(self, stream):
        self.fd = stream.fileno()
        os.set_blocking(self.fd, False)
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.fd, selectors.EVENT_READ)
        self.data = b""
        self.eof = False

    def wait_for(self, needle: bytes, timeout: float = DEADLINE) -> bool:
        end = time.monotonic() + timeout
        while needle not in self.data and not self.eof:
            left = end - time.monotonic()
            if left <= 0:
                return False
            if self.sel.select(min(left, 0.5)):
                chunk = os.read(self.fd, 65536)
                if chunk:
                    self.data += chunk
                else:
                    self.eof = True
        return needle in self.data

    def pump(self) -> None:
        """Read whatever is available right now."""
        while self.sel.select(0):
            chunk = os.read(self.fd, 65536)
            if not chunk:
                self.eof = True
                return
            self.data += chunk

    def rest(self) -> bytes:
        self.wait_for(b"\0never\0")
        return self.data


def finish(proc: subprocess.Popen, out: Reader, err: Reader) -> tuple[int, bytes, bytes]:
    if proc.stdin and not proc.stdin.closed:
        proc.stdin.close()
    code = proc.wait(timeout=DEADLINE * 3)
    return code, out.rest(), err.rest()


def test_alert_arrives_with_its_proving_line_and_watch_reads_to_eof():
    lines = INCIDENT.read_bytes().splitlines(keepends=True)
    proc = spawn("watch", "--format", "plain")
    out, err = Reader(proc.stdout), Reader(proc.stderr)
    try:
        for no, raw in enumerate(lines[:5], 1):
            proc.stdin.write(raw)
            proc.stdin.flush()
        # line 5 is the first [LR] line: the alert must come with no further input
        assert out.wait_for(b"[zero-lr]"), (out.data, err.data)
        assert b"<stdin>:5: error [zero-lr]" in out.data
        assert proc.poll() is None, "watch must keep reading after a finding"
        for raw in lines[5:]:
            proc.stdin.write(raw)
            proc.stdin.flush()
            out.pump()
        assert proc.poll() is None, "watch must read until end of input"
        code, stdout, stderr = finish(proc, out, err)
    finally:
        proc.kill() if proc.poll() is None else None
    assert code == 1, stderr
    text = stdout.decode()
    # every finding alerted once as it was proved, then analyze's report
    assert text.index("<stdin>:5: error [zero-lr]") < text.index("<stdin>:186: error [nonfinite]")
    assert "diagnosis: the warmup schedule starts at LR 0" in text
    assert text.count("[zero-lr]") == 2             # its alert, then its line in the report
    assert stderr == b""


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_or_sigterm_prints_the_report_of_what_was_read(signum, code):
    proc = spawn("watch", "--format", "plain")
    out, err = Reader(proc.stdout), Reader(proc.stderr)
    proc.stdin.write(b"".join(INCIDENT.read_bytes().splitlines(keepends=True)[:5]))
    proc.stdin.flush()
    assert out.wait_for(b"[zero-lr]")
    proc.send_signal(signum)
    assert proc.wait(timeout=DEADLINE) == code
    stdout = out.rest().decode()
    proc.stdin.close()
    assert "interrupted after 5 lines" in stdout
    assert "1 error(s)" in stdout


def test_follow_ends_on_ctrl_c_with_the_report(tmp_path):
    log = tmp_path / "run.log"
    log.write_text("[LR] epoch=1 groups=['a'] lr=[0.0]\n")
    proc = spawn("watch", "--follow", str(log), "--format", "plain", stdin=subprocess.DEVNULL)
    out, err = Reader(proc.stdout), Reader(proc.stderr)
    assert out.wait_for(b"[zero-lr]")
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=DEADLINE) == 130
    assert b"interrupted after 1 lines" in out.rest()


def analyze_json(path: Path, name: str) -> dict:
    env = {**os.environ, "NO_COLOR": "1"}
    done = subprocess.run([sys.executable, "-m", "logdoc", "analyze", "-", "-f", "json"],
                          stdin=path.open("rb"), capture_output=True, env=env, cwd=ROOT, timeout=DEADLINE * 3)
    doc = json.loads(done.stdout)["files"][0]
    for f in doc["findings"]:
        f["path"] = name
    return doc


def test_jsonl_is_analyze_findings_one_per_line_then_a_summary():
    proc = spawn("watch", "--format", "jsonl", "--stdin-filename", "run.log")
    out, err = Reader(proc.stdout), Reader(proc.stderr)
    proc.stdin.write(INCIDENT.read_bytes())
    code, stdout, stderr = finish(proc, out, err)
    docs = [json.loads(x) for x in stdout.decode().splitlines()]
    findings, summary = docs[:-1], docs[-1]
    assert code == 1
    assert {f.pop("type") for f in findings} == {"finding"}   # the same lines as analyze -f jsonl
    # the same engine as analyze: the same findings, field for field (watch emits them in
    # the order they were proved, analyze sorts them by line)
    expected = analyze_json(INCIDENT, "run.log")
    key = lambda f: (f["line"], f["rule"], f["message"])  # noqa: E731
    assert sorted(findings, key=key) == sorted(expected["findings"], key=key)
    assert [f["rule"] for f in findings][:1] == ["zero-lr"]
    assert summary["type"] == "summary" and summary["lines"] == 186 == expected["lines"]
    assert summary["totals"]["errors"] == sum(f["severity"] == "error" for f in findings)
    assert summary["diagnoses"] == expected["diagnoses"]


def test_github_format_is_workflow_commands_only_on_stdout():
    proc = spawn("watch", "--format", "github", "--fail-on", "never")
    out, err = Reader(proc.stdout), Reader(proc.stderr)
    proc.stdin.write(INCIDENT.read_bytes())
    code, stdout, stderr = finish(proc, out, err)
    assert code == 0
    lines = stdout.decode().splitlines()
    assert lines[0].startswith("::error file=<stdin>,line=5,title=logdoc zero-lr::learning rate")
    assert all(x.startswith("::") for x in lines)
    assert "diagnosis" in stderr.decode()          # the human report goes to stderr


def test_github_escaping_keeps_log_text_inside_one_command():
    f = Finding(rule="nonfinite", category="nonfinite", severity=Severity.warning,
                message="loss 100% bad\n::add-mask::secret\r\n::error::x", line=3, evidence=[],
                path="logs/a,b:c.log")
    line = command_for(f)
    assert "\n" not in line and "\r" not in line
    assert line.startswith("::warning file=logs/a%2Cb%3Ac.log,line=3,title=logdoc nonfinite::")
    assert line.endswith("::loss 100%25 bad ::add-mask::secret  ::error::x")   # one command, inert text
    assert escape_data("%0A") == "%250A"               # % is escaped first
    assert escape_property("a:b,c%") == "a%3Ab%2Cc%25"
    assert alert_line(f).count("\n") == 0


def test_passthrough_is_byte_identical_and_alerts_go_to_stderr():
    payload = (INCIDENT.read_bytes()
               + b"epoch 31:  10%|#  \r epoch 31:  20%|## \r\n"          # tqdm redraws, CRLF
               + b"\x1b[31mred\x1b[0m [LR] epoch=31 groups=['a'] lr=[0.0]\n"
               + b"invalid utf-8 \xff\xfe\xc3( end\n"
               + b"no newline at the end")
    proc = spawn("watch", "--passthrough")
    out, err = Reader(proc.stdout), Reader(proc.stderr)
    proc.stdin.write(payload)
    code, stdout, stderr = finish(proc, out, err)
    assert hashlib.sha256(stdout).hexdigest() == hashlib.sha256(payload).hexdigest()
    assert code == 1
    assert b"<stdin>:5: error [zero-lr]" in stderr


def test_closed_stdout_keeps_draining_stdin_quietly():
    # `logdoc watch | head -1`: our reader leaves, the writer must still be able to write
    proc = spawn("watch", "--format", "plain")
    err = Reader(proc.stderr)
    proc.stdout.close()                        # nobody reads our output any more
    big = INCIDENT.read_bytes() * 20           # several times a pipe buffer (64 KiB)
    proc.stdin.write(big)                      # would raise BrokenPipeError if watch stopped
    proc.stdin.close()
    code = proc.wait(timeout=DEADLINE * 3)
    assert code == 1
    assert err.rest() == b""


@pytest.mark.parametrize("payload, message", [
    (b"", b"empty input"),
    (b"\x00\x01binary" * 100, b"binary file"),
])
def test_bad_stdin_is_one_line_on_stderr_and_exit_2(payload, message):
    proc = spawn("watch")
    out, err = Reader(proc.stdout), Reader(proc.stderr)
    proc.stdin.write(payload)
    code, stdout, stderr = finish(proc, out, err)
    assert code == 2
    assert message in stderr and stderr.count(b"\n") == 1 and b"Traceback" not in stderr


@pytest.mark.parametrize("args", [
    ["watch", "run.log"],
    ["watch", "--idle-exit", "1"],
    ["watch", "--follow", "x.log", "--idle-exit", "0"],
    ["watch", "--format", "yaml"],
    ["watch", "--select", "no-such-rule"],
])
def test_bad_arguments_are_one_line_and_exit_2(cli, args):
    run = cli(*args)
    assert run.code == 2
    assert run.err.startswith("logdoc: error:") and run.err.count("\n") == 1


def test_follow_a_directory_is_exit_2(cli, tmp_path):
    run = cli("watch", "--follow", str(tmp_path), "--idle-exit", "1")
    assert run.code == 2 and "is a directory" in run.err


# ------------------------------------------------------------------ --follow

def test_follow_survives_append_truncation_and_rotation(tmp_path):
    log = tmp_path / "run.log"
    log.write_text("config: warmup_epochs=12\n")
    proc = spawn("watch", "--follow", str(log), "--idle-exit", "3", "--format", "jsonl",
                 stdin=subprocess.DEVNULL)
    out, err = Reader(proc.stdout), Reader(proc.stderr)
    try:
        with log.open("a") as f:                                  # 1. appended lines
            f.write("[LR] epoch=1 groups=['backbone'] lr=[0.0]\n")
        assert out.wait_for(b'"line":2'), (out.data, err.data)

        log.write_text("Epoch 001/030: train nan  val 1.0\n")      # 2. truncated (shorter) and rewritten
        assert out.wait_for(b'"rule":"nonfinite"'), (out.data, err.data)
        assert err.wait_for(b"file truncated")

        log.rename(tmp_path / "run.log.1")                         # 3. rotated: rename and recreate
        log.write_text("[LR] epoch=1 groups=['head'] lr=[0.0]\n")
        assert out.wait_for(b"param group 'head'"), (out.data, err.data)
        assert err.wait_for(b"file replaced")
        code = proc.wait(timeout=DEADLINE * 2)                     # --idle-exit ends it
    finally:
        proc.kill() if proc.poll() is None else None
    stdout = out.rest().decode()
    assert code == 1
    docs = [json.loads(x) for x in stdout.splitlines()]
    assert [d.get("rule") for d in docs] == ["zero-lr", "nonfinite", "zero-lr", None]
    assert docs[-1]["type"] == "summary" and docs[-1]["path"] == str(log)


def test_follow_from_end_skips_existing_lines_and_waits_for_a_missing_file(tmp_path):
    log = tmp_path / "late.log"
    proc = spawn("watch", "--follow", str(log), "--from-end", "--idle-exit", "2", "--format", "plain",
                 stdin=subprocess.DEVNULL)
    out, err = Reader(proc.stdout), Reader(proc.stderr)
    assert err.wait_for(b"waiting for it")
    log.write_text("[LR] epoch=1 groups=['a'] lr=[0.0]\n")       # created after start: read whole
    assert out.wait_for(b"[zero-lr]")
    code = proc.wait(timeout=DEADLINE * 2)
    assert code == 1

    proc = spawn("watch", "--follow", str(log), "--from-end", "--idle-exit", "0.5", "--format", "jsonl",
                 stdin=subprocess.DEVNULL)
    code, stdout, stderr = finish(proc, Reader(proc.stdout), Reader(proc.stderr))
    assert code == 2 and b"empty input" in stderr           # nothing new after the end


def test_watch_uses_the_same_configuration_as_analyze(tmp_path):
    config = tmp_path / "logdoc.toml"
    config.write_text('ignore = ["zero-lr"]\nfail-on = "never"\n\n[severity]\nnonfinite = "warning"\n')
    proc = spawn("watch", "--format", "jsonl", "--config", str(config))
    out, err = Reader(proc.stdout), Reader(proc.stderr)
    proc.stdin.write(INCIDENT.read_bytes())
    code, stdout, stderr = finish(proc, out, err)
    findings = [json.loads(x) for x in stdout.decode().splitlines()][:-1]
    assert code == 0, stderr
    assert findings and "zero-lr" not in {f["rule"] for f in findings}
    assert {f["severity"] for f in findings if f["rule"] == "nonfinite"} == {"warning"}


def test_follower_ends_a_line_cut_by_truncation_or_rotation(tmp_path):
    from logdoc.source.follow import Follower

    log = tmp_path / "run.log"
    log.write_bytes(b"first\npartial")
    notes: list[str] = []
    follower = Follower(str(log), poll=0.01, idle_exit=5, notify=notes.append)
    assert follower.read1() == b"first\npartial"
    log.write_bytes(b"new\n")                                   # truncated: shorter than before
    assert follower.read1() == b"\nnew\n"                       # "partial" ends, new file starts
    log.rename(tmp_path / "run.log.1")
    log.write_bytes(b"rotated")
    assert follower.read1() == b"rotated"                       # previous line ended with \n
    assert any("truncated" in n for n in notes) and any("replaced" in n for n in notes)
    follower.idle_exit = 0.05
    assert follower.read1() == b""                              # idle: end of input


def test_a_bad_config_is_reported_at_once_and_stdin_is_still_drained(tmp_path):
    config = tmp_path / "logdoc.toml"
    config.write_text('no-such-key = 1\n')
    proc = spawn("watch", "--config", str(config))
    out, err = Reader(proc.stdout), Reader(proc.stderr)
    assert err.wait_for(b"logdoc: error:")                      # said before end of input
    proc.stdin.write(INCIDENT.read_bytes() * 20)                # would raise BrokenPipeError otherwise
    code, stdout, stderr = finish(proc, out, err)
    assert code == 2 and stderr.count(b"\n") == 1 and b"no-such-key" in stderr


@pytest.mark.skipif(os.name != "posix", reason="select() on pipes")
def test_pipe_input_takes_what_is_waiting_without_waiting_for_more(monkeypatch):
    import logdoc.source.follow
    from logdoc.source.follow import PipeInput

    real_read = os.read
    # a pipe hands out at most its buffer per read; make that small to see the gathering
    monkeypatch.setattr(logdoc.source.follow.os, "read", lambda fd, n: real_read(fd, min(n, 4096)))
    r, w = os.pipe()
    try:
        os.write(w, b"a\n" * 5000)            # 10 KB waiting: three small reads' worth
        pipe = PipeInput(r)
        signal.alarm(10)                   # a read that waited for more would hang here
        got = pipe.read1(1 << 20)
        signal.alarm(0)
        assert got == b"a\n" * 5000
        os.write(w, b"d\n")
        os.close(w)
        w = None
        assert pipe.read1(1 << 20) == b"d\n"     # the end seen while gathering is kept ...
        assert pipe.read1(1 << 20) == b""        # ... and reported on the next read
    finally:
        signal.alarm(0)
        os.close(r)
        if w is not None:
            os.close(w)


def test_a_live_stream_never_hands_blocks_to_pyarrow(monkeypatch):
    # watch's memory stays flat: importing pyarrow once a stream passes ARROW_AFTER would
    # raise it by tens of MB (issue 7's watch RSS goal); analyze may use it
    import pytest

    import logdoc.parsing.bulk_vector
    from logdoc.engine.session import Session
    from streams import vector_everywhere

    def no_arrow(*args):
        raise AssertionError("pyarrow used")

    monkeypatch.setattr(logdoc.parsing.bulk_vector, "_arrow_codes", no_arrow)
    block = "".join(f"{{'loss': {1 / i:.4f}, 'grad_norm': {i % 7:.3f}}}\n" for i in range(1, 400)).encode()
    with vector_everywhere(arrow=True):
        live = Session("live", live=True)
        for k in range(3):
            live.feed_block(1 + 399 * k, block)
        assert live.finish().records == 3 * 399
        with pytest.raises(AssertionError, match="pyarrow used"):
            Session("file").feed_block(1, block)


def test_jsonl_is_strict_json_with_a_non_finite_epoch():
    # issue 17, point 10: an epoch printed as 1e99999 is the string "inf", not `Infinity`
    proc = spawn("watch", "--format", "jsonl")
    out, err = Reader(proc.stdout), Reader(proc.stderr)
    proc.stdin.write(b"{'loss': 0.5, 'learning_rate': 1e-4, 'epoch': 0.1}\n"
                     b"{'loss': nan, 'learning_rate': 1e-4, 'epoch': 1e99999}\n")
    code, stdout, stderr = finish(proc, out, err)

    def refuse(token):
        raise AssertionError(f"not strict JSON: {token}")

    docs = [json.loads(x, parse_constant=refuse) for x in stdout.decode().splitlines()]
    assert code == 1 and b"internal error" not in stderr
    assert any(d.get("rule") == "nonfinite" and d.get("epoch") == "inf" for d in docs)
