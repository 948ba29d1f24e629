"""Records of consecutive lines, held column by column.

Rules see the log one batch at a time (`Rule.observe_batch`): a live stream gives small
batches (whatever arrived), a file gives large ones. Columns are plain Python lists, the
fastest thing to loop over in Python; metrics are one long table (one entry per metric, in
record order) with per-role views. `record(i)` rebuilds the Record of row i when a rule needs
one (for a finding's evidence), so a rule never pays for objects it does not quote.

A batch is built from Records (`from_records`: the line-by-line parser) or directly by the
bulk parser (logdoc.parsing.bulk). Results never depend on where batches are cut: rules carry their
state from one batch to the next, and tests replay every log in batches of one record.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from itertools import islice
from operator import eq, itemgetter

from .model import Metric, Record

_RECORD_FIELDS = ("line", "text", "pattern", "family", "event", "epoch", "epoch_total", "step",
                  "step_total", "phase", "agg", "epoch_base", "step_base")
_COLUMNS = frozenset((*_RECORD_FIELDS, "m_row", "m_name", "m_role", "m_value", "m_group", "m_agg"))


class Batch:
    __slots__ = (*_RECORD_FIELDS, "m_row", "m_name", "m_role", "m_value", "m_group", "m_agg",
                 "_records", "_series", "_by_role", "_rows_for", "_train_loss", "_roles", "memo",
                 "columns")

    def __init__(self):
        for name in _RECORD_FIELDS:
            setattr(self, name, [])
        # metrics, one entry each, grouped by record row in record order
        self.m_row: list[int] = []
        self.m_name: list[str] = []
        self.m_role: list[str] = []
        self.m_value: list[float] = []
        self.m_group: list[str | None] = []
        self.m_agg: list[str | None] = []
        self._records: dict[int, Record] = {}
        self._series: dict[str, tuple] = {}
        self._by_role: dict[str, list[int]] | None = None
        self._rows_for: dict[frozenset, list[int]] = {}
        self._train_loss: tuple | None = None
        self._roles: frozenset | None = None
        self.memo: dict = {}       # answers rules share within this batch (see rules._series)
        self.columns = None        # BlockColumns, when the vector parser built the batch

    @classmethod
    def from_columns(cls, columns) -> "Batch":
        """A batch over BlockColumns: each list column is built when first read."""
        b = cls.__new__(cls)
        b._records, b._series, b._by_role, b._rows_for = {}, {}, None, {}
        b._train_loss, b._roles, b.memo, b.columns = None, None, {}, columns
        return b

    def __getattr__(self, name: str):
        # only reached for a column slot not set yet: a batch over BlockColumns
        if name in _COLUMNS:
            columns = object.__getattribute__(self, "columns")
            if columns is not None:
                value = columns.materialize(name)
                setattr(self, name, value)
                return value
        raise AttributeError(name)

    def __len__(self) -> int:
        columns = self.columns
        return columns.n if columns is not None else len(self.line)

    @classmethod
    def from_records(cls, records: Iterable[Record]) -> "Batch":
        b = cls()
        for rec in records:
            b.add_record(rec)
        return b

    def add_record(self, rec: Record) -> None:
        i = len(self.line)
        self.line.append(rec.line)
        self.text.append(rec.text)
        self.pattern.append(rec.pattern)
        self.family.append(rec.family)
        self.event.append(rec.event)
        self.epoch.append(rec.epoch)
        self.epoch_total.append(rec.epoch_total)
        self.step.append(rec.step)
        self.step_total.append(rec.step_total)
        self.phase.append(rec.phase)
        self.agg.append(rec.agg)
        self.epoch_base.append(rec.epoch_base)
        self.step_base.append(rec.step_base)
        for m in rec.metrics:
            self.m_row.append(i)
            self.m_name.append(m.name)
            self.m_role.append(m.role)
            self.m_value.append(m.value)
            self.m_group.append(m.group)
            self.m_agg.append(m.agg)
        self._records[i] = rec

    # ---- rows as Records (for findings and for rules that read records one by one)

    def record(self, i: int) -> Record:
        rec = self._records.get(i)
        if rec is None and self.columns is not None:
            rec = self._records[i] = self.columns.record(i)
        if rec is None:
            rec = Record(line=self.line[i], text=self.text[i], pattern=self.pattern[i],
                         family=self.family[i], event=self.event[i], epoch=self.epoch[i],
                         epoch_total=self.epoch_total[i], step=self.step[i],
                         step_total=self.step_total[i], phase=self.phase[i], agg=self.agg[i],
                         epoch_base=self.epoch_base[i], step_base=self.step_base[i])
            rec.metrics = [Metric(self.m_name[j], self.m_role[j], self.m_value[j], self.m_group[j],
                                  self.m_agg[j]) for j in self._metric_span(i)]
            self._records[i] = rec
        return rec

    def _metric_span(self, i: int) -> range:
        from bisect import bisect_left, bisect_right

        if self.columns is not None:
            return range(*self.columns.metric_span(i))

        return range(bisect_left(self.m_row, i), bisect_right(self.m_row, i))

    def records(self) -> list[Record]:
        return [self.record(i) for i in range(len(self))]

    # ---- what the batch holds

    @property
    def roles(self) -> frozenset:
        """Roles of its metrics, plus "event" when a record is an event line."""
        if self._roles is None and self.columns is not None:
            self._roles = frozenset(self.columns.roles())
        if self._roles is None:
            roles = set(self.m_role)
            if self.event.count(None) != len(self.event):     # C-level scan
                roles.add("event")
            self._roles = frozenset(roles)
        return self._roles

    def rows_for(self, wants: frozenset | None) -> list[int]:
        """Rows a rule with these `wants` reads (all rows for None), in order."""
        if wants is None:
            return list(range(len(self)))
        rows = self._rows_for.get(wants)
        if rows is None and self.columns is not None:
            rows = self._rows_for[wants] = self.columns.rows_for(wants)
        if rows is None:
            by_role = self._role_index()
            m_row = self.m_row
            picked = {m_row[j] for role in wants for j in by_role.get(role, ())}
            if "event" in wants and "event" in self.roles:
                picked.update(i for i, e in enumerate(self.event) if e is not None)
            rows = sorted(picked)
            self._rows_for[wants] = rows
        return rows

    def _role_index(self) -> dict[str, list[int]]:
        """Metric indexes by role, built in one pass on first use."""
        if self._by_role is None and self.columns is not None:
            _, names = self.columns.role_codes()
            self._by_role = {r: self.columns.metric_index(r).tolist() for r in names}
        if self._by_role is None:
            by_role: dict[str, list[int]] = {}
            for j, r in enumerate(self.m_role):
                idx = by_role.get(r)
                if idx is None:
                    by_role[r] = [j]
                else:
                    idx.append(j)
            self._by_role = by_role
        return self._by_role

    def series(self, role: str) -> tuple[list[int], list[str], list[float], list]:
        """(rows, names, values, groups) of every metric with this role, in record order."""
        got = self._series.get(role)
        if got is None and self.columns is not None:
            got = self._series[role] = self.columns.series(role)
        if got is None:
            idx = self._role_index().get(role, [])
            if len(idx) > 1:
                take = itemgetter(*idx)                # gathers in C
                got = (list(take(self.m_row)), list(take(self.m_name)),
                       list(take(self.m_value)), list(take(self.m_group)))
            else:
                got = ([self.m_row[j] for j in idx], [self.m_name[j] for j in idx],
                       [self.m_value[j] for j in idx], [self.m_group[j] for j in idx])
            self._series[role] = got
        return got

    def train_loss(self) -> tuple[list[int], list[str], list[float]]:
        """(rows, names, values): the training loss each training record reports.

        A record may carry several loss-role metrics (components such as `loss_cls` beside
        their total). The total of non-negative components is the largest, so the largest
        value stands for the record; a non-finite one wins, because it poisons the total.
        """
        if self._train_loss is None:
            loss_rows, loss_names, loss_values, _ = self.series("loss")
            phase = self.phase
            if ((phase.count("train") == len(phase)
                 or list(map(phase.__getitem__, loss_rows)).count("train") == len(loss_rows))
                    and not any(map(eq, loss_rows, islice(loss_rows, 1, None)))):
                # every record with a loss trains and none has two losses (the usual case):
                # the loss series is the answer (shared lists: rules only read them)
                self._train_loss = (loss_rows, loss_names, loss_values)
                return self._train_loss
            rows: list[int] = []
            names: list[str] = []
            values: list[float] = []
            phase = self.phase
            isfinite = math.isfinite
            for r, name, value in zip(*self.series("loss")[:3]):
                if phase[r] != "train":
                    continue
                if rows and rows[-1] == r:           # a second loss of the same record
                    prev = values[-1]
                    if not isfinite(prev):
                        continue
                    if not isfinite(value) or value > prev:
                        names[-1], values[-1] = name, value
                    continue
                rows.append(r)
                names.append(name)
                values.append(value)
            self._train_loss = (rows, names, values)
        return self._train_loss

    def entries_equal(self, value: float) -> list[int]:
        """Metric entries (indexes into the metric table, in record order) whose value is
        `value`: NumPy over a block's columns, so no list column is built for a batch in which
        nothing is equal."""
        columns = self.columns
        if columns is not None:
            import numpy as np

            return np.flatnonzero(columns.m_value == value).tolist()
        if value not in self.m_value:
            return []
        return [j for j, v in enumerate(self.m_value) if v == value]

    def entries_named(self, names: set[str]) -> list[int]:
        """Metric entries whose name is one of `names`, in record order."""
        columns = self.columns
        if columns is not None:
            import numpy as np

            codes = [k for k, m in enumerate(columns.meta) if m[0] in names]
            return np.flatnonzero(np.isin(columns.m_meta, codes)).tolist() if codes else []
        return [j for j, name in enumerate(self.m_name) if name in names]

    def entry_names(self, entries: list[int]) -> set[str]:
        """The names of these metric entries."""
        columns = self.columns
        if columns is not None:
            import numpy as np

            meta = columns.meta
            return {meta[k][0] for k in np.unique(columns.m_meta[entries]).tolist()}
        return set(map(self.m_name.__getitem__, entries))

    def metric_names(self) -> set[str]:
        """The names of the batch's metrics (a superset for a batch over BlockColumns: every
        metric kind of its block)."""
        columns = self.columns
        if columns is not None:
            return {m[0] for m in columns.meta}
        return set(self.m_name)

    def entry(self, j: int) -> tuple[int, str, str, float]:
        """(row, name, role, value) of metric entry j."""
        columns = self.columns
        if columns is not None:
            name, role = columns.meta[int(columns.m_meta[j])][:2]
            return int(columns.m_row[j]), name, role, float(columns.m_value[j])
        return self.m_row[j], self.m_name[j], self.m_role[j], self.m_value[j]

    def position(self, i: int) -> str:
        return self.record(i).position()

    # ---- the same columns as NumPy arrays (for rules that prove in bulk that nothing happens)
    #
    # A batch from the vector parser (`columns` set) answers these without building lists;
    # another batch converts its lists once. Rules use them for the quick test and keep their
    # list code for the rows where something may happen.

    def np_series(self, role: str):
        """(rows int64, values float64) of every metric with this role, in record order."""
        key = ("np_series", role)
        got = self.memo.get(key)
        if got is None:
            import numpy as np

            if self.columns is not None:
                idx = self.columns.metric_index(role)
                got = (self.columns.m_row[idx], self.columns.m_value[idx])
            else:
                rows, _, values, _ = self.series(role)
                got = (np.array(rows, np.int64), np.array(values, np.float64))
            self.memo[key] = got
        return got

    def np_train_loss(self):
        """(rows int64, values float64): `train_loss` as arrays."""
        got = self.memo.get("np_train_loss")
        if got is None:
            import numpy as np

            c = self.columns
            if c is not None:
                rows, values = self.np_series("loss")
                if len(rows) < 2 or bool((rows[1:] != rows[:-1]).all()):   # one loss per record
                    train = np.array([a is not None and a[3] == "train" for a in c.attrs], bool)
                    keep = train[c.rc[rows]]
                    got = (rows, values) if keep.all() else (rows[keep], values[keep])
            if got is None:
                rows, _, values = self.train_loss()
                got = (np.array(rows, np.int64), np.array(values, np.float64))
            self.memo["np_train_loss"] = got
        return got

    def np_counter(self, name: str):
        """(values float64, known bool) of a counter column: epoch, epoch_total, step or
        step_total (nan where unknown)."""
        key = ("np_counter", name)
        got = self.memo.get(key)
        if got is None:
            import numpy as np

            if self.columns is not None:
                values, known = self.columns.counters[name]
                got = (values, np.ones(len(values), bool) if known is None else known)
            else:
                col = getattr(self, name)
                known = np.array([v is not None for v in col], bool)
                got = (np.array([float("nan") if v is None else v for v in col], np.float64), known)
            self.memo[key] = got
        return got

    def np_line(self):
        """Line numbers (int64)."""
        got = self.memo.get("np_line")
        if got is None:
            import numpy as np

            got = self.memo["np_line"] = (self.columns.line if self.columns is not None
                                          else np.array(self.line, np.int64))
        return got
