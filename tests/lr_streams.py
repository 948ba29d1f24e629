"""Learning-rate logs for the lr rules' NumPy quick tests (tests/test_fast_lr_*.py, test_fast_zero_lr.py).

`lr_log` writes a run whose param groups follow random schedules (warm-ups of any length,
constants, decays to 0 or below 1e-7, starts at 0, nan, rises that never stop), printed by
several line formats at once, with skip events and chatter. `lockstep` feeds one rule the
columns batches (the vector parser forced on every block) and a twin the list batches of
the same records, and compares findings and carried state after every batch.
"""
from __future__ import annotations

import math
import random
from functools import lru_cache
from pathlib import Path

from logdoc.batch import Batch
from logdoc.engine import build_rules
from logdoc.patterns import PatternSet

from streams import numpy_blocks

PROBES = Path(__file__).parent / "rules" / "probe-patterns.toml"
_PATTERNS: list = []


@lru_cache(maxsize=128)
def _parsed(data: bytes, block_bytes: int) -> tuple:
    """((BlockColumns or None, records), ...) of `data` cut in blocks of about `block_bytes`,
    the vector parser forced on every block (kept: tests replay a log with several options)."""
    if not _PATTERNS:
        _PATTERNS.append(PatternSet.load([PROBES]))
    return numpy_blocks(data, block_bytes, _PATTERNS[0])


def batches(data: bytes, block_bytes: int) -> list:
    """[(columns batch, list batch)] of `data` cut in blocks of about `block_bytes`, the
    vector parser forced on every block; the list batch holds the same records. Fresh
    batches every time (rules leave memos on them)."""
    return [(Batch.from_columns(cols) if cols is not None else Batch.from_records(records),
             Batch.from_records(records)) for cols, records in _parsed(data, block_bytes)]


def view(f) -> tuple:
    """All of a finding that a report shows."""
    return (f.rule, f.severity, f.line, f.message, [(e.line, e.text) for e in f.evidence],
            f.epoch, f.step, f.metric, sorted(f.tags))


def _schedule(rnd: random.Random, total: int, kinds):
    """lr(step) of one param group (kinds: which of the schedules below may be drawn)."""
    base = rnd.choice([1e-3, 4e-4, 1e-4, 3e-7])
    kind = rnd.choice(kinds)
    warm = max(1, int(total * rnd.choice([0.01, 0.1, 0.4, 0.6, 1.5])))
    if kind == 0:
        return lambda s: base
    if kind == 1:
        return lambda s: base * min(1.0, (s + 1) / warm)
    if kind == 2:                  # warm-up that rounds: printed values repeat between rises
        return lambda s: base * min(1.0, round(10 * s / warm) / 10)
    if kind == 3:
        return lambda s: base * 0.5 * (1 + math.cos(math.pi * min(s, total) / total))
    if kind == 4:                  # step decay
        return lambda s: base * 0.1 ** (s // max(1, total // rnd.choice([3, 30])))
    if kind == 5:                  # tiny for a while, then back
        return lambda s: 5e-8 if total // 4 < s < total // 2 else base
    if kind == 6:                  # 0 somewhere
        at = rnd.randrange(total)
        return lambda s: 0.0 if s >= at else base
    if kind == 7:                  # starts at 0, then a warm-up
        return lambda s: base * s / warm if s < warm else base
    if kind == 8:
        return lambda s: base * 1.001 ** s    # rises for ever
    # rises a few times at random steps, then stays: the last rise may be the one judged
    at = sorted(rnd.randrange(total) for _ in range(rnd.randint(1, 5)))
    return lambda s: base * (1 + sum(s >= a for a in at))


def lr_log(seed: int, n_lines: int = 2500, kinds=range(10)) -> bytes:
    rnd = random.Random(seed)
    total = rnd.choice([200, 2000, 20000])
    step = rnd.choice([0, 0, 0, total // 3])            # from the start, or not
    every = rnd.choice([1, 1, 5, 50])
    formats = rnd.sample(["probe", "probe2", "groups", "hf", "epoch"], rnd.randint(1, 3))
    many = rnd.random() < 0.15                          # more param groups than are followed
    names = [f"g{k}" for k in range(70 if many else rnd.randint(1, 3))]
    sched = {name: _schedule(rnd, total, kinds) for name in ["lr", "lr_head", "learning_rate", *names]}
    announce = rnd.random()
    special = rnd.choice([0.0, 0.0, 0.01, 0.05])
    skips = rnd.choice([0.0, 0.0, 0.005, 0.05])
    epochs = max(1, total // 500)
    out: list[str] = []

    def val(name: str) -> str:
        r = rnd.random()
        if r < special:
            return rnd.choice(["nan", "inf", "0.0", "-1e-05"])
        return f"{sched[name](step):.3g}"

    while len(out) < n_lines:
        if rnd.random() < 0.95:
            step += rnd.choice([0, every, every])        # a reprint now and then
        epoch = 1 + step * epochs // total
        fmt = rnd.choice(formats)
        r = rnd.random()
        tail = f" step_total={total}" if announce < 0.5 else ""
        if r < skips:
            out.append(rnd.choice(["[probe-event] loss_scale_overflow loss_scale=0.5",
                                   f"[probe] step={step} loss=0.5 skipped={rnd.choice([0, 1])}",
                                   f"[probe] step={step} lr={val('lr')} skipped={rnd.choice([0, 1])}"]))
        elif r < 0.1:
            out.append(rnd.choice(["INFO saving checkpoint", "", f"[probe] step={step} loss=0.4"]))
        elif fmt == "probe":
            out.append(f"[probe] step={step}{tail} lr={val('lr')}")
        elif fmt == "probe2":
            out.append(f"[probe] step={step}{tail} loss=0.5 lr={val('lr')} lr_head={val('lr_head')}")
        elif fmt == "groups":
            pick = names if not many or rnd.random() < 0.3 else names[:2]
            listed = ", ".join(f"'{g}'" for g in pick)
            out.append(f"[LR] epoch={epoch} groups=[{listed}] lr=[{', '.join(val(g) for g in pick)}]")
        elif fmt == "hf":
            out.append(f"{{'loss': 0.5, 'learning_rate': {val('learning_rate')}, 'epoch': {step / total * epochs:.2f}}}")
        else:
            et = f" epoch_total={epochs}" if announce > 0.3 else ""
            out.append(f"[probe] epoch={epoch}{et} lr={val('lr')}")
    return ("\n".join(out) + "\n").encode()


def lockstep(rule_id: str, seeds, state, *, options: dict | None = None, log=lr_log,
             **log_options) -> int:
    """Feed a rule columns batches and its twin list batches of the same records; after every
    batch the findings and `state(rule)` must be equal, and at the end `finish`'s. Returns
    the number of findings seen."""
    found = 0
    for seed in seeds:
        data = log(seed, **log_options)
        block = random.Random(seed).choice([600, 3000, 12000, 60000])
        fast, slow = (build_rules([rule_id], options={rule_id: options or {}})[0] for _ in range(2))
        for k, (cols, listed) in enumerate(batches(data, block)):
            if fast.wants is not None and fast.wants.isdisjoint(cols.roles):
                assert slow.wants.isdisjoint(listed.roles)     # the same roles both ways
                continue
            got = [view(f) for f in fast.observe_batch(cols)]
            want = [view(f) for f in slow.observe_batch(listed)]
            assert got == want, f"{rule_id}, seed {seed}, batch {k} (blocks of {block} bytes)"
            assert state(fast) == state(slow), f"{rule_id}, seed {seed}, batch {k}"
            found += len(want)
        assert [view(f) for f in fast.finish()] == [view(f) for f in slow.finish()], f"seed {seed}"
    return found
