"""`logdoc run -- CMD`: status forwarding, the log file, --stop-on, signal forwarding.

Children are small `python -c` scripts. A child that must be interrupted sleeps far longer
than any test should take after its last line, so "it was stopped" is proven by what it
printed (its KeyboardInterrupt handler, the missing later lines), never by timing.
Every logdoc starts with the signal dispositions a test gives it (tests/processes.py), so the
suite behaves the same when it was itself started with SIGINT ignored; a child script's
`block()` ends by itself once logdoc is gone.
"""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from processes import BLOCK, REAPER, dispositions, reap_children  # noqa: F401  (autouse)

ROOT = Path(__file__).resolve().parent.parent
INCIDENT = ROOT / "sample_logs" / "warmup-zero-lr-broken.log"
DEADLINE = 60


def logdoc_run(*args: str, ignore=(), **kwargs) -> subprocess.CompletedProcess:
    """logdoc run, started with SIGINT/SIGTERM/SIGHUP at their defaults except `ignore`."""
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("PYTHONUNBUFFERED", None)          # logdoc run must set it for the child itself
    return subprocess.run([sys.executable, "-m", "logdoc", "run", *args], capture_output=True,
                          env=env, cwd=ROOT, timeout=DEADLINE, stdin=subprocess.DEVNULL,
                          preexec_fn=dispositions(ignore), **kwargs)


def script(body: str) -> list[str]:
    return [sys.executable, "-c", BLOCK + textwrap.dedent(body)]


# Prints the incident line by line (print, not write+flush: only PYTHONUNBUFFERED makes the
# lines leave at once), then blocks after line `stop_after` until interrupted.
INCIDENT_CHILD = f"""
    import sys, time
    lines = open({str(INCIDENT)!r}, encoding="utf-8").read().splitlines()
    try:
        for no, line in enumerate(lines, 1):
            print(line)
            if no == 5:
                block()
    except KeyboardInterrupt:
        print("CHILD INTERRUPTED AFTER LINE", no)
        sys.exit(130)
"""


def test_exit_status_and_output_of_the_command_are_forwarded(tmp_path):
    log = tmp_path / "run.log"
    done = logdoc_run("--log", str(log), "--", *script("""
        import sys
        print("hello from stdout")
        print("and from stderr", file=sys.stderr)
        sys.exit(3)
    """))
    assert done.returncode == 3, done.stderr
    assert b"hello from stdout" in done.stdout and b"and from stderr" in done.stdout
    assert log.read_bytes() == done.stdout                 # the log is exactly what was shown
    assert b"unrecognized-log" in done.stderr               # the report goes to stderr


def test_log_file_is_byte_identical_and_the_child_is_unbuffered(tmp_path):
    log = tmp_path / "run.log"
    payload = INCIDENT.read_bytes() + b"\x1b[32mgreen\x1b[0m bar\r 50%\rdone\r\n\xff\xfe bad utf-8 no newline"
    src = tmp_path / "payload.bin"
    src.write_bytes(payload)
    done = logdoc_run("--log", str(log), "--", *script(f"""
        import os, sys
        assert os.environ["PYTHONUNBUFFERED"] == "1"
        sys.stdout.buffer.write(open({str(src)!r}, "rb").read())
    """))
    assert done.returncode == 0, done.stderr                # the command's status: 0
    assert hashlib.sha256(log.read_bytes()).digest() == hashlib.sha256(payload).digest()
    assert done.stdout == payload
    assert b"[zero-lr]" in done.stderr


def test_fail_on_turns_findings_into_exit_1_but_never_hides_a_failed_command():
    child = script(f"print(open({str(INCIDENT)!r}).read())")
    assert logdoc_run("--", *child).returncode == 0
    assert logdoc_run("--fail-on", "error", "--", *child).returncode == 1
    failing = script("import sys; print('no training here'); sys.exit(4)")
    assert logdoc_run("--fail-on", "error", "--", *failing).returncode == 4


def test_stop_on_error_interrupts_the_command_after_the_first_lr_line(tmp_path):
    log = tmp_path / "run.log"
    done = logdoc_run("--log", str(log), "--stop-on", "error", "--", *script(INCIDENT_CHILD))
    text = log.read_text()
    assert "CHILD INTERRUPTED AFTER LINE 5" in text
    assert "[STEP]" not in text                             # line 7 was never printed
    assert b"stopping the command (SIGINT): error [zero-lr] at line 5" in done.stderr
    assert done.returncode == 1                             # --stop-on implies --fail-on


def test_stop_on_escalates_to_sigterm_when_sigint_is_ignored(tmp_path):
    child = script(f"""
        import signal, sys, time
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        def on_term(signum, frame):
            print("CHILD GOT SIGTERM")
            sys.exit(143)
        signal.signal(signal.SIGTERM, on_term)
        for line in open({str(INCIDENT)!r}).read().splitlines()[:5]:
            print(line)
        block()
    """)
    done = logdoc_run("--stop-on", "error", "--grace", "0.5", "--", *child)
    assert b"CHILD GOT SIGTERM" in done.stdout
    assert b"logdoc: the command is still running 0.5 s after SIGINT: sending SIGTERM" in done.stderr
    assert b"SIGKILL" not in done.stderr
    assert done.returncode == 1


def test_stop_on_escalates_to_sigkill_and_says_so(tmp_path):
    child = script(f"""
        import signal
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for line in open({str(INCIDENT)!r}).read().splitlines()[:5]:
            print(line)
        block()
    """)
    done = logdoc_run("--stop-on", "error", "--grace", "0.3", "--", *child)
    err = done.stderr.decode()
    assert err.index("stopping the command (SIGINT)") < err.index("0.3 s after SIGINT: sending SIGTERM") \
        < err.index("0.3 s after SIGTERM: sending SIGKILL"), err
    assert done.returncode == 1                             # --stop-on's finding, not 137


def test_stop_on_stops_a_command_when_logdoc_was_started_with_sigint_ignored(tmp_path):
    # `logdoc run … &` in a script: logdoc inherits SIGINT ignored; the command must not,
    # or neither --stop-on's SIGINT nor its own Ctrl-C cleanup works (before: SIGTERM after --grace)
    log = tmp_path / "run.log"
    done = logdoc_run("--log", str(log), "--stop-on", "error", "--grace", "5", "--",
                      *script(INCIDENT_CHILD), ignore=(signal.SIGINT,))
    assert "CHILD INTERRUPTED AFTER LINE 5" in log.read_text(), done.stderr
    assert b"still running" not in done.stderr
    assert done.returncode == 1


def test_the_command_starts_with_sigint_and_sigterm_at_their_defaults_and_sighup_as_inherited():
    child = script("""
        import signal
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            print(s.name, "ignored" if signal.getsignal(s) == signal.SIG_IGN else "handled")
    """)
    everything_ignored = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)   # nohup, in the background
    done = logdoc_run("--", *child, ignore=everything_ignored)
    assert done.stdout.split(b"\n")[:3] == [b"SIGINT handled", b"SIGTERM handled", b"SIGHUP ignored"]
    done = logdoc_run("--", *child)
    assert done.stdout.split(b"\n")[:3] == [b"SIGINT handled", b"SIGTERM handled", b"SIGHUP handled"]


def test_a_signal_logdoc_inherited_as_ignored_is_not_passed_on():
    # a Ctrl-C meant for the foreground job must not reach a training started in the background
    env = {**os.environ, "NO_COLOR": "1"}
    child = script("""
        import signal, sys
        def on(signum, frame):
            print("CHILD GOT", signal.Signals(signum).name)
            if signum == signal.SIGTERM:
                sys.exit(143)
        signal.signal(signal.SIGINT, on)
        signal.signal(signal.SIGTERM, on)
        print("READY")
        block()
    """)
    proc = REAPER.track(subprocess.Popen(
        [sys.executable, "-m", "logdoc", "run", "--", *child], env=env, cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, preexec_fn=dispositions(ignore=(signal.SIGINT,))))
    seen = b""
    while b"READY" not in seen:
        chunk = proc.stdout.read1(4096)
        assert chunk, "the command ended before it was signalled"
        seen += chunk
    proc.send_signal(signal.SIGINT)                 # ignored by logdoc: never reaches the command
    proc.send_signal(signal.SIGTERM)                # forwarded
    out, err = proc.communicate(timeout=DEADLINE)
    assert b"CHILD GOT SIGTERM" in seen + out and b"CHILD GOT SIGINT" not in seen + out
    assert b"logdoc: got SIGTERM: passing it on to the command" in err
    assert b"got SIGINT" not in err
    assert proc.returncode == 143


def test_sigint_to_logdoc_is_forwarded_and_the_report_covers_everything():
    env = {**os.environ, "NO_COLOR": "1"}
    child = script("""
        import sys
        print("[LR] epoch=1 groups=['a'] lr=[0.0]")
        print("READY")
        try:
            block()
        except KeyboardInterrupt:
            print("CHILD GOT SIGINT")
            sys.exit(130)
    """)
    proc = REAPER.track(subprocess.Popen(
        [sys.executable, "-m", "logdoc", "run", "--", *child], env=env, cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, preexec_fn=dispositions()))
    seen = b""
    while b"READY" not in seen:
        chunk = proc.stdout.read1(4096)
        assert chunk, "the command ended before it was interrupted"
        seen += chunk
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=DEADLINE)
    assert b"logdoc: got SIGINT: passing it on to the command" in err
    assert b"CHILD GOT SIGINT" in seen + out
    assert proc.returncode == 130                           # the command's status
    assert b"[zero-lr]" in err and b"1 error(s)" in err


def test_bad_usage_is_one_line_and_exit_2(cli, tmp_path):
    for args in (["--", "no-such-command-logdoc-test"], ["--log", str(tmp_path), "--", "true"],
                 ["--grace", "-1", "--", "true"], ["--stop-on", "info", "--", "true"], []):
        run = cli("run", *args)
        assert run.code == 2, (args, run.err)
        assert run.err.startswith("logdoc: error:") and run.err.count("\n") == 1, run.err
