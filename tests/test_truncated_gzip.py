"""A truncated .gz (issue 17, point 11): read as far as it goes, said on stderr and as an info finding.

A run that died while writing its compressed log leaves a gzip cut mid-stream (or after its
data, before the 8-byte trailer). Its lines up to the cut are analysed; stderr gets one
warning line; the report gets an `info` finding `truncated-gzip` naming the byte offset of the
cut; the exit status is that of the lines read.
"""
from __future__ import annotations

import gzip
import io
import json
import multiprocessing
import re
import sys
import zlib

import pytest

import logdoc.engine.pipeline
from conftest import SAMPLES
from logdoc import api

BROKEN = SAMPLES / "warmup-zero-lr-broken.log"      # 186 lines, a zero-LR error at line 5
TEXT = BROKEN.read_bytes()


def _gzip(data: bytes) -> bytes:
    # level 1, no mtime: many deflate blocks' worth of bytes, a cut lands mid-stream
    return gzip.compress(data, compresslevel=1, mtime=0)


def _truncated_finding(doc: dict) -> dict:
    [found] = [f for f in doc["files"][0]["findings"] if f["rule"] == "truncated-gzip"]
    return found


@pytest.mark.parametrize("cut", [0.5, -4, -8], ids=["mid-stream", "in-trailer", "before-trailer"])
def test_a_cut_gzip_is_read_up_to_the_cut(cli, tmp_path, cut):
    whole = _gzip(TEXT * 4)
    at = int(len(whole) * cut) if isinstance(cut, float) else len(whole) + cut
    path = tmp_path / "run.log.gz"
    path.write_bytes(whole[:at])
    run = cli("analyze", path, "-f", "json")
    assert run.code == 1                          # the zero-LR error of line 5 was read
    doc = json.loads(run.out)
    lines = doc["files"][0]["lines"]
    expected = zlib.decompressobj(31).decompress(whole[:at])
    assert lines == expected.count(b"\n") + (not expected.endswith(b"\n"))
    assert (lines < 4 * 186) == isinstance(cut, float)
    finding = _truncated_finding(doc)
    assert finding["severity"] == "info" and finding["category"] == "truncated"
    assert f"cut at byte {at:,} " in finding["message"]
    assert f"{len(expected):,} bytes of text" in finding["message"]
    [warning] = run.err.splitlines()
    assert warning.startswith(f"logdoc: warning: {path}: truncated gzip data") and f"byte {at:,}" in warning


def test_the_exit_status_is_that_of_the_lines_read(cli, tmp_path):
    healthy = (SAMPLES / "warmup-zero-lr-fixed.log").read_bytes()
    path = tmp_path / "fixed.log.gz"
    path.write_bytes(_gzip(healthy)[:-6])
    run = cli("analyze", path)
    assert run.code == 0 and "truncated gzip data" in run.err
    assert cli("analyze", path, "--fail-on", "info").code == 1
    # every machine format says it
    sarif = json.loads(cli("analyze", path, "-f", "sarif").out)
    assert any(r["ruleId"] == "truncated-gzip" for r in sarif["runs"][0]["results"])


def test_stdin_and_the_api_read_a_cut_gzip(cli, monkeypatch):
    data = _gzip(TEXT)[:-5]
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(io.BytesIO(data))))
    run = cli("analyze", "-", "-f", "json")
    assert run.code == 1 and _truncated_finding(json.loads(run.out))
    result = api.analyze(io.BytesIO(data))
    assert result.lines == 186 and any(f.rule == "truncated-gzip" for f in result.findings)


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork()")
def test_the_two_process_pipeline_says_it_too(tmp_path, monkeypatch):
    monkeypatch.setattr(logdoc.engine.pipeline, "PIPELINE_MIN_BYTES", 0)
    path = tmp_path / "run.log.gz"
    path.write_bytes(_gzip(TEXT)[:-3])
    one = api.analyze(str(path), parallel=False).to_json()
    two = api.analyze(str(path), parallel=True).to_json()
    assert one == two and any(f["rule"] == "truncated-gzip" for f in two["findings"])


def test_whole_gzips_say_nothing(cli, tmp_path):
    path = tmp_path / "run.log.gz"
    half = len(TEXT) // 2
    # two members (gzip a >> b) and the zero padding some tools add: read whole, no warning
    path.write_bytes(_gzip(TEXT[:half]) + _gzip(TEXT[half:]) + b"\0" * 16)
    run = cli("analyze", path, "-f", "json")
    doc = json.loads(run.out)
    assert run.err == "" and doc["files"][0]["lines"] == 186
    assert not [f for f in doc["files"][0]["findings"] if f["rule"] == "truncated-gzip"]
    path.write_bytes(_gzip(TEXT) + b"not gzip")
    run = cli("analyze", path)
    assert run.code == 2 and re.fullmatch(r"logdoc: error: .*corrupt gzip data .*\n", run.err)
