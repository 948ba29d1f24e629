"""Root-cause chains: declared over real rule ids, and applied end to end on short excerpts."""
from __future__ import annotations

import pytest

from logdoc.diagnosis.chains import CHAINS
from logdoc.source.reading import lines_from_text
from logdoc.rules import all_rules
from logdoc.engine.session import Session


@pytest.mark.parametrize("chain", CHAINS, ids=lambda c: c.id)
def test_chain_names_real_rules_and_a_fix(chain):
    rules = all_rules()
    assert chain.root in rules
    assert set(chain.consequences) <= set(rules)
    assert chain.fix and chain.explanation


def _diagnoses(text: str) -> list[str]:
    result = Session("case.log").feed_all(lines_from_text(text))
    return [d.id for d in result.diagnoses]


def test_oom_explains_the_crash_even_when_the_traceback_header_comes_first():
    log = (
        "Traceback (most recent call last):\n"
        '  File "train.py", line 179, in <module>\n'
        "    loss.backward()\n"
        "RuntimeError: CUDA out of memory. Tried to allocate 20.00 MiB (GPU 0; 15.78 GiB total capacity)\n"
    )
    assert _diagnoses(log) == ["out-of-memory-crash"]


def test_nan_loss_explains_the_crash():
    log = (
        "Epoch 001/030: train 0.217  val 1.921642\n"
        "Epoch 002/030: train nan  val nan\n"
        "Traceback (most recent call last):\n"
        '  File "train.py", line 12, in step\n'
        "FloatingPointError: Loss became infinite or NaN at iteration=2137!\n"
    )
    assert _diagnoses(log) == ["nonfinite-stopped-run"]


def test_a_watchdog_timeout_explains_the_abort():
    log = (
        "  what():  [Rank 0] Watchdog caught collective operation timeout: WorkNCCL(OpType=ALLREDUCE, Timeout(ms)=1800000) r\n"
        "terminate called after throwing an instance of 'std::runtime_error'\n"
    )
    assert _diagnoses(log) == ["hung-collective"]
