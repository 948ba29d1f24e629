from __future__ import annotations


from ..core.batch import Batch
from ..core.model import Record, Severity
from . import register
from .base import Reports, Rule, fmt
from ._series import LatestLoss, report_key
from ..core.vocabulary import is_loss as is_loss_name
from ..core.vocabulary import is_score as is_score_name
from .val_better_than_train import first_per_row


@register
class Overfitting(Rule):
    """Validation loss worsens over several evaluations while the training loss improves.

    At every evaluation (a record with a `val_loss`, or, when no validation loss is logged,
    an accuracy-like validation score; reprints count once) compares with the previous
    evaluation: the validation loss rose (the score fell) by more than `min_rise` (relative)
    and the latest training loss fell. Fires when that holds for
    `patience` consecutive evaluations (UMLAUT's check per epoch pair, AUTOTRAINER's count
    of consecutive "turn bad" epochs). Or fires the way Keras `EarlyStopping` sees it: the
    best validation value not beaten for `stale` evaluations, the latest clearly worse, while
    the training loss kept falling. The message gives the whole run of rises.

    ## Why is this bad?
    The model is memorising the training set: every further epoch makes it worse on unseen
    data, and the checkpoint you keep at the end is worse than an earlier one.

    ## Example
    ```
    Epoch=2,Loss:0.467,Valid Loss:0.491
    Epoch=3,Loss:0.350,Valid Loss:0.514
    Epoch=4,Loss:0.279,Valid Loss:0.564
    Epoch=5,Loss:0.220,Valid Loss:0.644
    ```

    ## Fix
    Keep the checkpoint with the best validation loss (early stopping), add regularisation
    (weight decay, dropout, augmentation), use more data or a smaller model, lower the number
    of epochs.

    ## Options
    - `patience` (default 3): consecutive worsening evaluations before firing.
    - `min_rise` (default 0.01): relative rise of the validation loss that counts (AUTOTRAINER's ε);
      smaller rises count too when `patience` of them in a row add up to `stale_gap`.
    - `stale` (default 5): Keras EarlyStopping's view, small rises that need not be
      consecutive: the best validation value not beaten for this many evaluations ...
    - `stale_gap` (default 0.05): ... while the latest is this much (relative) worse than the
      best and the training loss fell by this much since the best.

    ## False positives
    Validation loss can rise while accuracy still improves (over-confident but correct
    predictions); the finding is a warning, check the validation metric.
    """

    id = "overfitting"
    category = "overfitting"
    severity = Severity.warning
    wants = frozenset({"loss", "val_loss", "val_metric"})
    options = {"patience": 3, "min_rise": 0.01, "stale": 5, "stale_gap": 0.05}

    def __init__(self, **options):
        super().__init__(**options)
        self.train: float | None = None          # latest training loss
        self.prev: tuple[float, float | None] | None = None   # val and train loss at the last evaluation
        self.reports = Reports()
        self.kind: str | None = None            # "loss" or "score": the validation signal followed
        self.count = 0
        self.first: Record | None = None
        self.fired = False
        self.following = None                   # the finding whose message follows the rises
        self.last: tuple | None = None
        self.best: tuple | None = None          # (best validation value, its record, train loss then)
        self.soft: list | None = None           # [rises, value before them, first rise]: rises of any size
        self.since_best = 0

    def observe_batch(self, b: Batch):
        if self.fired and self.following is None:
            return
        losses = LatestLoss(b, train_only=True)
        rows, names, values, worse_if_higher = self._signals(b)
        for i, name, val in zip(rows, names, values):
            train = losses.up_to(i)
            if train is not None:
                self.train = train
            if not self.reports.is_new_at(*report_key(b, i)):
                continue
            if self.fired:
                if self.following is not None:
                    self._follow(b, i, name, val, worse_if_higher)
                continue
            if self.prev is not None:
                prev_val, prev_train = self.prev
                step = self.opt["min_rise"] * abs(prev_val)
                worse = val > prev_val + step if worse_if_higher else val < prev_val - step
                fell = self.train is not None and prev_train is not None and self.train < prev_train
                if worse and fell:
                    self.count += 1
                    self.first = self.first or b.record(i)
                else:
                    self.count, self.first = 0, None
                # small rises count too when together they are clear (Keras' min_delta=0)
                if fell and (val > prev_val if worse_if_higher else val < prev_val):
                    if self.soft is None:
                        self.soft = [0, prev_val, b.record(i)]
                    self.soft[0] += 1
                else:
                    self.soft = None
            self.prev = (val, self.train)
            if self.soft is not None and self.count < self.opt["patience"]:
                rises, start, start_rec = self.soft
                total = (val - start if worse_if_higher else start - val) / abs(start) if start else 0.0
                if rises >= self.opt["patience"] and total >= self.opt["stale_gap"]:
                    self.count, self.first = rises, start_rec
            stale = self._stale(b, i, val, worse_if_higher)
            if self.count >= self.opt["patience"] or stale:
                self.fired = True
                self.verb = "rose" if worse_if_higher else "fell"
                rec = b.record(i)
                if stale:
                    best, best_rec, best_train = self.best
                    message = (f"{name} has not beaten its best {fmt(best)} (line {best_rec.line}) for "
                               f"{self.since_best} evaluations, {fmt(val)} at line {rec.line}, while the "
                               f"training loss fell from {fmt(best_train)} to {fmt(self.train)}: overfitting")
                    yield self.finding(best_rec, message, evidence=[rec], metric=name)
                    return
                self.following = self.finding(self.first, "", evidence=[rec], metric=name)
                self.last = (val, rec.line)
                self.following.message = self._rising_message(name, val, rec.line)
                yield self.following
        train = losses.up_to(float("inf"))
        if train is not None:
            self.train = train

    def _stale(self, b: Batch, i: int, val: float, worse_if_higher: bool) -> bool:
        """Keras EarlyStopping's view: the best validation value not beaten for `stale`
        evaluations, the latest clearly worse than it, while the training loss kept falling."""
        better = self.best is None or (val < self.best[0] if worse_if_higher else val > self.best[0])
        if better:
            self.best, self.since_best = (val, b.record(i), self.train), 0
            return False
        self.since_best += 1
        best, _, best_train = self.best
        gap = self.opt["stale_gap"] * abs(best)
        worse = val > best + gap if worse_if_higher else val < best - gap
        trained_on = (self.train is not None and best_train is not None
                      and self.train < best_train * (1 - self.opt["stale_gap"]))
        return self.since_best >= self.opt["stale"] and worse and trained_on

    def _follow(self, b: Batch, i: int, name: str, val: float, worse_if_higher: bool) -> None:
        """After firing on consecutive rises, the message follows them until one does not."""
        prev, _ = self.last
        step = self.opt["min_rise"] * abs(prev)
        if (val > prev + step) if worse_if_higher else (val < prev - step):
            self.count += 1
            self.last = (val, b.line[i])
            self.following.message = self._rising_message(name, val, b.line[i])
        else:
            self.following = None

    def _rising_message(self, name: str, val: float, line: int) -> str:
        return (f"{name} {self.verb} at {self.count} consecutive evaluations (lines "
                f"{self.first.line}–{line}, to {fmt(val)}) while the training loss fell: overfitting")

    def _signals(self, b: Batch) -> tuple:
        """(rows, names, values, worse_if_higher) of the records with a validation signal: the
        first finite validation loss of each, or (when no validation loss is logged) its first
        finite accuracy-like validation score. The first record with either decides which
        signal is followed."""
        roles = b.roles
        losses = scores = None
        if self.kind != "score" and "val_loss" in roles:
            losses = first_per_row(*b.series("val_loss")[:3])
        if self.kind != "score" and not (losses and losses[0]) and "val_metric" in roles:
            # no validation loss by role: an evaluated metric the vocabulary calls a loss is one
            # (boosting prints only its eval metrics: LightGBM's "valid_1's l2")
            losses = first_per_row(*b.series("val_metric")[:3], name_ok=is_loss_name)
        if self.kind != "loss" and "val_metric" in roles:
            scores = first_per_row(*b.series("val_metric")[:3], name_ok=is_score_name)
        if self.kind is None:
            has_loss, has_score = bool(losses and losses[0]), bool(scores and scores[0])
            if not has_loss and not has_score:
                return (), (), (), True
            if has_loss and (not has_score or losses[0][0] <= scores[0][0]):
                self.kind = "loss"
            else:
                self.kind = "score"
        if self.kind == "loss":
            return (*losses, True) if losses else ((), (), (), True)
        return (*scores, False) if scores else ((), (), (), False)
