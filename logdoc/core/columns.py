"""A batch's columns as NumPy arrays, turned into lists only when a rule reads them.

The vector parser (logdoc.parsing.bulk_vector) reads a block of lines into arrays. Building every
column of a Batch as Python lists would cost more than the parsing itself (a list element
is an object), and most columns are never read: a batch of loss lines interests the loss
rules, which read the loss series and little else. So a Batch built from BlockColumns
materialises a column the first time it is read (Batch.__getattr__), and answers `roles`,
`series`, `rows_for` and `record` straight from the arrays.

Every list built here equals, element for element, what the line-by-line path would have
appended (tests replay every kept log both ways and compare the reports as text).
"""
from __future__ import annotations

import numpy as np

from .model import Metric, Record

# attributes a record takes from its template (or its slow-path Record), in this order
ATTRS = ("pattern", "family", "event", "phase", "agg", "epoch_base", "step_base")
COUNTERS = ("epoch", "epoch_total", "step", "step_total")


def object_array(items: list) -> np.ndarray:
    """An object array of `items` (np.array would try to look inside tuples and lists)."""
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


def first_codes(codes: np.ndarray) -> list[int]:
    """The distinct values of a small non-negative int array, in order of first appearance
    (without sorting the array: a first index per value)."""
    if not len(codes):
        return []
    first = np.full(int(codes.max()) + 1, len(codes))
    np.minimum.at(first, codes, np.arange(len(codes)))
    present = np.flatnonzero(first < len(codes))
    return present[np.argsort(first[present])].tolist()


def first_extreme(values: np.ndarray, extreme: float) -> float:
    """min()/max() of a list keeps the first of equal extremes: 0.0 or -0.0, whichever came
    first (NumPy's reductions may return either). `extreme`: values.min() or values.max()."""
    if extreme != 0.0:
        return float(extreme)
    return float(values[np.flatnonzero(values == 0.0)[0]])


def with_none(values: np.ndarray, known: np.ndarray | None) -> list:
    """values.tolist(), with None where `known` is False."""
    out = values.tolist()
    if known is not None and not known.all():
        for i in np.flatnonzero(~known).tolist():
            out[i] = None
    return out


class BlockColumns:
    """Records of a block, column by column (see the module docstring).

    `rc[i]` indexes `attrs`, the tuple of ATTRS values of row i (a template's, or a slow-path
    record's): below `n_templates`, rc is the row's line shape. Counters are (float64 values, known mask or None when all are known). Texts are
    spans of `src` (the block's bytes; their lines are ASCII), or `extra[i]`. Metrics
    are one long table in record order: row, value and `m_meta`, an index into `meta`
    ((name, role, group, agg) tuples)."""

    __slots__ = ("n", "line", "rc", "attrs", "counters", "src", "text_start", "text_end", "extra",
                 "m_row", "m_value", "m_meta", "meta", "fingerprint", "n_templates", "data_len", "at", "_role_codes", "_decoded")

    def __init__(self, *, line, rc, attrs, counters, src, text_start, text_end, extra,
                 m_row, m_value, m_meta, meta, fingerprint, n_templates, data_len):
        self.n = len(line)
        self.line, self.rc, self.attrs, self.counters = line, rc, attrs, counters
        self.src, self.text_start, self.text_end, self.extra = src, text_start, text_end, extra
        self.m_row, self.m_value, self.m_meta, self.meta = m_row, m_value, m_meta, meta
        self.fingerprint = fingerprint      # per row: a function of its values (nan: none)
        self.n_templates = n_templates      # rc below this: a template's row (rc = its shape)
        self.data_len = data_len            # src is the block's bytes (this long), then cleaned
        self.at = 0                         # lines; `at`: the block's offset in what was parsed
        self._role_codes = None
        self._decoded = None

    # ---- lists, on demand

    def materialize(self, name: str) -> list:
        if name == "line":
            return self.line.tolist()
        if name in COUNTERS:
            return with_none(*self.counters[name])
        if name == "text":
            return self.texts(np.arange(self.n))
        if name == "m_row":
            return self.m_row.tolist()
        if name == "m_value":
            return self.m_value.tolist()
        if name in ("m_name", "m_role", "m_group", "m_agg"):
            k = ("m_name", "m_role", "m_group", "m_agg").index(name)
            return object_array([m[k] for m in self.meta])[self.m_meta].tolist()
        k = ATTRS.index(name)
        return object_array([None if a is None else a[k] for a in self.attrs])[self.rc].tolist()

    def texts(self, rows: np.ndarray) -> list[str]:
        """The texts of these rows (a few: decoded one by one; many: from the block decoded
        once). Their lines are ASCII, so latin-1 decodes them byte for byte."""
        spans = zip(self.text_start[rows].tolist(), self.text_end[rows].tolist())
        if self._decoded is None and len(rows) < 256:
            src = self.src
            out = [src[s:e].decode("latin-1").rstrip() for s, e in spans]
        else:
            if self._decoded is None:
                self._decoded = self.src.decode("latin-1")
            src = self._decoded
            out = [src[s:e].rstrip() for s, e in spans]
        extra = self.extra
        if extra:
            for k, i in enumerate(rows.tolist()):
                text = extra.get(i)
                if text is not None:
                    out[k] = text
        return out

    def texts_differ(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """For rows a[k], b[k]: True where their texts are proved different without building
        them (False: maybe equal, compare the texts). Lines of different shapes differ (unless
        trailing blanks, which the texts drop, made the difference); lines whose values differ
        differ (rows read by a template carry a fingerprint of their values)."""
        fa, fb = self.fingerprint[a], self.fingerprint[b]
        differ = (fa != fb) & ~np.isnan(fa) & ~np.isnan(fb)
        ends_a, ends_b = self.text_end[a], self.text_end[b]
        plain = (ends_a > 0) & (ends_b > 0) & (self.rc[a] < self.n_templates) & (self.rc[b] < self.n_templates)
        if plain.any():
            buf = np.frombuffer(self.src, np.uint8)
            plain &= (buf[ends_a - 1] != 32) & (buf[ends_b - 1] != 32)
            differ |= plain & (self.rc[a] != self.rc[b])
        return differ

    def text(self, i: int) -> str:
        """Row i's text, decoding only its own bytes."""
        if self.extra:
            text = self.extra.get(i)
            if text is not None:
                return text
        return self.src[int(self.text_start[i]):int(self.text_end[i])].decode("latin-1").rstrip()

    def counter(self, name: str, i: int):
        """Row i's epoch, epoch_total, step or step_total: a float, or None when unknown."""
        values, known = self.counters[name]
        return None if known is not None and not known[i] else float(values[i])

    def record(self, i: int) -> Record:
        pattern, family, event, phase, agg, epoch_base, step_base = self.attrs[self.rc[i]]
        rec = Record(line=int(self.line[i]), text=self.text(i), pattern=pattern,
                     family=family, event=event, phase=phase, agg=agg, epoch_base=epoch_base,
                     step_base=step_base, **{name: self.counter(name, i) for name in COUNTERS})
        lo, hi = self.metric_span(i)
        meta = self.meta
        rec.metrics = [Metric(*meta[c][:2], v, *meta[c][2:])
                       for c, v in zip(self.m_meta[lo:hi].tolist(), self.m_value[lo:hi].tolist())]
        return rec

    def metric_span(self, i: int) -> tuple[int, int]:
        return (int(np.searchsorted(self.m_row, i, "left")),
                int(np.searchsorted(self.m_row, i, "right")))

    # ---- roles

    def role_codes(self) -> tuple[np.ndarray, list[str]]:
        """(role code of every metric, the role names the codes index)."""
        if self._role_codes is None:
            names = list(dict.fromkeys(m[1] for m in self.meta))
            code = {r: k for k, r in enumerate(names)}
            per_meta = np.array([code[m[1]] for m in self.meta], dtype=np.int32)
            self._role_codes = (per_meta[self.m_meta] if len(per_meta) else
                                np.zeros(0, np.int32), names)
        return self._role_codes

    def metric_index(self, role: str) -> np.ndarray:
        codes, names = self.role_codes()
        if role not in names:
            return np.zeros(0, np.int64)
        return np.flatnonzero(codes == names.index(role))

    def roles(self) -> set[str]:
        codes, names = self.role_codes()
        present = {names[c] for c in np.unique(codes).tolist()}
        if self.event_rows().size:
            present.add("event")
        return present

    def event_rows(self) -> np.ndarray:
        with_event = [k for k, a in enumerate(self.attrs) if a is not None and a[2] is not None]
        if not with_event:
            return np.zeros(0, np.int64)
        return np.flatnonzero(np.isin(self.rc, with_event))

    def series(self, role: str) -> tuple[list, list, list, list]:
        idx = self.metric_index(role)
        meta = self.m_meta[idx]
        return (self.m_row[idx].tolist(),
                object_array([m[0] for m in self.meta])[meta].tolist(),
                self.m_value[idx].tolist(),
                object_array([m[2] for m in self.meta])[meta].tolist())

    def rows_for(self, wants: frozenset) -> list[int]:
        codes, names = self.role_codes()
        wanted = [k for k, r in enumerate(names) if r in wants]
        rows = self.m_row[np.isin(codes, wanted)] if wanted else np.zeros(0, np.int64)
        if "event" in wants:
            rows = np.concatenate((rows, self.event_rows()))
        return np.unique(rows).tolist()

    def max_of(self, counter: str):
        """The largest known value of a counter column, None when none is known, or
        NotImplemented when one is nan (max() over the list decides then)."""
        values, known = self.counters[counter]
        if known is not None:
            values = values[known]
        if not values.size:
            return None
        top = values.max()
        return NotImplemented if np.isnan(top) else float(top)
