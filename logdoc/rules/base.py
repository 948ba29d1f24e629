"""What a rule is: a small stateful observer of the record stream.

A rule sees the records in batches (`observe_batch`, see logdoc.core.batch) and may emit
findings; at end of input the engine calls `finish` for verdicts that need the whole run.
A rule may instead implement `observe(rec)`, one record at a time: the default
`observe_batch` then calls it for each record the rule wants. Rules on frequent roles (loss,
grad_norm, lr) implement `observe_batch` and loop over plain columns, because per-record
objects cost more than the rule itself on a long log. State lives on the instance and
must stay bounded (counters, short windows), because `watch` feeds a live stream of any
length through the same rules. The class docstring is the rule's documentation: a summary
line, then the sections in DOC_SECTIONS (rendered by `logdoc explain`, checked by tests).
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, ClassVar

from ..core.model import Evidence, Finding, Record, Severity

if TYPE_CHECKING:
    from ..core.batch import Batch

DOC_SECTIONS = ("What it does", "Why is this bad?", "Example", "Fix", "Options", "False positives")


class Rule:
    id: ClassVar[str]                       # kebab-case, reads well as "allow <id>"
    category: ClassVar[str]                 # one of model.CATEGORIES
    severity: ClassVar[Severity] = Severity.warning
    options: ClassVar[dict] = {}            # name -> default value
    # The roles (and "event" for event lines) this rule reads; the engine routes only such
    # records to it. None: every record.
    wants: ClassVar[frozenset[str] | None] = None

    def __init__(self, **options):
        unknown = set(options) - set(self.options)
        if unknown:
            raise ValueError(f"rule {self.id}: unknown option(s) {', '.join(sorted(unknown))}")
        self.opt = {**self.options, **options}

    def observe_batch(self, batch: "Batch") -> Iterable[Finding]:
        """Default: `observe` for each record of the batch this rule wants."""
        if type(self).observe is Rule.observe:
            raise NotImplementedError(f"rule {self.id} implements neither observe nor observe_batch")
        for i in batch.rows_for(self.wants):
            yield from self.observe(batch.record(i))

    def observe(self, rec: Record) -> Iterable[Finding]:
        """Default: a batch of this one record."""
        from ..core.batch import Batch

        return self.observe_batch(Batch.from_records([rec]))

    def finish(self) -> Iterable[Finding]:
        return ()

    def finding(self, rec: Record, message: str, *, evidence: Iterable[Record] = (),
                metric: str | None = None, tags: Iterable[str] = ()) -> Finding:
        """A finding located at `rec`, quoting it first and then any further evidence."""
        quoted = [rec, *[e for e in evidence if e is not rec]]
        return Finding(rule=self.id, category=self.category, severity=self.severity,
                       message=message, line=rec.line,
                       evidence=[Evidence(r.line, r.text) for r in quoted],
                       epoch=rec.epoch, step=rec.step, metric=metric, tags=frozenset(tags))

    # ---- documentation
    @classmethod
    def summary(cls) -> str:
        return (cls.__doc__ or "").strip().splitlines()[0].strip() if cls.__doc__ else ""

    @classmethod
    def doc_sections(cls) -> dict[str, str]:
        """Split the docstring into {section title: body}; the summary is 'What it does'."""
        import inspect

        text = inspect.cleandoc(cls.__doc__ or "")
        parts = re.split(r"^## (.+)$", text, flags=re.M)
        sections = {"What it does": parts[0].strip()}
        for title, body in zip(parts[1::2], parts[2::2]):
            sections[title.strip()] = body.strip()
        return sections


def fmt(value: float) -> str:
    """A number as a log would show it: 0.0, 1.92, 3.3e-05, inf, nan."""
    if value != value:
        return "nan"
    if value in (float("inf"), float("-inf")):
        return "inf" if value > 0 else "-inf"
    text = repr(float(value))
    return text if len(text) <= 10 else f"{value:.6g}"


# ---- helpers shared by the rules (they read roles, never a framework's spelling)

def train_loss(rec: Record):
    """The training loss a record reports, or None.

    A record may carry several loss-role metrics (components such as `loss_cls`, `loss_box`
    beside their total). The total of non-negative components is the largest of them, so the
    largest value stands for the record; a non-finite one wins, because it poisons the total.
    """
    global _last_train_loss
    if _last_train_loss[0] is rec:        # several rules ask about the same record in a row
        return _last_train_loss[1]
    result = None
    if rec.phase == "train":
        losses = [m for m in rec.metrics if m.role == "loss"]
        if losses:
            bad = [m for m in losses if not m.finite]
            result = bad[0] if bad else max(losses, key=lambda m: m.value)
    _last_train_loss = (rec, result)
    return result


_last_train_loss: tuple = (None, None)


def is_final(rec: Record) -> bool:
    """True when the record is at the last step or epoch the log announced."""
    if rec.step is not None and rec.step_total:
        return rec.step >= rec.step_total
    if rec.epoch is not None and rec.epoch_total:
        return rec.epoch >= rec.epoch_total
    return False


def loss_label(name: str) -> str:
    """`train_loss` stays itself; a bare `loss` becomes `training loss`."""
    return name if "train" in name.lower() else f"training {name}"


class Hold:
    """A condition that must hold for `n` consecutive reports before it counts (Prometheus'
    `for:`): `update` returns True once per episode, on the report that completes it; a report
    where the condition fails ends the episode. `first` is the record where the episode began.

    `update_at(holds, batch, i)` is the same for row i of a batch: the first row is kept as
    (batch, row) and only turned into a Record when `first` is read (for a finding)."""

    __slots__ = ("n", "_first", "count", "fired")

    def __init__(self, n: int):
        self.n = n
        self._first = None
        self.count = 0
        self.fired = False

    @property
    def first(self) -> Record | None:
        first = self._first
        if first is None or isinstance(first, Record):
            return first
        batch, i = first
        return batch.record(i)

    def update(self, holds: bool, rec: Record) -> bool:
        return self._update(holds, rec)

    def update_at(self, holds: bool, batch: "Batch", i: int) -> bool:
        return self._update(holds, (batch, i)) if holds or self._first is not None else False

    def _update(self, holds: bool, where) -> bool:
        if not holds:
            self._first, self.count, self.fired = None, 0, False
            return False
        if self._first is None:
            self._first = where
        self.count += 1
        if self.count >= self.n and not self.fired:
            self.fired = True
            return True
        return False


class Reports:
    """Tells a new report of a series from a reprint of the last one, and per-epoch series
    from per-step ones.

    With a step, a report is new when the (epoch, step) changes: progress bars redraw the
    same step several times. Without a step, lines of the same epoch are separate reports
    unless the line is repeated verbatim (many loops print per-batch losses with the epoch
    only). A series is per-epoch as long as every new report is at a new, whole epoch
    without a step.

    With `one_series`, only records of the first pattern that reports are followed: a log
    that prints per-step losses and per-epoch averages on different lines holds two series
    whose values must not be mixed.
    """

    __slots__ = ("pos", "text", "per_epoch", "count", "one_series", "pattern")

    def __init__(self, one_series: bool = False):
        self.pos = None
        self.text: str | None = None
        self.per_epoch = True
        self.count = 0
        self.one_series = one_series
        self.pattern: str | None = None

    def state(self) -> tuple:
        return (self.one_series, self.pattern, self.pos, self.text, self.per_epoch, self.count)

    def restore(self, state: tuple) -> None:
        self.one_series, self.pattern, self.pos, self.text, self.per_epoch, self.count = state

    def is_new(self, rec: Record) -> bool:
        return self.is_new_at(rec.pattern, rec.epoch, rec.step, rec.text)

    def is_new_at(self, pattern: str, epoch, step, text: str) -> bool:
        """`is_new` from a batch's columns (no Record needed)."""
        if self.one_series:
            if self.pattern is None:
                self.pattern = pattern
            elif pattern != self.pattern:
                return False
        # A nan counter (`epoch=nan`) is no position. Compared as a number it would equal
        # nothing, in a tuple only the same object: records that inherit it would then be
        # reprints on a list batch and new reports on a columns batch (a float per row).
        if epoch != epoch:
            epoch = None
        if step != step:
            step = None
        pos = (epoch, step)
        if epoch is None and step is None:
            new = True
        elif step is not None:
            new = pos != self.pos
        else:
            new = pos != self.pos or text != self.text
        if new:
            if (step is not None or epoch is None or not float(epoch).is_integer()
                    or (self.pos is not None and epoch == self.pos[0])):
                self.per_epoch = False     # fractional epochs (HF's 2.47) are per-step reports
            self.count += 1
        self.pos, self.text = pos, text
        return new


def near_start(rec: Record) -> bool:
    """The record is in the first epoch and the first 1000 steps (or does not say)."""
    return (rec.epoch is None or rec.epoch <= 1) and (rec.step is None or rec.step <= 1000)


def significant_digits(value: float) -> int:
    """Significant digits of the shortest repr: a proxy for the printed precision."""
    mantissa = repr(abs(value)).lower().split("e")[0].replace(".", "").lstrip("0")
    return len(mantissa)


_PRINTED_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def printed_digits(text: str, name: str, value: float) -> int:
    """Significant digits of `value` as the line printed it after `name` (trailing zeros
    count: `0.5000` has 4), or as its shortest repr when the line does not show it."""
    at = text.find(name)
    while at >= 0:
        m = _PRINTED_NUMBER.search(text, at + len(name))
        if m is None or m.start() - (at + len(name)) > 8:
            break
        token = m.group()
        try:
            if float(token) == value:
                mantissa = token.lower().lstrip("+-").split("e")[0].replace(".", "").lstrip("0")
                return max(len(mantissa), 1)
        except ValueError:
            pass
        at = text.find(name, at + 1)
    return significant_digits(value)
