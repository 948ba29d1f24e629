import textwrap

import pytest

from logdoc.parsing.patterns import PatternError, PatternSet, builtin_dir, load_family, load_roles, pattern_files
from logdoc.parsing.selftest import check_family

ROLES = load_roles(builtin_dir() / "_roles.toml")


@pytest.mark.parametrize("path", pattern_files([builtin_dir()]), ids=lambda p: p.name)
def test_builtin_pattern_file_passes_its_samples(path):
    family = load_family(path, ROLES, self_test=False)
    assert check_family(family, ROLES) == []
    assert all(rule.samples for rule in family.rules)


def test_builtin_family_ids_are_unique():
    ids = [load_family(p, ROLES, self_test=False).id for p in pattern_files([builtin_dir()])]
    assert len(ids) == len(set(ids))


GOOD = '''
schema = "logdoc.pattern/1"
[family]
id = "toy"
[[rule]]
id = "loss"
regex = 'loss=%{FLOAT:loss}'
fields = { loss = "loss" }
  [[rule.sample]]
  line = "step 3 loss=0.5"
  expect = { loss = 0.5 }
'''


def write(tmp_path, text):
    path = tmp_path / "toy.toml"
    path.write_text(textwrap.dedent(text))
    return path


def test_a_good_file_loads(tmp_path):
    fam = load_family(write(tmp_path, GOOD))
    assert fam.id == "toy" and fam.rules[0].id == "loss"


@pytest.mark.parametrize("change, message", [
    (("expect = { loss = 0.5 }", "expect = { loss = 0.7 }"), "sample 1 'step 3 loss=0.5': loss expected 0.7, got 0.5"),
    (('line = "step 3 loss=0.5"', 'line = "nothing here"'), "no rule matches it"),
    (('schema = "logdoc.pattern/1"', 'schema = "v0"'), "schema must be"),
    (("fields = { loss = \"loss\" }", "fields = { loss = \"lossy\" }"), "unknown role"),
    (("fields = { loss = \"loss\" }", "fields = { other = \"loss\" }"), "not a named group"),
    (("%{FLOAT:loss}", "%{NOPE:loss}"), "unknown macro"),
    (("%{FLOAT:loss}", "(%{FLOAT:loss}"), "bad regex"),
    (('id = "toy"', 'id = "Toy Family"'), "kebab-case"),
])
def test_a_broken_file_names_the_file_and_the_problem(tmp_path, change, message):
    path = write(tmp_path, GOOD.replace(*change))
    with pytest.raises(PatternError) as err:
        load_family(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_invalid_toml(tmp_path):
    with pytest.raises(PatternError, match="invalid TOML"):
        load_family(write(tmp_path, "schema = "))


def test_negative_line_matched_is_an_error(tmp_path):
    path = write(tmp_path, GOOD + '\n[[negative]]\nline = "loss=1.0"\n')
    with pytest.raises(PatternError, match="negative line"):
        load_family(path)


def test_user_file_with_same_id_overrides_builtin(tmp_path):
    text = GOOD.replace('id = "toy"', 'id = "bracket-probes"')
    user = write(tmp_path, text)
    ps = PatternSet.load([user])
    fam = next(f for f in ps.families if f.id == "bracket-probes")
    assert fam.path == user


def test_nonfinite_spellings_parse():
    ps = PatternSet.load()
    for spelling, check in [("nan", lambda v: v != v), ("NAN", lambda v: v != v), ("inf", lambda v: v == float("inf")),
                            ("-inf", lambda v: v == float("-inf")), ("Infinity", lambda v: v == float("inf")),
                            ("0.000e+00", lambda v: v == 0.0), ("1.000E-04", lambda v: v == 1e-4)]:
        (rec,) = ps.match(f"Epoch 001/030: train {spelling}  val 0.5", 1)
        assert check(rec.metrics[0].value), spelling


# ---------------------------------------------------------------------------- real lines, all families
import math
import tomllib
from pathlib import Path

from logdoc.core.model import Line
from logdoc.parsing.parser import Parser
from logdoc.parsing.decoders import decode_json, decode_pydict
from logdoc.parsing.patterns import default_patterns
from logdoc.parsing.selftest import record_values

FORMATS = Path(__file__).parent / "formats" / "lines.toml"
FORMAT_LINES = tomllib.loads(FORMATS.read_text(encoding="utf-8"))["line"]


def _parse(text, before=()):
    parser = Parser(default_patterns())
    for b in before:
        parser.feed(Line(0, b))
    records = parser.feed(Line(1, text))
    return parser, records


def _same_value(want, got):
    if isinstance(want, str):
        want = float(want)
    if got is None:
        return False
    if math.isnan(want):
        return math.isnan(got)
    return math.isclose(want, got, rel_tol=1e-9, abs_tol=1e-12)


@pytest.mark.parametrize("case", FORMAT_LINES, ids=lambda c: f"{c['section']}:{c['text'][:40]}")
def test_every_real_line_of_the_format_notes_parses_with_its_values(case):
    parser, records = _parse(case["text"], case.get("before", []))
    if case.get("records") == 0:
        assert records == []
        assert parser.recognised is case["recognised"]
        return
    assert records, f"not recognised: {case['text']!r} ({case['source']})"
    rec = records[0]
    assert rec.family == case["family"]
    assert rec.text == case["text"]                 # evidence quotes the line as printed
    got = record_values(rec)
    for key, want in case["expect"].items():
        if key in ("phase", "event"):
            assert got.get(key) == want, key
        else:
            assert _same_value(want, got.get(key)), f"{key}: expected {want!r}, got {got.get(key)!r}"
    roles = {m.name: m.role for m in rec.metrics}
    for name, role in case.get("roles", {}).items():
        assert roles.get(name) == role, name


def test_format_lines_cover_every_section_of_part_a():
    sections = {c["section"] for c in FORMAT_LINES}
    assert {f"A{i}" for i in range(1, 18)} - {"A16", "A18"} <= sections | {"A16"}
    assert {"A19", "A20"} <= sections


# ---------------------------------------------------------------------------- payload decoders

def test_pydict_tolerates_bare_nan_inf_and_unary_minus():
    items = dict(decode_pydict("{'loss': nan, 'grad_norm': inf, 'x': -inf, 'y': -0.5, 'lr': '6.667e-05'}"))
    assert math.isnan(float(items["loss"])) and float(items["grad_norm"]) == math.inf
    assert float(items["x"]) == -math.inf and float(items["y"]) == -0.5 and items["lr"] == "6.667e-05"


def test_pydict_nested_values_fall_back_to_a_safe_ast_walk():
    items = dict(decode_pydict("{'loss': -nan, 'groups': [1, 2], 'cfg': {'a': 1}, 'n': -3, 'f': __import__('os')}"))
    assert math.isnan(items["loss"]) and items["n"] == -3
    assert "groups" not in items and "cfg" not in items and "f" not in items    # never evaluated


def test_pydict_rejects_what_is_not_a_dict():
    assert decode_pydict("['loss', 1]") == [] and decode_pydict("{'loss': 1") == []


def test_json_allows_nan_and_infinity_and_numeric_strings():
    items = dict(decode_json('{"loss": NaN, "gnorm": Infinity, "lr": "1e-4", "name": "x", "ok": true, "l": [1]}'))
    assert math.isnan(items["loss"]) and items["gnorm"] == math.inf and items["lr"] == "1e-4"
    assert "ok" not in items and "l" not in items


# ---------------------------------------------------------------------------- roles, phases, semantics

def test_eval_records_carry_phase_and_validation_roles():
    _, (rec,) = _parse("{'eval_loss': 0.41, 'eval_accuracy': 0.88, 'epoch': 1.0}")
    assert rec.phase == "eval"
    assert {m.name: m.role for m in rec.metrics} == {"eval_loss": "val_loss", "eval_accuracy": "val_metric"}
    _, (rec,) = _parse("| epoch 022 | valid on 'valid' subset | loss 4.28149 | nll_loss 2.54953 | num_updates 5586")
    assert rec.phase == "eval" and rec.by_role("val_loss")[0].name == "loss"


def test_aggregation_and_counter_base_are_recorded():
    _, (rec,) = _parse("eta: 0:03:35  iter: 19  total_loss: 1.36  lr: 3.8077e-06  max_mem: 433M")
    assert rec.agg == "window_median" and rec.step_base == 0
    aggs = {m.name: m.agg for m in rec.metrics}
    assert aggs["total_loss"] == "window_median" and aggs["lr"] == "instant"
    _, (rec,) = _parse("Epoch: [15]  [ 10/209]  eta: 0:02:13  lr: 0.000000  loss: 0.5818 (0.6080)  time: 0.6731")
    by_name = {m.name: m for m in rec.metrics}
    assert by_name["loss"].value == 0.5818 and by_name["loss_avg"].agg == "global_mean"
    assert by_name["loss_avg"].role == "metric" and rec.epoch_base == 0


def test_hf_run_average_is_not_a_step_loss():
    _, (rec,) = _parse("{'train_runtime': 116.1914, 'train_loss': 2.819730052947998, 'epoch': 0.15}")
    (m,) = [m for m in rec.metrics if m.name == "train_loss"]
    assert m.role != "loss" and m.agg == "global_mean"


def test_deepspeed_lr_warning_is_an_event_not_a_zero_lr():
    line = ("[2024-01-19 08:21:59,664] [WARNING] [axolotl.utils:625] tried to get lr value before "
            "scheduler/optimizer started stepping, returning lr=0")
    _, (rec,) = _parse(line)
    assert rec.event == "lr_before_step" and rec.by_role("lr") == []


def test_overflow_messages_are_events_with_the_new_scale():
    for line, scale in [
        ("[2023-08-02 00:41:17,526] [INFO] [loss_scaler.py:183:update_scale] [deepspeed] OVERFLOW! Rank 0 "
         "Skipping step. Attempted loss scale: 4294967296, reducing to 2147483648", 2147483648),
        ("Gradient overflow.  Skipping step, loss scaler 0 reducing loss scale to 32768.0", 32768.0),
        ("| WARNING: overflow detected, setting loss scale to: 1.0", 1.0),
    ]:
        _, (rec,) = _parse(line)
        assert rec.event == "loss_scale_overflow" and rec.by_role("loss_scale")[0].value == scale


@pytest.mark.parametrize("line", [
    "batch_size=16 num_workers=8 seed=42",
    "Namespace(batch_size=16, epochs=10, lr_scheduler='cosine', seed=42)",
    "Using 4 dataloader workers, batch size = 32",
    "Downloading: 100%|██████████| 440M/440M [00:05<00:00, 80.1MB/s]",
])
def test_the_fallback_makes_no_metric_of_configuration(line):
    _, records = _parse(line)
    assert records == []


def test_the_fallback_reads_every_name_and_the_vocabulary_types_it():
    _, (rec,) = _parse("Step 5: batch_size=16, train loss=0.52, lr=1e-4, warmup=500")
    assert rec.family == "generic" and rec.step == 5
    assert {(m.name, m.role) for m in rec.metrics} == {
        ("batch_size", "metric"), ("train loss", "loss"), ("lr", "lr"), ("warmup", "metric")}
    from logdoc.core.vocabulary import meaning
    assert meaning("batch_size").kind == "count" and not meaning("batch_size").judged


@pytest.mark.parametrize("line, name, role", [
    ("[1/20][10/32]\tLoss_D: 0.0000\tLoss_G: 56.9849", "Loss_D", "metric"),   # a loss component
    ("Mean Training loss : nan", "Mean Training loss", "loss"),
    ("               Value function loss: inf", "Value function loss", "metric"),
    ("[365]\tvalid_0's auc: 0.610046", "valid_0's auc", "val_metric"),
    ("the validation loss is 0.4512", "the validation loss", "val_loss"),
    ("step = 74000: grad norm = 1.5", "grad norm", "grad_norm"),
    ("it 10 | learning rate 0.0 | foo 1.5", "learning rate", "lr"),
])
def test_the_fallback_gives_names_nobody_listed_their_role_by_meaning(line, name, role):
    _, (rec,) = _parse(line)
    assert (name, role) in {(m.name, m.role) for m in rec.metrics}


# ---------------------------------------------------------------------------- prefixes and ranks

@pytest.mark.parametrize("prefix", [
    "[rank0]: ", "0: ", "[1,0]<stdout>:", "I0919 14:15:27.775955 140151934879488 train.py:35] ",
    "[INFO|trainer.py:1610] 2022-07-26 19:15:43,852 >> ", "10/30 22:18:02 - mmengine - INFO - ",
    "2020-07-17 07:11:02 | INFO | train_inner | ", "[2023-08-02 00:41:17,526] [INFO] [engine.py:183:step] ",
    "2025-03-02 05:16:20,962 - INFO - ", "INFO:root:", "[rank1]: 2023-03-22 09:30:39 ",
])
def test_prefixes_are_peeled_before_matching(prefix):
    body = "iter 10: loss 3.2202, time 893.76ms, mfu 16.68%"
    _, (rec,) = _parse(prefix + body)
    assert rec.family == "nanogpt" and rec.step == 10 and rec.text == prefix + body


def test_the_same_line_from_several_ranks_is_counted_once():
    parser = Parser(default_patterns())
    lines = ["[rank0]: iter 10: loss 3.2202, time 893.76ms", "[rank1]: iter 10: loss 3.2202, time 893.76ms",
             "[1,1]<stdout>:iter 10: loss 3.2202, time 893.76ms", "[rank0]: iter 20: loss 3.1, time 890.00ms",
             "[rank1]: iter 20: loss 3.1, time 890.00ms"]
    recs = [r for i, line in enumerate(lines, 1) for r in parser.feed(Line(i, line))]
    assert [r.step for r in recs] == [10, 20] and parser.duplicates == 3


def test_a_rank_repeating_its_own_line_is_data_not_a_duplicate():
    parser = Parser(default_patterns())
    recs = [r for i in (1, 2) for r in parser.feed(Line(i, "[rank0]: iter 10: loss 3.2202, time 893.76ms"))]
    assert len(recs) == 2


def test_rank_dedupe_memory_is_bounded():
    parser = Parser(default_patterns())
    for i in range(5000):
        parser.feed(Line(i, f"[rank{i % 2}]: iter {i}: loss 1.0, time 1.00ms"))
    assert len(parser._dedup.seen) <= parser._dedup.window


# ---------------------------------------------------------------------------- tables with a header

def test_chainer_rows_with_blank_cells_land_under_their_columns():
    parser = Parser(default_patterns())
    header = "epoch       main/loss   validation/main/loss  main/accuracy  validation/main/accuracy  elapsed_time"
    parser.feed(Line(1, header))
    (rec,) = parser.feed(Line(2, "2           522.063     617.106               0.617117       0.415301                  1.70406"))
    assert {m.name: m.value for m in rec.metrics}["validation/main/loss"] == 617.106
    (rec,) = parser.feed(Line(3, "3           448.05                            0.693694                                 2.19765"))
    values = {m.name: m.value for m in rec.metrics}
    assert rec.epoch == 3 and values == {"main/loss": 448.05, "main/accuracy": 0.693694, "elapsed_time": 2.19765}



def test_a_row_under_a_header_of_names_must_have_one_number_per_name():
    parser = Parser(default_patterns())
    parser.feed(Line(1, "Epoch: 03 | Epoch Time: 0m 58s"))
    parser.feed(Line(2, "****train_loss,train_acc,valid_loss,valid_acc****"))
    (rec,) = parser.feed(Line(3, "5.02\t2.90\t4.96\t3.61"))
    assert rec.epoch == 3
    assert {m.name: m.value for m in rec.metrics} == {"train_loss": 5.02, "train_acc": 2.9,
                                                       "valid_loss": 4.96, "valid_acc": 3.61}
    assert parser.feed(Line(4, "5.02\t2.90\t4.96")) == []      # three numbers: another table


def test_a_table_row_may_be_a_progress_bar_with_its_epoch_of_total():
    parser = Parser(default_patterns())
    parser.feed(Line(1, "     Epoch  iou_loss  dfl_loss  cls_loss"))
    (rec,) = parser.feed(Line(2, "     43/99         0         0   0.01125: 100%|██████████| 106/106 [00:16<00:00,"))
    assert (rec.epoch, rec.epoch_total) == (43, 99)
    assert {m.name: m.value for m in rec.metrics} == {"iou_loss": 0.0, "dfl_loss": 0.0, "cls_loss": 0.01125}

# ---------------------------------------------------------------------------- broken user files

BROKEN = '''
schema = "logdoc.pattern/1"
[family]
id = "my-trainer"
[[rule]]
id = "step-loss"
regex = 'step %{INT:step} loss %{FLOAT:loss}'
fields = { step = "step", loss = "loss" }
  [[rule.sample]]
  line = "step 3 loss 0.25"
  expect = { step = 3, loss = 0.5 }
'''


def test_a_broken_user_pattern_file_is_rejected_naming_file_rule_and_sample(tmp_path, cli):
    path = tmp_path / "mine.toml"
    path.write_text(BROKEN)
    log = tmp_path / "run.log"
    log.write_text("step 3 loss 0.25\n")
    run = cli("analyze", log, "--patterns", path)
    assert run.code == 2 and run.out == ""
    assert str(path) in run.err and "'step-loss'" in run.err and "'step 3 loss 0.25'" in run.err
    assert run.err.count("\n") == 1 and "Traceback" not in run.err
    run = cli("patterns", "test", path)
    assert run.code == 1 and "step-loss" in run.out and "loss expected 0.5, got 0.25" in run.out


def test_builtin_prefix_samples_and_the_whole_set_load():
    ps = PatternSet.load()
    ids = [f.id for f in ps.families]
    assert ids[-1] == "generic"            # the fallback is tried last
    assert {"hf-trainer", "lightning", "keras", "fairseq", "mmengine", "detectron2", "ultralytics",
            "megatron", "deepspeed", "apex", "nanogpt", "llm-c", "timm", "metric-logger", "torchtune",
            "jsonl", "tensorflow", "caffe", "chainer"} <= set(ids)


def test_a_lightning_metrics_csv_is_an_input_like_any_log(tmp_path, cli):
    # lightning_logs/version_0/metrics.csv of DanyaSH759/MLOps_homework (first rows)
    csv = tmp_path / "metrics.csv"
    csv.write_text("epoch,step,train_loss,val_loss\n0,0,944.161865234375,\n0,1,966.3953247070312,\n"
                   "0,4,,681.5775146484375\n1,5,968.5335083007812,\n")
    doc = cli("analyze", csv, "-f", "json", "--fail-on", "never").json()["files"][0]
    assert doc["records"] == 4 and doc["formats"] == {"lightning": 4}
    parser = Parser(default_patterns())
    recs = [r for i, line in enumerate(csv.read_text().splitlines(), 1) for r in parser.feed(Line(i, line))]
    assert [(r.epoch, r.step) for r in recs] == [(0, 0), (0, 1), (0, 4), (1, 5)]
    assert [m.role for m in recs[2].metrics] == ["val_loss"]


def test_an_epoch_number_prefix_is_not_mistaken_for_ranks():
    # "1: loss 0.5" / "2: loss 0.5": a frozen run printing its epoch; nothing may be dropped
    parser = Parser(default_patterns())
    lines = [f"{e}: Loss: 0.5000" for e in range(1, 6)]
    recs = [r for i, line in enumerate(lines, 1) for r in parser.feed(Line(i, line))]
    assert len(recs) == 5 and parser.duplicates == 0


def test_bare_launcher_ranks_are_deduplicated_once_they_keep_coming_back():
    parser = Parser(default_patterns())
    lines = []
    for step in range(10, 60, 10):
        lines += [f"0: iter {step}: loss 3.2202, time 893.76ms", f"1: iter {step}: loss 3.2202, time 893.76ms"]
    recs = [r for i, line in enumerate(lines, 1) for r in parser.feed(Line(i, line))]
    assert parser.duplicates >= 2 and len(recs) + parser.duplicates == len(lines)
    assert sorted({r.step for r in recs}) == [10, 20, 30, 40, 50]


def test_copies_far_apart_are_not_duplicates():
    parser = Parser(default_patterns())
    first = parser.feed(Line(1, "[rank0]: iter 10: loss 3.2202, time 893.76ms"))
    later = parser.feed(Line(500, "[rank1]: iter 10: loss 3.2202, time 893.76ms"))
    assert first and later


def test_patterns_test_passes_for_every_builtin_file(cli):
    run = cli("patterns", "test")
    assert run.code == 0, run.out
    assert "FAIL" not in run.out and run.out.count("ok ") == len(pattern_files([builtin_dir()]))


def test_builtin_regexes_are_compiled_when_first_used():
    # start-up: a small log meets few of the ~140 built-in regexes (issue 7)
    import re

    from logdoc.parsing.parser import Parser
    from logdoc.source.reading import lines_from_text

    ps = PatternSet.load()
    rules = [r for fam in ps.families for r in fam.rules]
    assert rules and all(isinstance(r.regex, str) for r in rules)
    parser = Parser(ps)
    for line in lines_from_text("Epoch 001/030: train 0.217  val 1.921642\n"):
        assert parser.feed(line)
    compiled = [r for r in rules if isinstance(r.regex, re.Pattern)]
    assert 0 < len(compiled) < len(rules) // 2


def test_a_user_file_with_a_bad_regex_fails_at_load(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(textwrap.dedent('''
        schema = "logdoc.pattern/1"
        [family]
        id = "bad"
        [[rule]]
        id = "oops"
        regex = '(?P<loss>[0-9'
        fields = { loss = "loss" }
        [[rule.sample]]
        line = "x"
    '''))
    with pytest.raises(PatternError, match="bad regex"):
        PatternSet.load([bad])

