"""Lines -> records: peel prefixes, match pattern families, carry training position between lines."""
from __future__ import annotations

from collections import Counter, OrderedDict

from ..core.model import Line, Record
from .patterns import MATCH_CHARS, PatternSet


class RankDedup:
    """Drops a line that another rank has just printed with the same content.

    Launchers prefix each rank's output (`[rank1]:`, `1: `, `[1,1]<stdout>:`); the same metric
    line then arrives once per rank and would be counted, and alarmed on, N times. Content is
    compared after the prefixes (timestamps included) are peeled. Only copies close together
    count (within `distance` lines: ranks print the same step at about the same time), and only
    the last `window` distinct contents are remembered. A rank repeating its own line is kept (a
    constant loss printed twice is data).

    A weak rank ("~3", from a bare "3: " prefix that may be an epoch number) is trusted only
    once at least two such ids have each come back `confirm` times, as launcher tags do; epoch
    prefixes each appear on their own lines and never qualify.
    """

    def __init__(self, window: int = 512, distance: int = 64, confirm: int = 3):
        self.window, self.distance, self.confirm = window, distance, confirm
        self.seen: OrderedDict[str, tuple[str, int]] = OrderedDict()   # content -> (rank, line)
        self.weak_counts: Counter[str] = Counter()

    def _trusted(self, rank: str) -> bool:
        if not rank.startswith("~"):
            return True
        if len(self.weak_counts) < 64:         # bounded: launcher ids are few
            self.weak_counts[rank] += 1
        return sum(1 for n in self.weak_counts.values() if n >= self.confirm) >= 2

    def is_duplicate(self, content: str, rank: str, line_no: int) -> bool:
        if not self._trusted(rank):
            return False
        if len(content) > MATCH_CHARS:    # what the patterns read of it (bounded memory)
            content = content[:MATCH_CHARS]
        first = self.seen.get(content)
        if first is not None and first[0] != rank and line_no - first[1] <= self.distance:
            return True
        self.seen[content] = (rank, line_no)
        self.seen.move_to_end(content)
        if len(self.seen) > self.window:
            self.seen.popitem(last=False)
        return False


class Parser:
    """Stateful only in what a reader also remembers: the current epoch, the totals, the last
    table header and which rank printed what.

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
        self.duplicates = 0           # lines dropped as another rank's copy
        self.state: dict = {}         # what earlier lines declared (table headers)
        self.recognised = False       # did the last line fed match a pattern?
        self._dedup = RankDedup()

    def feed(self, line: Line) -> list[Record]:
        recs = self.parse(line)
        for rec in recs:
            self.carry(rec)
        return recs

    def parse(self, line: Line) -> list[Record]:
        """The records of one line as its pattern gives them, before `carry`."""
        self.recognised = False
        if not line.text:
            return []
        body, rank = self.patterns.peel(line.text)
        if rank is not None and self.is_rank_copy(body, rank, line.no):
            self.recognised = True
            return []
        recs, self.recognised = self.patterns.match_all(body, line.no, self.state)
        for rec in recs:
            if rec.line == line.no:       # (an object read over several lines quotes itself joined)
                rec.text = line.text      # evidence quotes the line as the log shows it
        return recs

    def is_rank_copy(self, body: str, rank: str, line_no: int) -> bool:
        """Is this line another rank's copy of a line just printed? (Counted, then dropped.)"""
        if self._dedup.is_duplicate(body, rank, line_no):
            self.duplicates += 1
            return True
        return False

    def carry(self, rec: Record) -> None:
        """Count the record and give it the position earlier lines announced."""
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
