"""Differential streams for the rules' NumPy fast paths (used by tests/test_fast_*.py).

A rule given a batch over BlockColumns (the vector parser's, `b.columns` set) may prove with
NumPy that nothing happens in it and update its state without the list code. That must
never change a report, so random logs are fed to one rule twice, cut at the same lines: as
columns batches (the vector parser forced on every block) and as list batches built from the
same records. Findings (at every batch and at `finish`) must be identical.
"""
from __future__ import annotations

import random
from functools import lru_cache
from pathlib import Path

from logdoc.batch import Batch
from logdoc.engine import build_rules
from logdoc.patterns import PatternSet
from streams import numpy_blocks

PROBES = Path(__file__).parent / "rules" / "probe-patterns.toml"
_PATTERNS: list = []


def patterns() -> PatternSet:
    if not _PATTERNS:
        _PATTERNS.append(PatternSet.load([PROBES]))
    return _PATTERNS[0]


def number(rnd: random.Random, pool: list[float], special: float = 0.05) -> str:
    """A value as a log prints it: mostly from `pool` (repeats matter to some rules), some
    nan/inf/0, in one of a few printed formats."""
    r = rnd.random()
    if r < special:
        return rnd.choice(["nan", "inf", "-inf", "NaN"])
    if r < 2 * special:
        return rnd.choice(["0.0", "0", "0.0000"])
    v = rnd.choice(pool) if rnd.random() < 0.6 else rnd.uniform(0.0, 3.0)
    return rnd.choice([f"{v:.4f}", f"{v:.3f}", f"{v:.2e}"])


TRACEBACK = ["Traceback (most recent call last):", '  File "train.py", line 179, in <module>',
             "    loss.backward()", "RuntimeError: boom"]
EVENT_LINES = ["Exception ignored in: <function _MultiProcessingDataLoaderIter.__del__ at 0x7f2b8c0e1ca0>",
          "terminate called after throwing an instance of 'std::runtime_error'",
          "FloatingPointError: Loss became infinite or NaN at iteration=2137!",
          "KeyboardInterrupt", "[probe-event] loss_scale_overflow loss_scale=1.0",
          "[probe-event] loss_scale_overflow loss_scale=0.5 step=7"]


def random_log(seed: int, n_lines: int = 3000, *, special: float = 0.02, events: float = 0.01,
               evals: float = 0.05, crash_end: float = 0.0, nan_positions: float = 0.01) -> bytes:
    """A log of probe lines (every role the rules read), framework lines, events and chatter."""
    rnd = random.Random(seed)
    pool = [round(rnd.uniform(0.0, 2.0), 4) for _ in range(4)]
    epoch, step = 1, 0
    out: list[str] = []

    def num() -> str:
        return number(rnd, pool, special)

    def at(value: int) -> str:
        """An epoch or step; now and then nan (a position that equals nothing, itself included)."""
        return "nan" if rnd.random() < nan_positions else str(value)

    while len(out) < n_lines:
        r = rnd.random()
        if rnd.random() < 0.97:
            step += rnd.choice([0, 10, 10, 10])          # a reprint now and then
        if rnd.random() < 0.03:
            epoch += rnd.choice([0, 1, 1])
        if r < events:
            out.extend(TRACEBACK if rnd.random() < 0.4 else [rnd.choice(EVENT_LINES)])
        elif r < events + evals:
            k = rnd.randrange(5)
            if k == 0:
                out.append(f"[probe-eval] epoch={at(epoch)} val_loss={num()} val_acc={num()}")
            elif k == 1:
                out.append(f"[probe] epoch={at(epoch)} loss={num()} val_loss={num()} acc={num()} val_acc={num()}")
            elif k == 2:
                out.append(f"Epoch {epoch:03d}/030: train {num()}  val {num()}")
            elif k == 3:
                out.append(f"[probe] epoch={at(epoch)} step={at(step)} loss={num()} val_loss={num()}")
            else:
                out.append(f"[probe-eval] step={at(step)} val_acc={num()}")
        elif r < 0.25:
            k = rnd.randrange(4)
            if k == 0:
                out.append(f"[probe] step={at(step)} dparam={num()} dparam={num()}")
            elif k == 1:
                out.append(f"[probe] step={at(step)} loss={num()} grad_norm={num()} "
                           f"skipped={rnd.choice('0012')} nan_iters={rnd.choice('0001')}")
            elif k == 2:
                out.append(f"{{'loss': {num()}, 'grad_norm': {num()}, 'learning_rate': 1e-05, "
                           f"'epoch': {epoch}.{step % 100:02d}}}")
            else:
                out.append(f"[probe] step={at(step)} acc={num()} loss={num()} loss_cls={num()}")
        elif r < 0.8:
            k = rnd.randrange(3)
            if k == 0:
                out.append(f"[probe] epoch={at(epoch)} step={at(step)} loss={num()} grad_norm={num()} lr=1e-3")
            elif k == 1:
                out.append(f"[probe] step={at(step)} loss={num()}")
            else:
                out.append(f"[probe] loss={num()} lr=0.001")
        else:
            out.append(rnd.choice(["INFO saving checkpoint", "some chatter here", "",
                                   f"INFO step {step} done"]))
    if rnd.random() < crash_end:       # the run dies at the end (what the crash rule reports)
        out.extend(rnd.choice([TRACEBACK, TRACEBACK[:2], EVENT_LINES[1:2], EVENT_LINES[3:4]]))
    return ("\n".join(out) + "\n").encode()


@lru_cache(maxsize=64)
def parsed(seed: int, block_bytes: int, log_options: tuple = ()) -> tuple:
    """((BlockColumns or None, records), ...) of `random_log(seed, **log_options)` cut in
    blocks of about `block_bytes`, the vector parser forced on every block. Kept: the test
    files of several rules replay the same logs (each run builds fresh batches)."""
    return numpy_blocks(random_log(seed, **dict(log_options)), block_bytes, patterns())


def batches(blocks: tuple, columns: bool) -> list:
    """Fresh batches of `parsed` blocks: over the BlockColumns (when the vector parser made
    them), or from the same records."""
    return [Batch.from_columns(c) if columns and c is not None else Batch.from_records(recs)
            for c, recs in blocks]


def _view(f) -> tuple:
    # positions as text: a nan epoch equals no other nan object
    return (f.rule, f.severity, f.line, f.message, [(e.line, e.text) for e in f.evidence],
            repr(f.epoch), repr(f.step), f.metric, sorted(f.tags))


def run(rule_id: str, stream: list, options: dict | None = None) -> list:
    """Findings of a fresh rule fed `stream` the way the engine feeds it: (batch no, finding)."""
    rule = build_rules([rule_id], options={rule_id: options or {}})[0]
    got = []
    for k, b in enumerate(stream):
        if rule.wants is not None and rule.wants.isdisjoint(b.roles):
            continue
        got.extend((k, _view(f)) for f in rule.observe_batch(b))
    got.extend(("finish", _view(f)) for f in rule.finish())
    return got


def compare(rule_id: str, seeds, *, options: dict | None = None, **log_options) -> tuple[int, int]:
    """Assert identical findings on columns and list batches for every seed; returns (number
    of findings seen, number of columns batches fed), so a test can check it tested something."""
    findings = fed = 0
    for seed in seeds:
        block = random.Random(seed).choice([600, 2000, 8000, 40000])
        blocks = parsed(seed, block, tuple(sorted(log_options.items())))
        fed += sum(c is not None for c, _ in blocks)
        want = run(rule_id, batches(blocks, False), options)
        got = run(rule_id, batches(blocks, True), options)
        assert got == want, f"{rule_id}, seed {seed}, blocks of {block} bytes, options {options}"
        findings += len(want)
    return findings, fed


# log profiles the tests share (a profile's logs are parsed once per test session)
SPECIAL = {"special": 0.2}     # many nan, inf and zero values
EVALS = {"evals": 0.2}         # many evaluation lines
EVENTS = {"events": 0.02}      # many tracebacks, aborts and overflow events
ENDINGS = {"events": 0.02, "crash_end": 0.7}   # and most logs end with one
