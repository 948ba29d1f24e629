"""The suite's child processes: started with known signal handling, never left behind.

A suite started in the background (`pytest … &` in a script, or `trap '' INT`) runs with
SIGINT ignored, and a child inherits that: a test that interrupts its child like a user's
Ctrl-C must give the child the dispositions of an interactive start (`dispositions()`), or
the ones it means to test (`dispositions(ignore=(signal.SIGINT,))`). Every process a test
starts is tracked and killed at the test's teardown if it still runs, pass or fail; the
children of children (a `logdoc run` command) end by themselves once logdoc is gone
(`BLOCK` below).
"""
from __future__ import annotations

import signal
import subprocess

import pytest

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

# For child scripts: wait for a signal, but end (exit 99) as soon as the parent is gone or
# after a minute, so a test that fails or is killed leaves no process behind.
BLOCK = """
import os as _os, time as _time
def block(limit=60.0):
    parent, end = _os.getppid(), _time.monotonic() + limit
    while _os.getppid() == parent and _time.monotonic() < end:
        _time.sleep(0.05)
    raise SystemExit(99)
"""


def dispositions(ignore=()):
    """A preexec_fn: SIGINT, SIGTERM and SIGHUP at their defaults, except those in `ignore`."""
    def apply() -> None:
        for s in SIGNALS:
            signal.signal(s, signal.SIG_IGN if s in ignore else signal.SIG_DFL)
    return apply


class Reaper:
    def __init__(self):
        self.procs: list[subprocess.Popen] = []

    def track(self, proc: subprocess.Popen) -> subprocess.Popen:
        self.procs.append(proc)
        return proc

    def reap(self) -> list[subprocess.Popen]:
        """Kill whatever still runs; returns those (a test may assert there were none)."""
        alive = [p for p in self.procs if p.poll() is None]
        for proc in alive:
            proc.kill()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                if stream is not None:
                    try:
                        stream.close()
                    except OSError:
                        pass
        self.procs.clear()
        return alive


REAPER = Reaper()


@pytest.fixture(autouse=True)
def reap_children():
    """Autouse in a module that imports it: its processes never outlive a test."""
    yield
    REAPER.reap()
