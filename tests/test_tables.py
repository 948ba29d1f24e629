"""The tables (logdoc.views.tables) kept column by column give the frames and rows a table of one
tuple per metric gave, however the log was read."""
from __future__ import annotations

import pandas as pd
import pytest

from conftest import ROOT, SAMPLES
from logdoc.source.reading import iter_blocks, lines_from_text
from logdoc.engine.session import Session
from logdoc.core import vocabulary
from logdoc.views.tables import METRIC_COLUMNS, TableBuilder
from streams import Trickle, vector_everywhere

LOGS = sorted([*(ROOT / "tests" / "corpus").glob("*.log"), *SAMPLES.glob("*.log")])


def _reference_rows(text: bytes) -> list[tuple]:
    """One tuple per metric from the line-by-line records (what TableBuilder kept before)."""
    s = Session("x")
    rows = []
    for line in lines_from_text(text):
        for rec in s.parser.feed(line):
            rows.extend((rec.line, rec.epoch, rec.step, m.name, m.role, m.group, m.value,
                         vocabulary.record_phase(m.name, m.role, rec.phase), rec.pattern) for m in rec.metrics)
    return rows


@pytest.mark.parametrize("path", LOGS[::2], ids=lambda p: p.name)
def test_columns_give_the_rows_and_frames_of_tuples(path):
    data = path.read_bytes()
    want = _reference_rows(data)
    with vector_everywhere():
        numpy = Session("x", keep_tables=True).feed_blocks(iter_blocks(Trickle(data, 2000), "x")).tables
    lists = Session("x", keep_tables=True).feed_all(lines_from_text(data)).tables
    for tables in (numpy, lists):
        assert repr(tables.rows) == repr(want)
        pd.testing.assert_frame_equal(tables.metrics(), pd.DataFrame(want, columns=METRIC_COLUMNS))


@pytest.mark.parametrize("data, phases", [
    # a Keras bar line trains, but its val_* values are evaluated (issue 14)
    (b"Epoch 1/2\n10/10 [==========] - 1s - loss: 0.5 - acc: 0.8 - val_loss: 0.6 - val_acc: 0.7\n",
     {"loss": "train", "acc": "train", "val_loss": "eval", "val_acc": "eval"}),
    (b"Epoch 1/12: train loss 1.3941  val loss 1.4228  val acc 0.1953\n",
     {"train loss": "train", "val loss": "eval", "val acc": "eval"}),
    (b"Epoch 0: 100%|##########| 18/18 [00:02<00:00,  7.1it/s, v_num=0, train_loss=0.512, val_loss=0.634, val_acc=0.71]\n",
     {"train_loss": "train", "val_loss": "eval", "val_acc": "eval"}),
    (b"{'eval_loss': 0.61, 'eval_accuracy': 0.7, 'epoch': 1.0}\n", {"eval_loss": "eval", "eval_accuracy": "eval"}),
], ids=["keras", "generic", "lightning", "hf-trainer"])
def test_a_metric_carries_its_own_phase_not_only_its_line_s(data, phases):
    rows = Session("x", keep_tables=True).feed_all(lines_from_text(data)).tables.rows
    got = {name: phase for _, _, _, name, _, _, _, phase, _ in rows}
    assert {name: got.get(name) for name in phases} == phases


def test_an_empty_table_and_a_table_without_epochs_keep_their_shape():
    assert TableBuilder().rows == [] and list(TableBuilder().metrics().columns) == METRIC_COLUMNS
    rows = [(1, None, None, "loss", "loss", None, 0.5, "train", "t/p"), (2, None, 3.0, "loss", "loss", None, 0.25, "train", "t/p")]
    tb = TableBuilder()
    tb.add_rows(rows)
    assert tb.rows == rows
    pd.testing.assert_frame_equal(tb.metrics(), pd.DataFrame(rows, columns=METRIC_COLUMNS))
