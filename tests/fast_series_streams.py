"""Random loss and gradient-norm streams for the differential tests of the loss and gradient
rules' NumPy fast paths (tests/test_fast_loss_*.py, tests/test_fast_grad_*.py).

`numpy_rule_streams.random_log` mixes every role; these logs follow one series for long
stretches, with the regimes the rules judge (flat noise, slow decline, rises, explosions,
vanishing and zero norms, negative values, nan/inf) and the record shapes that make the list
code take its detours (reprints, two values on a record, a second pattern, eval lines,
per-epoch reports first). Each rule is fed the same cut twice, as columns batches (its fast
path) and as list batches (its list code), in lockstep: findings and state must agree after
every batch.
"""
from __future__ import annotations

import math
import random

from numpy_rule_streams import _view, patterns
from streams import vector_everywhere

from logdoc.batch import Batch
from logdoc.bulk import BulkParser
from logdoc.engine import build_rules
from logdoc.parser import Parser


def _value(rnd: random.Random, level: float) -> str:
    """A value near `level`, printed as a log would (a few formats, some specials)."""
    r = rnd.random()
    if r < 0.004:
        return rnd.choice(["nan", "inf", "-inf"])
    if r < 0.008:
        return rnd.choice(["0.0", "-0.0", "0"])
    v = level * math.exp(rnd.gauss(0.0, rnd.choice([0.02, 0.1, 0.3])))
    if rnd.random() < 0.002:
        v = -v
    return rnd.choice([f"{v:.4f}", f"{v:.6g}", f"{v:.3e}", repr(v)])


def _levels(rnd: random.Random, n: int, start: float, mild: bool) -> list[float]:
    """A level per report: stretches of flat, falling, rising, exploding, vanishing (`mild`:
    flat, falling and slowly rising only, so a rule rarely fires and state runs on)."""
    out: list[float] = []
    level = start
    rise = 1.0005 if mild else 1.01
    while len(out) < n:
        kinds = ["flat", "fall", "rise"] if mild else ["flat", "flat", "fall", "rise", "jump", "drop", "zero"]
        kind = rnd.choice(kinds)
        length = rnd.randint(5, 400)
        for k in range(length):
            if kind == "fall":
                level *= 0.995
            elif kind == "rise":
                level *= rise
            elif kind == "jump" and k == 0:
                level *= rnd.choice([3.0, 20.0, 1e3, 1e6])
            elif kind == "drop" and k == 0:
                level /= rnd.choice([3.0, 1e4, 1e9])
            out.append(0.0 if kind == "zero" and rnd.random() < 0.7 else level)
    return out[:n]


def series_log(seed: int, role: str, *, mild: bool = False) -> bytes:
    """A log whose main series is `role` ("loss" or "grad_norm")."""
    rnd = random.Random(seed)
    n = rnd.randint(300, 4000)
    levels = _levels(rnd, n, rnd.choice([0.5, 2.0, 1e-4, 30.0]), mild)
    per_epoch_first = rnd.randint(0, 6) if rnd.random() < 0.3 else 0
    hf_first = rnd.random() < 0.15
    two_each = rnd.random() < 0.2
    with_epoch = rnd.random() < 0.7
    out: list[str] = []
    step = epoch = 0
    for k, level in enumerate(levels):
        v = _value(rnd, level)
        r = rnd.random()
        if k < per_epoch_first:
            epoch += 1
            out.append(f"[probe] epoch={epoch} {role}={v}")
            continue
        step += 1 if rnd.random() < 0.97 else 0          # a reprint of the same step now and then
        if hf_first and k == per_epoch_first or r < 0.05:
            out.append(f"{{'loss': {v}, 'grad_norm': {_value(rnd, level)}, 'learning_rate': 1e-05, "
                       f"'epoch': {epoch}.{step % 100:02d}}}")
        elif r < 0.08:
            out.append(f"[probe-eval] step={step} val_loss={v}")
        elif r < 0.1:
            out.append(rnd.choice(["INFO saving checkpoint", "some chatter", ""]))
        elif two_each and r < 0.3:
            second = "loss_cls" if role == "loss" else "grad_norm_clipped"
            out.append(f"[probe] step={step} {role}={v} {second}={_value(rnd, level / 2)}")
        elif r < 0.33:
            out.append(f"[probe] epoch={epoch} {role}={v}")           # no step: text decides
        elif with_epoch:
            out.append(f"[probe] epoch={epoch} step={step} {role}={v}")
        else:
            out.append(f"[probe] step={step} {role}={v}")
        if rnd.random() < 0.02:
            out.append(out[-1])                                      # printed twice
    return ("\n".join(out) + "\n").encode()


_PARSED: dict = {}


def batches(data: bytes, block: int) -> list[tuple[Batch, Batch]]:
    """[(columns batch, list batch)] of `data` cut in blocks of about `block` bytes: the vector
    parser forced on every block, and the list parser on the same blocks. The parses are kept
    (several option sets replay one log), each call hands out fresh batches over them."""
    key = (data, block)
    if key not in _PARSED:
        blocks, start = [], 0
        while start < len(data):
            cut = data.find(b"\n", start + block)
            end = len(data) if cut < 0 else cut
            blocks.append(data[start:end])
            start = end + 1
        parsed = []
        vector, lists, no = BulkParser(Parser(patterns())), BulkParser(Parser(patterns()), vector=False), 1
        for chunk in blocks:
            with vector_everywhere():
                cols, n = vector.parse_block(chunk, no)
            listed, _ = lists.parse_block(chunk, no)
            parsed.append((cols.columns, listed.records()))
            no += n
        if len(_PARSED) > 64:
            _PARSED.clear()
        _PARSED[key] = parsed
    return [(Batch.from_records(records) if cols is None else Batch.from_columns(cols),
             Batch.from_records(records)) for cols, records in _PARSED[key]]


def lockstep(rule_id: str, data: bytes, block: int, options: dict, state) -> tuple[list, int]:
    """Feed one rule columns batches and another the same records as list batches; assert
    the same findings and the same `state(rule)` after every batch and at finish. Returns
    (findings, number of columns batches fed)."""
    fast, slow = (build_rules([rule_id], options={rule_id: options})[0] for _ in range(2))
    found: list = []
    fed = 0
    for k, (cols, listed) in enumerate(batches(data, block)):
        if fast.wants is not None and fast.wants.isdisjoint(listed.roles):
            continue
        fed += cols.columns is not None
        want = [_view(f) for f in slow.observe_batch(listed)]
        got = [_view(f) for f in fast.observe_batch(cols)]
        assert got == want, f"batch {k}"
        assert state(fast) == state(slow), f"batch {k}"
        found.extend(want)
    want = [_view(f) for f in slow.finish()]
    assert [_view(f) for f in fast.finish()] == want
    found.extend(want)
    return found, fed


def lockstep_runs(rule_id: str, role: str, options: dict, state, seeds=range(8)) -> tuple[int, int]:
    """`lockstep` over series logs of `role` (every other one mild), each cut in random
    block sizes: (findings, columns batches fed), summed over the seeds."""
    found = fed = 0
    for seed in seeds:
        data = series_log(seed, role, mild=seed % 2 == 1)
        block = random.Random(seed).choice([300, 1000, 4000, 20000])
        got, n = lockstep(rule_id, data, block, options, state)
        found += len(got)
        fed += n
    return found, fed


def place(p):
    """A place a rule keeps (a Record, or a batch row while a batch is read), comparable."""
    return None if p is None else getattr(p, "line", ("row", p))
