"""One engine for files and live streams: a file is a replayed stream.

`Session.feed(line)` parses a line, runs the rules on its records and returns the findings
it proved at once; `finish()` closes the run and returns the Result. `analyze` replays a
file through it; `watch` feeds stdin as lines arrive.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import partial
from operator import is_not

from ..core.batch import Batch
from ..parsing.bulk import BulkParser
from ..diagnosis.chains import diagnose
from .engine import Engine, build_rules, finding_order
from ..views.overview import Overview
from ..core.model import Diagnosis, Finding, Line, Severity
from ..parsing.parser import Parser
from ..parsing.patterns import PatternSet, default_patterns
from ..source.reading import cut_message, read_blocks
from ..rules import Rule
from ..views.tables import TableBuilder


@dataclass
class Result:
    path: str
    lines: int
    records: int
    formats: dict[str, int]
    findings: list[Finding]
    diagnoses: list[Diagnosis]
    tables: TableBuilder | None = field(default=None, repr=False)
    overview: Overview | None = field(default=None, repr=False)
    kept: object | None = field(default=None, repr=False)     # what expectations read (expect.Kept)
    max_epoch: float | None = None        # how far the run got, for one-line summaries
    max_step: float | None = None

    @property
    def worst(self) -> Severity | None:
        return max((f.severity for f in self.findings), default=None)

    def to_json(self) -> dict:
        return {
            "path": self.path,
            "lines": self.lines,
            "records": self.records,
            "formats": self.formats,
            "findings": [f.to_json() for f in self.findings],
            "diagnoses": [d.to_json() for d in self.diagnoses],
        }


class Session:
    def __init__(self, path: str = "<stdin>", *, patterns: PatternSet | None = None,
                 rules: list[Rule] | None = None, severities: dict[str, Severity] | None = None,
                 keep_tables: bool = False, keep_overview: bool = False, live: bool = False,
                 expectations: list | None = None):
        """`live`: the log is a never-ending stream (`watch`), whose memory must stay flat:
        its big blocks are not handed to pyarrow (logdoc.parsing.bulk_vector), whose import alone
        would raise the footprint once the stream passed ARROW_AFTER. `expectations`
        (logdoc.diagnosis.expect): keep what they read as the log goes (expect.Kept)."""
        self.path = path
        self.live = live
        self.parser = Parser(patterns or default_patterns())
        self.engine = Engine(rules if rules is not None else build_rules(), path, severities)
        self.tables = TableBuilder() if keep_tables else None
        self.overview = Overview() if keep_overview else None   # bounded, for the terminal
        self.kept = None
        if expectations:
            from ..diagnosis.expect import Kept

            self.kept = Kept(expectations)
        self.lines = 0
        self._bulk: BulkParser | None = None
        self.last_batch = Batch()          # the records of the last block or lines fed
        self.max_epoch: float | None = None
        self.max_step: float | None = None
        self.cuts: list = []               # a gzip input cut short (reading.GzipStream)

    def feed(self, line: Line) -> list[Finding]:
        """Findings proved by this line (a batch of one line)."""
        return self.feed_lines([line])

    def feed_lines(self, lines: list[Line]) -> list[Finding]:
        """Findings proved by these consecutive lines, parsed and judged as one batch."""
        if not lines:
            return []
        self.lines = lines[-1].no
        records = []
        feed = self.parser.feed
        for line in lines:
            records.extend(feed(line))
        return self.feed_batch(Batch.from_records(records))

    def feed_block(self, first_no: int, data: bytes) -> list[Finding]:
        """Findings proved by a block of raw lines (see reading.iter_blocks), parsed in bulk:
        the same records as line by line, much faster on long logs (see logdoc.parsing.bulk)."""
        if self._bulk is None:
            self._bulk = BulkParser(self.parser)
            if self.live:
                self._bulk.arrow = False
        found: list[Finding] = []
        for batch, n in self._bulk.parse_blocks(data, first_no):
            first_no += n
            self.lines = first_no - 1
            found += self.feed_batch(batch)
        return found

    def feed_file(self, path: str, parallel: bool = True) -> "Result":
        """Replay a file (or '-' for stdin) in blocks; a big file is parsed by a second
        process while this one runs the rules (logdoc.engine.pipeline), with the same results."""
        from . import pipeline

        if parallel and pipeline.worth_it(path):
            for batch, n in pipeline.parsed_batches(path, self.parser, self.cuts):
                self.lines += n
                self.feed_batch(batch)
            return self.finish()
        return self.feed_blocks(read_blocks(path, cuts=self.cuts))

    def feed_blocks(self, blocks: Iterable[tuple[int, bytes]]) -> "Result":
        """Feed (first line, block) pairs and finish; a gzip cut short that the blocks come
        from appends itself to `self.cuts` (reading.read_blocks, stream_blocks)."""
        for first_no, data in blocks:
            self.feed_block(first_no, data)
        return self.finish()

    def feed_batch(self, batch: Batch) -> list[Finding]:
        self.last_batch = batch
        if not len(batch):
            return []
        with _quiet_floats():
            return self._feed_batch(batch)

    def _feed_batch(self, batch: Batch) -> list[Finding]:
        if self.tables is not None:
            self.tables.add_batch(batch)
        if self.overview is not None:
            self.overview.add_batch(batch)
        if self.kept is not None:
            self.kept.add_batch(batch)
        self.max_epoch = _max_in(self.max_epoch, batch, "epoch")
        self.max_step = _max_in(self.max_step, batch, "step")
        return self.engine.feed_batch(batch)

    def feed_all(self, lines: Iterable[Line], batch_lines: int = 4096) -> "Result":
        """Replay lines in batches of `batch_lines` (results do not depend on the size)."""
        pending: list[Line] = []
        for line in lines:
            pending.append(line)
            if len(pending) >= batch_lines:
                self.feed_lines(pending)
                pending = []
        self.feed_lines(pending)
        return self.finish()

    def finish(self) -> Result:
        with _quiet_floats():
            return self._finish()

    def _finish(self) -> Result:
        self.engine.finish()
        findings = sorted(self.engine.findings, key=finding_order)
        for cut in self.cuts:
            findings.append(Finding(
                rule="truncated-gzip", category="truncated", severity=Severity.info,
                message=f"{cut_message(cut)} ({self.lines} lines): the log ends there, not the run",
                line=max(self.lines, 1), evidence=[], path=self.path))
        if self.parser.records == 0:
            findings.append(Finding(
                rule="unrecognized-log", category="unrecognized", severity=Severity.info,
                message=f"no training lines recognised in {self.lines} lines: this is not a healthy "
                        "run, logdoc could not read it (see `logdoc patterns list`)",
                line=1, evidence=[], path=self.path))
        return Result(path=self.path, lines=self.lines, records=self.parser.records,
                      formats=dict(self.parser.formats.most_common()), findings=findings,
                      diagnoses=diagnose(findings), tables=self.tables, overview=self.overview, kept=self.kept,
                      max_epoch=self.max_epoch, max_step=self.max_step)


def _quiet_floats():
    """NumPy's floating-point warnings off while rules and views read a batch: a log may
    print 1e308 or -1e309, and arithmetic on such values (a factor times a level, a running
    sum) gives inf, which the rules compare as intended. A RuntimeWarning would only reach
    stderr, where a CI job expects nothing but logdoc's own lines."""
    import numpy as np

    return np.errstate(all="ignore")


def _max_in(current: float | None, batch: Batch, column: str) -> float | None:
    if batch.columns is not None:
        top = batch.columns.max_of(column)
        if top is not NotImplemented:
            return current if top is None or (current is not None and current >= top) else top
    return _max(current, getattr(batch, column))


def _max(current: float | None, values: list) -> float | None:
    top = max(filter(_present, values), default=None)     # C-level: a column per batch
    if top is None:
        return current
    return top if current is None or top > current else current


_present = partial(is_not, None)
