from __future__ import annotations

import math

from ..core import vocabulary
from ..core.batch import Batch
from ..core.model import Severity
from . import register
from ._traits import RunTraits
from .base import Rule

# What a value of exactly 0 condemns: a score (an accuracy, F1, mAP, Dice… of 0 means never
# right), and a loss term beside another that is not 0 (that part of the objective
# contributes nothing). Error rates, rewards, counts and unknown names may be 0.
_JUDGED = frozenset({"score", "loss", "loss_component"})


@register
class MetricZero(Rule):
    """A score or a loss component is exactly 0 at every report, report after report.

    Follows every metric the vocabulary types as a score (accuracy, top-1/5, F1, AUC,
    precision, recall, mAP/AP, IoU, Dice, BLEU, ROUGE, exact match…, in any phase and any
    spelling) or as a loss component (`loss_cls`, `MainLoss`, `Loss_D`) and fires when one is
    exactly 0 at `hold` consecutive reports of different positions. A loss component counts
    only on records whose total loss is finite and not 0 (a component of a zero total is
    `loss-zero`'s). The message gives the extent of the run of zeros, updated until it ends.

    ## Why is this bad?
    Even a random classifier scores about 1/C, and a float loss term of a real model is never
    exactly 0. A score of exactly 0 every time means the metric compares incompatible things:
    predictions and labels of different shapes or encodings (one-hot vs index, logits vs
    ids), a regression target scored with classification accuracy, or a metric that is never
    updated. A loss term of exactly 0 beside a non-zero total means that term never sees its
    input (no positive boxes, an auxiliary head that is not connected, a discriminator that
    wins outright).

    ## Example
    ```
    178/178 - loss: 0.1583 - acc: 0.0000e+00 - val_loss: 0.0187 - val_acc: 0.0000e+00
    178/178 - loss: 0.0636 - acc: 0.0056 - val_loss: 0.0673 - val_acc: 0.0000e+00
    178/178 - loss: 0.0609 - acc: 0.0056 - val_loss: 0.0161 - val_acc: 0.0000e+00
    ```

    ## Fix
    Check what the metric compares: use a regression metric (MAE, RMSE) for regression, the
    matching accuracy for your label encoding (`sparse_categorical_accuracy` for integer
    labels), and that the metric is updated with the model's predictions. For a loss term,
    print its inputs for one batch: are there targets for it at all?

    A metric that printed a non-zero value before has shown it can be right: a few zeros
    after it are the noise of a small score (a per-batch accuracy of 0 or 1/128 while a
    10 000-class model is near chance). Its run of zeros counts only when it lasts
    `hold_after_nonzero` reports, or `hold` reports up to the end of the log (a collapse).
    A log shorter than that (an excerpt of two evaluations) is judged as a reader would: a
    metric exactly 0 at every one of its reports, at least two, is reported at the end.

    ## Options
    - `hold` (default 3): consecutive zero reports before firing.
    - `hold_after_nonzero` (default 10): the same, for a metric that was non-zero before.

    ## False positives
    In a run that prints rewards or policy losses (reinforcement learning) only scores are
    judged, and no name of a reward (`rewards/format`): a policy objective or a reward may be
    exactly 0. A detector's mAP can be 0 for its first epochs while boxes are still random; `hold`
    counts consecutive reports, so raise it for long warm-ups. A loss term that is switched
    off on purpose (weight 0) prints 0 too: ignore the rule for that run, or declare the name
    with another kind under `[metrics]`.
    """

    id = "metric-zero"
    category = "metric-zero"
    severity = Severity.warning
    options = {"hold": 3, "hold_after_nonzero": 10}

    def __init__(self, **options):
        super().__init__(**options)
        # name -> [first record, count, last position, last line, finding or None, reports needed]
        self.runs: dict[str, list] = {}
        self.done: set[str] = set()        # names whose run of zeros was reported and ended
        self.nonzero: set[str] = set()     # names that printed a value other than 0 (or may have)
        self.traits = RunTraits()


    def observe_batch(self, b: Batch):
        yield from self._observe(b)
        # a name printed by this batch and not in a run of zeros now printed something else
        # (a run would still be open): what it prints next may be noise around a small score
        if len(self.nonzero) < 4096:
            self.nonzero.update(n for n in b.metric_names() if n not in self.runs)

    def _observe(self, b: Batch):
        zeros = b.entries_equal(0.0)
        if not zeros and not self.runs:
            return
        # every value of a name that is followed or may start a run here: a non-zero ends it
        rl = self.traits.update(b).reinforcement
        names = {n for n in b.entry_names(zeros) if n not in self.done and _kind(n) in _JUDGED
                 and not (rl and (_kind(n) != "score" or vocabulary.is_reinforcement(n)))}
        names.update(self.runs)
        entries = b.entries_named(names) if names else []
        for j in entries:
            i, name, role, value = b.entry(j)
            if name in self.done:
                continue
            run = self.runs.get(name)
            if value != 0.0:
                self.nonzero.add(name)
                if run is not None:
                    del self.runs[name]
                    if run[4] is not None:
                        self.done.add(name)
                continue
            if run is None and (len(self.runs) >= 64 or not _judged(b, i, name, role)):
                continue                     # bounded: a log with endless metric names
            # a report is new when its position changes; lines that give only the epoch are
            # separate reports unless repeated verbatim (as base.Reports decides)
            pos = (b.epoch[i], b.step[i], b.text[i] if b.step[i] is None else None)
            if run is None:
                need = self.opt["hold_after_nonzero" if name in self.nonzero else "hold"]
                self.runs[name] = [b.record(i), 1, pos, b.line[i], None, need]
                continue
            if pos[:2] != (None, None) and pos == run[2]:
                continue                     # a reprint of the same report
            if run[4] is None and not _judged(b, i, name, role):
                continue
            run[1] += 1
            run[2], run[3] = pos, b.line[i]
            if run[4] is not None:           # already reported: the message follows the run
                run[4].message = _message(name, run)
            elif run[1] >= run[5]:
                run[4] = self.finding(run[0], _message(name, run), evidence=[b.record(i)], metric=name)
                yield run[4]

    def finish(self):
        for name, run in self.runs.items():
            if run[4] is not None:
                continue
            if run[1] >= self.opt["hold"]:
                # a metric that was right before and is 0 at its last `hold` reports: a collapse
                yield self.finding(run[0], _message(name, run) + ", up to the end of the log", metric=name)
            elif run[1] >= 2 and name not in self.nonzero:
                # a short log: 0 at every one of its reports, which a reader takes in at a glance
                yield self.finding(run[0], f"{name} is exactly 0 at every report of the log ({run[1]}, lines "
                                           f"{run[0].line}–{run[3]}): {_why(name)}", metric=name)


def _message(name: str, run: list) -> str:
    return (f"{name} is exactly 0 at {run[1]} consecutive reports (lines {run[0].line}–{run[3]}): {_why(name)}")


def _why(name: str) -> str:
    return ("the metric never sees a correct prediction" if vocabulary.meaning(name).kind == "score"
            else "this part of the loss contributes nothing while the total is not 0")


def _kind(name: str) -> str:
    return vocabulary.meaning(name).kind


def _judged(b: Batch, i: int, name: str, role: str) -> bool:
    kind = vocabulary.meaning(name, role).kind
    if kind == "score":
        return True
    if kind not in ("loss", "loss_component"):
        return False               # an aux_loss may be switched off: 0 is its off state
    # a loss term: the record must also carry another loss term that is finite and not 0 (a
    # total, a sibling component, the other player of a GAN); a loss printed alone is
    # loss-zero's, and a record whose every loss is 0 has nothing to compare with
    return any(m.name != name and math.isfinite(m.value) and m.value != 0.0
               and vocabulary.meaning(m.name, m.role).kind in _LOSSES for m in b.record(i).metrics)


_LOSSES = frozenset({"loss", "loss_component", "aux_loss"})   # siblings a zero term is compared with
