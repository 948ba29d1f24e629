"""Lines -> records: match pattern families and carry training position between lines."""
from __future__ import annotations

from collections import Counter

from .model import Line, Record
from .patterns import PatternSet


class Parser:
    """Stateful only in what a reader also remembers: the current epoch and the totals.

    A line like `[STEP] Δparam …` does not repeat the epoch; it belongs to the epoch last
    announced, so records without a position inherit it.
    """

    def __init__(self, patterns: PatternSet):
        self.patterns = patterns
        self.epoch: float | None = None
        self.epoch_total: float | None = None
        self.step_total: float | None = None
        self.formats: Counter[str] = Counter()
        self.records = 0

    def feed(self, line: Line) -> list[Record]:
        if not line.text:
            return []
        recs = self.patterns.match(line.text, line.no)
        for rec in recs:
            self.records += 1
            self.formats[rec.family] += 1
            if rec.epoch is None:
                rec.epoch = self.epoch
            else:
                self.epoch = rec.epoch
            if rec.epoch_total is None:
                rec.epoch_total = self.epoch_total
            else:
                self.epoch_total = rec.epoch_total
            if rec.step_total is None:
                rec.step_total = self.step_total
            else:
                self.step_total = rec.step_total
        return recs
