from __future__ import annotations

import json
from pathlib import Path

import pytest

from logdoc.cli import main

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_logs"


class Run:
    def __init__(self, code: int, out: str, err: str):
        self.code, self.out, self.err = code, out, err

    def json(self) -> dict:
        return json.loads(self.out)


@pytest.fixture
def cli(capsys, monkeypatch):
    """Run the CLI in-process: cli("analyze", path, ...) -> Run(code, stdout, stderr)."""
    monkeypatch.setenv("NO_COLOR", "1")

    def run(*args: str) -> Run:
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run
