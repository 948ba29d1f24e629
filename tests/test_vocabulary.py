"""The metric vocabulary (issue 14): names written in every style people use get one meaning."""
import pytest

from conftest import SAMPLES
from logdoc.core import vocabulary
from logdoc.core.vocabulary import meaning, tokens

# name -> (phase, kind); None: the name itself does not say
TYPED = {
    "val_acc": ("val", "score"), "valAcc": ("val", "score"), "Val Acc": ("val", "score"),
    "valid_loss": ("val", "loss"), "eval/loss": ("val", "loss"), "test/top1": ("test", "score"),
    "test_top5": ("test", "score"), "val_f1": ("val", "score"), "eval_precision": ("val", "score"),
    "val_recall": ("val", "score"), "bbox_mAP_50": (None, "score"), "AP50": (None, "score"),
    "val_mIoU": ("val", "score"), "val_dice": ("val", "score"), "val_auc": ("val", "score"),
    "eval_bleu": ("val", "score"), "rouge-L": (None, "score"), "dev_wer": ("val", "error_rate"),
    "CER": (None, "error_rate"), "val_ppl": ("val", "perplexity"), "eval_perplexity": ("val", "perplexity"),
    "loss_rpn_cls": (None, "loss_component"), "box_loss": (None, "loss_component"),
    "train_loss": ("train", "loss"), "total_loss": (None, "loss"), "lm loss": (None, "loss"),
    "validation_0-logloss": ("val", "loss"), "decode.loss_dice": (None, "loss_component"),
    "loss_iou": (None, "loss_component"), "val_PSNR": ("val", "unbounded_score"), "val_mae": ("val", "loss"),
    "best_acc": (None, "running_best"), "best_mean_loss": (None, "running_best"),
    "running_loss": (None, "running_mean"),
    "train_runtime": ("train", "time"), "eta": (None, "time"), "data_time": (None, "time"),
    "it/s": (None, "throughput"), "train_samples_per_second": ("train", "throughput"),
    "eval_samples": ("val", "count"), "num_tokens": (None, "count"), "total_flos": (None, "count"),
    "max_mem": (None, "memory"), "memory": (None, "memory"), "epoch": (None, "counter"),
    "global_step": (None, "counter"), "lr": (None, "learning_rate"), "lr-AdamW/pg1": (None, "learning_rate"),
    "grad_norm": (None, "grad_norm"), "loss_scale": (None, "loss_scale"), "ep_rew_mean": (None, "reward"),
    "Acc@1": (None, "score"), "mAP@.5:.95": (None, "score"), "f-score": (None, "score"),
    "dev-clean-LER": ("val", "error_rate"), "validloss": ("val", "loss"), "MAPE": (None, "loss"),
    "val_r_square": ("val", "score"), "explained_variance": (None, "unbounded_score"),
    "Walltime": (None, "time"), "Initial learn rate": (None, "learning_rate"),
    "aAcc": (None, "score"), "mAcc": (None, "score"), "score": (None, "score"), "score_mean": (None, "reward"),
}


@pytest.mark.parametrize("name", TYPED)
def test_names_never_listed_get_phase_and_kind(name):
    m = meaning(name)
    assert (m.phase, m.kind) == TYPED[name]


def test_tokens_split_every_writing_style():
    assert tokens("valAcc") == tokens("val_acc") == tokens("Val Acc") == tokens("val/acc") == ["val", "acc"]
    assert tokens("mAP") == ["map"]           # a one-letter prefix is not a camel-case word


def test_direction_and_bounds_follow_the_kind():
    assert (meaning("val_acc").direction, meaning("val_acc").bounds) == ("higher", "[0, 1] or [0, 100]")
    assert meaning("wer").direction == "lower"
    assert meaning("best_acc").direction == "higher" and meaning("best_val_loss").direction == "lower"
    assert meaning("train_runtime").direction is None and not meaning("train_runtime").judged


def test_role_and_record_phase_decide_what_the_name_does_not():
    m = meaning("subspace_align", "val_metric", "eval")
    assert (m.phase, m.kind, m.decided_by) == ("val", "unknown", "unknown")
    m = meaning("Δparam", "param_delta")     # named in _metrics.toml: the vocabulary decided
    assert m.kind == "update_size" and m.decided_by == "vocabulary"
    assert meaning("xyz", "grad_norm").decided_by == "pattern"


def test_a_pattern_file_declares_its_framework_names_below_the_config():
    # patterns/spacy.toml's [metrics]: spaCy's dev-set score columns (loaded with the built-ins)
    from logdoc.parsing.patterns import default_patterns

    default_patterns()
    m = meaning("ENTS_F")
    assert (m.phase, m.kind, m.direction, m.decided_by) == ("val", "score", "higher", "pattern")
    try:
        vocabulary.use_overrides({"ents_f": {"kind": "error_rate"}})
        assert (meaning("ENTS_F").kind, meaning("ENTS_F").decided_by) == ("error_rate", "override")
    finally:
        vocabulary.use_overrides(None)
    assert meaning("ENTS_F").decided_by == "pattern"


def test_a_bad_metrics_table_in_a_pattern_file_is_a_pattern_error(tmp_path):
    from logdoc.parsing.patterns import PatternError, load_family

    bad = tmp_path / "bad.toml"
    bad.write_text('schema = "logdoc.pattern/1"\n[family]\nid = "bad"\n[metrics]\nfoo = { kind = "nope" }\n'
                   '[[rule]]\nid = "r"\nregex = "x"\n  [[rule.sample]]\n  line = "x"\n')
    with pytest.raises(PatternError, match="unknown kind 'nope'"):
        load_family(bad)


def test_overrides_win_and_are_checked():
    try:
        vocabulary.use_overrides({"subspace_align": {"kind": "score"}})
        m = meaning("subspace_align", "val_metric", "eval")
        assert (m.kind, m.direction, m.decided_by) == ("score", "higher", "override")
    finally:
        vocabulary.use_overrides(None)
    assert meaning("subspace_align").kind == "unknown"
    with pytest.raises(ValueError, match="unknown kind 'banana'"):
        vocabulary.validate({"foo": {"kind": "banana"}}, "logdoc.toml")
    with pytest.raises(ValueError, match="unknown key 'kinds'"):
        vocabulary.validate({"foo": {"kinds": "score"}}, "logdoc.toml")


def test_metrics_command_lists_every_metric_with_its_meaning(cli):
    run = cli("metrics", SAMPLES / "warmup-zero-lr-broken.log", "--format", "json")
    rows = {r["name"]: r for r in run.json()}
    assert rows["val_loss"]["phase"] == "val" and rows["val_loss"]["kind"] == "loss"
    assert rows["lr/head"]["kind"] == "learning_rate" and rows["lr/head"]["first_line"] == 5
    assert rows["train_loss"]["count"] == 30
    assert set(rows["subspace_align"]) == {"name", "phase", "kind", "direction", "bounds", "agg",
                                           "count", "first_line", "decided_by"}
    text = cli("metrics", SAMPLES / "warmup-zero-lr-broken.log")
    assert text.out.splitlines()[0].split() == ["name", "phase", "kind", "direction", "bounds", "agg",
                                                "count", "first_line", "decided_by"]


def test_metrics_command_reads_overrides_from_logdoc_toml(cli, tmp_path, monkeypatch):
    (tmp_path / "logdoc.toml").write_text('[metrics]\nsubspace_align = { kind = "score" }\n')
    monkeypatch.chdir(tmp_path)
    try:
        rows = {r["name"]: r for r in cli("metrics", SAMPLES / "warmup-zero-lr-broken.log", "-f", "json").json()}
    finally:
        vocabulary.use_overrides(None)
    assert rows["subspace_align"]["kind"] == "score" and rows["subspace_align"]["decided_by"] == "override"


def test_a_bad_metrics_declaration_is_one_line_and_exit_2(cli, tmp_path, monkeypatch):
    (tmp_path / "logdoc.toml").write_text('[metrics]\nfoo = { kind = "banana" }\n')
    monkeypatch.chdir(tmp_path)
    run = cli("metrics", SAMPLES / "warmup-zero-lr-broken.log")
    assert run.code == 2 and "unknown kind 'banana'" in run.err and len(run.err.strip().splitlines()) == 1


def test_readme_metrics_example_is_what_the_command_prints(cli):
    import re

    from conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    block = re.search(r"\$ logdoc metrics sample_logs/warmup-zero-lr-broken.log\n(.*?)```", readme, re.S).group(1)
    run = cli("metrics", SAMPLES / "warmup-zero-lr-broken.log")
    assert run.out.strip() == block.strip()


@pytest.mark.parametrize("name, named", [
    ("val_loss improved from", False), ("to", False), ("not improve from", False),
    ("loss per", False), ("val_loss", True), ("the validation loss", True), ("Best Val", True),
])
def test_free_text_names_ending_in_a_linking_word_name_no_metric(name, named):
    assert vocabulary.is_metric_name(name) is named


def test_an_identifier_ending_in_a_linking_token_is_still_a_name():
    assert vocabulary.is_metric_name("acc_at") and vocabulary.is_metric_name("recall_at")
