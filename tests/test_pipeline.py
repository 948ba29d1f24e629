"""A big file parsed in a second process (logdoc.engine.pipeline) gives the single-process report."""
from __future__ import annotations

import json
import multiprocessing
from contextlib import nullcontext
from pathlib import Path

import pytest

import logdoc.engine.pipeline
from logdoc import api
from logdoc.source.reading import InputError
from streams import vector_everywhere

ROOT = Path(__file__).resolve().parent.parent
LOGS = sorted([*ROOT.glob("tests/corpus/*.log"), *ROOT.glob("sample_logs/*.log"),
               *ROOT.glob("tests/heldout/*.log.gz")])

pytestmark = pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(),
                                reason="the pipeline needs fork()")


@pytest.fixture
def every_file(monkeypatch):
    monkeypatch.setattr(logdoc.engine.pipeline, "PIPELINE_MIN_BYTES", 0)


def test_small_files_stay_in_one_process():
    assert not logdoc.engine.pipeline.worth_it(str(LOGS[0]))
    assert not logdoc.engine.pipeline.worth_it("-")


@pytest.mark.parametrize("numpy, read_in_worker", [(False, None), (True, False), (True, True)],
                         ids=["lists", "numpy", "numpy-read-by-worker"])
@pytest.mark.parametrize("path", LOGS[::3], ids=lambda p: p.name)
def test_two_processes_give_the_same_report(path, numpy, read_in_worker, every_file, monkeypatch):
    # the numbers of a NumPy block are read by the main process or by the worker
    monkeypatch.setattr(logdoc.engine.pipeline, "READ_IN_WORKER", read_in_worker)
    assert logdoc.engine.pipeline.worth_it(str(path))
    one = json.dumps(api.analyze(str(path), parallel=False).to_json())
    with vector_everywhere() if numpy else nullcontext():   # NumPy batches cross the pipe too
        two = json.dumps(api.analyze(str(path), parallel=True).to_json())
    assert two == one


def test_an_unreadable_input_is_the_same_error(tmp_path, every_file):
    binary = tmp_path / "model.bin"
    binary.write_bytes(b"\x00\x01\x02" * 100)
    with pytest.raises(InputError, match="binary file"):
        api.analyze(str(binary), parallel=True)


def test_a_small_log_imports_no_heavy_module():
    # start-up time is most of a small log's analysis (issue 7): pandas, pyarrow and
    # multiprocessing are for big inputs and the commands that ask for tables. NumPy is not
    # in the list since issue 14: rules are written once, over arrays, for every batch
    # (≈ 0.09 s of import; a 100-line log still costs less than `import pandas`)
    import subprocess
    import sys

    code = ("import sys; from logdoc import api; api.analyze(sys.argv[1]); "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'pandas', 'multiprocessing', 'pyarrow'}))")
    out = subprocess.run([sys.executable, "-c", code, str(ROOT / "sample_logs" / "warmup-zero-lr-broken.log")],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_worker_stops_when_nobody_listens():
    # the worker's sending thread dies with the pipe; the parse loop then stops too, instead
    # of reading the rest of the file for nobody
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    receive.close()
    outbox = logdoc.engine.pipeline._Outbox(send)
    with pytest.raises(BrokenPipeError):
        for _ in range(100):
            outbox.put(("batch", b"x" * 100_000, 1))
    outbox.close()
