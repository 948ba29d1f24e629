"""`logdoc coverage`: metric-looking lines no pattern recognised, and the corpus figure."""
import json
from pathlib import Path

import pytest

from logdoc.cli.coverage import looks_like_metric, measure, shape

CORPUS = Path(__file__).parent / "corpus"
LOGS = sorted(CORPUS.glob("*.log"))


def test_the_corpus_is_there():
    cases = json.loads((CORPUS / "cases.json").read_text())
    assert len(LOGS) == len(cases) >= 30
    assert {c["file"] for c in cases} == {p.name for p in LOGS}


def test_coverage_over_the_corpus_leaves_at_most_5_percent_unrecognised():
    metric_like = unrecognised = 0
    for path in LOGS:
        cov = measure(str(path))
        metric_like += cov.metric_like
        unrecognised += len(cov.unrecognised)
    assert metric_like > 300
    assert unrecognised / metric_like <= 0.05, f"{unrecognised}/{metric_like} unrecognised"


@pytest.mark.parametrize("path", LOGS, ids=lambda p: p.name[:3])
def test_every_corpus_log_with_metric_lines_is_mostly_recognised(path):
    cov = measure(str(path))
    if cov.metric_like >= 5:
        assert cov.unrecognised_ratio <= 0.2, cov.unrecognised[:3]


@pytest.mark.parametrize("text, expected", [
    ("loss: 0.25", True), ("lr=1e-4", True), ("{'loss': 0.2051, 'epoch': 0.53}", True),
    ('{"train_loss": 3.2, "epoch": 249}', True), ("valid loss  2.94", True), ("grad_norm: nan", True),
    ("Using 0 dataloader workers", False), ("Epoch 1/100", False),
    ("[after dataloaders are built] datetime: 2022-10-31 08:35:51", False), ("eta: 0:03:06", False),
    ('  File "train.py", line 179, in <module>', False), ("", False),
])
def test_what_looks_like_a_metric(text, expected):
    assert looks_like_metric(text) is expected


def test_shapes_mask_numbers():
    assert shape("step 12  | acc:0.51   top5 = 9e-3") == "step <N> | acc:<N> top<N> = <N>"


# Open-world reading takes any "name: number" pair; a number printed as a quoted string is a
# shape it leaves to a pattern file.
LOG = """\
starting run
{'loss': 0.5, 'learning_rate': 1e-4, 'epoch': 0.1}
my_custom_metric='0.91' at batch 3
my_custom_metric='0.93' at batch 4
other thing='7'
"""


def test_json_contract(tmp_path, cli):
    log = tmp_path / "run.log"
    log.write_text(LOG)
    run = cli("coverage", log, "--format", "json")
    assert run.code == 0, run.err
    doc = run.json()
    assert doc["lines"] == 5 and doc["recognised"] == [2]
    assert doc["unrecognised"] == [
        {"line": 3, "text": "my_custom_metric='0.91' at batch 3"},
        {"line": 4, "text": "my_custom_metric='0.93' at batch 4"},
        {"line": 5, "text": "other thing='7'"},
    ]
    assert doc["shapes"][0] == {"shape": "my_custom_metric='<N>' at batch <N>", "count": 2, "first_line": 3}


def test_terminal_report_groups_by_shape_and_a_user_pattern_closes_the_gap(tmp_path, cli):
    log = tmp_path / "run.log"
    log.write_text(LOG)
    run = cli("coverage", log)
    assert run.code == 0 and "2 × line 3: my_custom_metric='<N>' at batch <N>" in run.out
    pattern = tmp_path / "mine.toml"
    pattern.write_text('''
schema = "logdoc.pattern/1"
[family]
id = "my-script"
[[rule]]
id = "custom"
regex = "^my_custom_metric='%{FLOAT:my_custom_metric}' at batch %{INT}"
fields = { my_custom_metric = "val_metric" }
  [[rule.sample]]
  line = "my_custom_metric='0.91' at batch 3"
  expect = { my_custom_metric = 0.91 }
''')
    doc = cli("coverage", log, "-f", "json", "--patterns", pattern).json()
    assert doc["recognised"] == [2, 3, 4]


def test_fail_above_and_bad_input(tmp_path, cli):
    log = tmp_path / "run.log"
    log.write_text(LOG)
    assert cli("coverage", log, "--fail-above", "50").code == 1
    assert cli("coverage", log, "--fail-above", "90").code == 0
    run = cli("coverage", tmp_path / "missing.log")
    assert run.code == 2 and run.err.startswith("logdoc: error:")
    run = cli("coverage", log, "--format", "xml")
    assert run.code == 2
