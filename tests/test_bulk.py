"""The bulk parser (logdoc.parsing.bulk) reads the same records as the line-by-line parser.

It learns a template per line shape and then slices values out of later lines of that shape;
these tests feed it the cases that could fool a template and compare record by record.
"""
from __future__ import annotations

import math

from logdoc.parsing.bulk import BulkParser
from logdoc.parsing.parser import Parser
from logdoc.parsing.patterns import default_patterns
from logdoc.source.reading import lines_from_text
from streams import vector_everywhere


def _view(rec):
    return (rec.line, rec.text, rec.pattern, rec.event, rec.phase, rec.epoch, rec.epoch_total,
            rec.step, rec.step_total,
            [(m.name, m.role, "nan" if math.isnan(m.value) else m.value, m.group, m.agg) for m in rec.metrics])


def _bulk(data: bytes, block_bytes: int, vector: bool):
    """(records, templated count, batches) of the bulk parser fed blocks of about block_bytes."""
    bulk = BulkParser(Parser(default_patterns()), vector=vector)
    got, batches, no, start = [], [], 1, 0
    while start < len(data):
        cut = data.find(b"\n", start + block_bytes)
        end = len(data) if cut < 0 else cut
        batch, n = bulk.parse_block(data[start:end], no)
        got.extend(batch.records())
        batches.append(batch)
        no, start = no + n, end + 1
    return [_view(r) for r in got], bulk.templated, batches


def _both(text: str, block_bytes: int = 1 << 20):
    """(bulk records, line-by-line records, lines the bulk parser read by template).

    The bulk parser runs twice, line by line and with NumPy on every block: both must agree."""
    data = text.encode()
    got, templated, _ = _bulk(data, block_bytes, vector=False)
    for arrow in (True, False):
        with vector_everywhere(arrow):
            assert _bulk(data, block_bytes, vector=True)[:2] == (got, templated)
    slow = Parser(default_patterns())
    want = [r for line in lines_from_text(text) for r in slow.feed(line)]
    return got, [_view(r) for r in want], templated


def test_repeated_shapes_are_read_by_template_with_the_same_records():
    text = "".join(f"{{'loss': {0.5 + i / 1000:.4f}, 'grad_norm': {1 + i % 7:.3f}, "
                   f"'learning_rate': 1.0e-04, 'epoch': {i / 100:.2f}}}\n"
                   f"INFO worker {i % 8} prefetched shard {i * 37 % 9999}\n" for i in range(300))
    got, want, templated = _both(text, block_bytes=500)
    assert got == want and len(want) == 300
    assert templated >= 290            # all but the lines that taught and confirmed the template


def test_numpy_reads_learnt_shapes_of_later_blocks():
    text = "".join(f"train step {s}/900 | loss {1 / s:.4f} | data time 0.{s % 997:03d}s\n"
                   f"INFO worker {s % 8} prefetched shard {s * 37}\n" for s in range(1, 900))
    with vector_everywhere():
        got, templated, batches = _bulk(text.encode(), 4000, vector=True)
    assert got == _bulk(text.encode(), 4000, vector=False)[0]
    assert sum(b.columns is not None for b in batches) > len(batches) // 2
    assert templated > 850


def test_names_with_digits_are_never_templated():
    # "top1" and "top5" have one shape; a template learnt on one would misname the other
    text = "".join(f"[probe] step={i} top{1 if i % 2 else 5}={i / 10:.1f}\n" for i in range(1, 40))
    got, want, _ = _both(text)
    assert got == want


def test_equal_values_do_not_fool_the_template():
    # the first line cannot tell which 0.5 is the loss; later lines differ
    text = "step 1 | loss 0.5000 | acc 0.5000\n" + "".join(
        f"step {i} | loss {1 / i:.4f} | acc {i / 100:.4f}\n" for i in range(2, 60))
    got, want, _ = _both(text)
    assert got == want


def test_nan_and_numbers_have_different_shapes():
    text = "".join(f"Epoch {i:03d}/030: train {'nan' if i % 3 == 0 else f'{i / 7:.3f}'}  val {i / 3:.6f}\n"
                   for i in range(1, 30))
    got, want, templated = _both(text)
    assert got == want and templated > 0


def test_epoch_carried_to_template_lines():
    text = "".join(f"[LR] epoch={e} groups=['backbone', 'head'] lr=[0.0, 0.0]\n"
                   + "".join(f"train step {s}/100 | loss 0.{s:04d} | batch 32\n" for s in range(20))
                   for e in range(1, 5))
    got, want, templated = _both(text, block_bytes=700)
    assert got == want and templated > 40


def test_carriage_return_redraws_and_escapes_are_cleaned_first():
    frames = "".join(f"\r{p:3d}%|###| {p}/100 [00:01<00:02, 7.00it/s, loss=0.{p:03d}]" for p in range(0, 100, 10))
    text = (frames + "\n" + "\x1b[32mEpoch 001/030: train 0.217  val 1.921642\x1b[0m\n") * 5
    got, want, _ = _both(text)
    assert got == want and want


def test_nan_lines_are_templated_too():
    # a diverged run prints nan for thousands of lines: they must not all go the slow way
    text = "".join(f"{{'loss': nan, 'grad_norm': {1 + i / 1000:.4f}, 'learning_rate': 4.000e-04, "
                   f"'epoch': {i / 100:.2f}}}\n" for i in range(100, 200))
    got, want, templated = _both(text)
    assert got == want and templated >= 90


def test_a_nan_printed_twice_on_a_line_is_templated():
    # "loss=nan]{'loss': nan": either nan could be the loss, but a digit-free span reads the
    # same on every line of the shape, so the first one serves
    text = "".join(f" 50%|#####     | {i}/1000 [00:01<00:01, 7.00it/s, loss=nan]{{'loss': nan, "
                   f"'grad_norm': {1 + i / 1000:.4f}, 'epoch': {i / 100:.2f}}}\n" for i in range(100, 200))
    got, want, templated = _both(text)
    assert got == want and templated >= 90


def test_rank_prefixed_lines_are_deduplicated_and_templated():
    # two ranks print the same step; the copy is dropped, exactly as line by line
    text = "".join(f"[rank{r}]: train step {s}/500 | loss {1 / s:.4f} | batch 32\n"
                   f"[rank{r}]: INFO worker {r} prefetched shard {s * 7}\n"
                   for s in range(1, 200) for r in (0, 1))
    got, want, templated = _both(text, block_bytes=900)
    assert got == want and len(want) == 199
    assert templated > 150


def test_weak_rank_prefixes_are_trusted_only_when_confirmed():
    # "0: " / "1: " may be epoch numbers; srun -l prefixes come back for every line
    text = "".join(f"{r}: step {s} | loss {s / 1000:.4f}\n" for s in range(1, 120) for r in (0, 1))
    got, want, templated = _both(text, block_bytes=400)
    assert got == want and templated > 50


# ---- differential fuzzing: real sample lines with their numbers changed, in random order and
# random chunks, must give the bulk parser exactly the line-by-line parser's records

def _sample_lines() -> list[str]:
    import tomllib
    from pathlib import Path

    lines = []
    for path in sorted((Path(__file__).resolve().parent.parent / "patterns").glob("*.toml")):
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
        for rule in doc.get("rule", []):
            lines += [s["line"] for s in rule.get("sample", []) if "before" not in s]
    return lines


SAMPLES = _sample_lines()


def _mutate(line: str, digits: list[int]) -> str:
    """Each digit of the line replaced by the next of `digits` (so shapes repeat, values vary)."""
    out, k = [], 0
    for ch in line:
        if ch.isdigit():
            out.append(str(digits[k % len(digits)]))
            k += 1
        else:
            out.append(ch)
    return "".join(out)


import os  # noqa: E402

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

LINE = st.tuples(st.sampled_from(SAMPLES), st.lists(st.integers(0, 9), min_size=7, max_size=13),
                 st.sampled_from(["", "", "", "[rank0]: ", "[rank1]: ", "0: ", "1: ", "2025-01-01 10:00:00,123 - INFO - "]),
                 st.sampled_from(["", "", "", "  ", "\r12%|#  |", "\x1b[32m"]))


@settings(max_examples=int(os.environ.get("LOGDOC_FUZZ_EXAMPLES", "60")), deadline=None)
@given(lines=st.lists(LINE, min_size=1, max_size=80), chunk=st.integers(40, 4000))
def test_bulk_equals_line_by_line_on_shuffled_real_samples(lines, chunk):
    # each line three times, its digits rotated: the shape comes back with other values
    text = "".join(prefix + (redraw and redraw + "\r") + _mutate(sample, digits[r:] + digits[:r]) + "\n"
                   for r in range(3) for sample, digits, prefix, redraw in lines)
    got, want, _ = _both(text, block_bytes=chunk)
    assert got == want


def test_shapes_coded_by_pyarrow_are_those_of_bytes_split():
    # redraws (their last frame is the shape), cleaned lines (escapes, tabs, UTF-8), empty
    # lines, a last line without newline: each line's shape, both ways
    import numpy as np

    from logdoc.parsing.bulk import _SHAPE_MARK
    from logdoc.parsing.bulk_vector import _clean_dirty, _line_spans, _shape_codes

    data = ("loss 0.5\n\n\r 10%|#  | 1/9\r 20%|## | 2/9 loss=0.25\nloss 0.75\n\x1b[32mok\x1b[0m 1\n"
            "epoch\t3 \u0394param 0.0\n\r  5%|\r100%|####| 9/9\nloss 0.1").encode()
    got = []
    for arrow in (True, False):
        marked = data.translate(_SHAPE_MARK)
        starts, lens, bad, bad_line = _line_spans(marked)
        line_at = starts.copy()
        _, _, fixed = _clean_dirty(data, marked, starts, lens, bad, bad_line)
        codes, uniq = _shape_codes(marked, starts, lens, line_at, fixed, arrow)
        assert len(set(uniq)) == len(uniq)
        got.append([uniq[c] for c in np.asarray(codes).tolist()])
    assert got[0] == got[1]
    assert got[0][0] == got[0][7] == b"loss 7.7" and got[0][3] == b"loss 7.77"
    assert got[0][1] == b"" and got[0][2] == b" 77%|## | 7/7 loss=7.77"
    assert got[0][6] == b"777%|####| 7/7" and got[0][5] == "epoch  7 Δparam 7.7".encode()   # a tab is a column gap: two spaces


def test_without_pyarrow_big_blocks_are_coded_by_bytes_split(monkeypatch):
    # pyarrow is a dependency, but an install may lack it: the same records, only slower
    import sys

    text = "".join(f"{{'loss': {0.5 + i / 1000:.4f}, 'grad_norm': {1 + i % 7:.3f}}}\n" for i in range(300))
    with vector_everywhere(arrow=True):
        want = _bulk(text.encode(), 500, vector=True)[:2]
        monkeypatch.setitem(sys.modules, "pyarrow", None)       # import pyarrow -> ImportError
        assert _bulk(text.encode(), 500, vector=True)[:2] == want


def _pretty_history(n: int) -> str:
    """A trainer_state.json as `json.dumps(indent=2)` writes it, n training entries, every
    fifth followed by an evaluation (keys holding digits too: they share a line shape)."""
    entries = []
    for i in range(1, n + 1):
        entries.append({"epoch": round(i / 10, 2), "learning_rate": 1e-4, "loss": round(2 - i / n, 4),
                        "step": i * 10})
        if i % 5 == 0:
            entries.append({"epoch": round(i / 10, 2), "eval_loss": float("nan") if i == 10 else 1.5,
                            "eval_rouge1": 0.25, "eval_rouge2": 0.125, "step": i * 10})
    import json

    return json.dumps({"best_metric": None, "epoch": 9.0, "global_step": n * 10,
                       "log_history": entries, "max_steps": n * 10}, indent=2) + "\n"


def test_a_pretty_printed_json_history_is_read_one_record_per_object():
    got, want, _ = _both(_pretty_history(40), block_bytes=700)
    assert got == want
    train = [r for r in want if r[4] == "train"]
    evals = [r for r in want if r[4] == "eval"]
    assert len(train) == 40 and len(evals) == 8
    # an object is numbered and quoted as it opened, joined to one line
    first = train[0]
    assert first[1] == '{"epoch": 0.1, "learning_rate": 0.0001, "loss": 1.975, "step": 10}'
    assert first[7] == 10 and first[5] == 0.1
    assert {m[0] for m in evals[0][9]} >= {"eval_loss", "eval_rouge1", "eval_rouge2"}
    assert any(m[2] == "nan" for m in evals[1][9] if m[0] == "eval_loss")


def test_pretty_printed_json_in_big_blocks_reads_as_line_by_line():
    # past VECTOR_MIN_BYTES: the NumPy path must leave every line of an object to the parser
    text = _pretty_history(4000)
    assert len(text) > 1 << 18
    got, want, _ = _both(text)
    assert got == want and sum(r[4] == "train" for r in want) == 4000


def test_a_pretty_printed_configuration_is_not_a_training_record():
    text = 'config:\n{\n  "learning_rate": 0.0,\n  "warmup_steps": 0,\n  "loss": 0.0\n}\nepoch 1 loss 2.3\n'
    got, want, _ = _both(text)
    assert got == want and [r[1] for r in want] == ["epoch 1 loss 2.3"]


def test_an_object_interrupted_by_a_log_line_is_dropped():
    # the epoch and loss before the log line are not joined to the members after it
    text = ('{\n  "epoch": 1,\n  "loss": 0.5,\nstep 7 loss 0.25\n  "step": 9,\n  "loss": 0.75\n}\n')
    got, want, _ = _both(text)
    assert got == want
    assert [(r[0], r[1], r[7]) for r in want] == [(4, "step 7 loss 0.25", 7), (5, '{"step": 9, "loss": 0.75}', 9)]
