"""Series read from a batch, shared by several rules: the loss series' new reports (from
lists, or from a NumPy batch's arrays), the latest training loss before a row, and the rows
that hold a role. Kept apart from base.py (the Rule class and its small helpers)."""
from __future__ import annotations

import sys
from bisect import bisect_left, bisect_right
from itertools import chain, compress, repeat
from math import isfinite, isnan
from operator import eq, ne, or_
from typing import TYPE_CHECKING

from .base import Reports

if TYPE_CHECKING:
    from ..core.batch import Batch


# ---- reports in bulk (shared by the loss-* rules)

_NEVER = object()      # a report key equal to no other


def new_finite_losses(reports: Reports, b: "Batch"):
    """`new_reports` over the batch's finite training losses: (rows, values, n_epoch).

    The loss rules judge finite values only (non-finite ones are the nonfinite rule's); the
    filtered lists are kept on the batch, so every rule passes the same lists and
    `new_reports` can answer the rules that follow in the same state from its memo. A batch
    over BlockColumns is answered from its arrays (`new_finite_losses_np`) when it can be."""
    if b.columns is not None:
        got = new_finite_losses_np(reports, b)
        if got is not None:
            rows, values, n_epoch = got
            return rows.tolist(), values.tolist(), n_epoch
    got = b.memo.get("finite_train_loss")
    if got is None:
        rows, _, values = b.train_loss()
        if rows and not isfinite(sum(values)):     # (a finite sum: every value is finite)
            keep = list(map(isfinite, values))
            rows, values = list(compress(rows, keep)), list(compress(values, keep))
        got = b.memo["finite_train_loss"] = (rows, values)
    rows, values = got
    if not rows:
        return [], [], 0
    return new_reports(reports, b, rows, values)


def loss_reports(reports: Reports, b: "Batch"):
    """The batch's new finite training-loss reports as arrays, whatever built the batch:
    (rows int64, values float64, n_epoch). The one entry point of the loss rules: each
    writes its criterion once, over these arrays (the arrays may be shared: never modify
    them)."""
    import numpy as np

    if b.columns is not None:
        got = new_finite_losses_np(reports, b)
        if got is not None:
            return got
    rows, values, n_epoch = new_finite_losses(reports, b)
    return np.array(rows, np.int64), np.array(values, np.float64), n_epoch


def new_reports(reports: Reports, b: "Batch", rows: list[int], values: list[float]):
    """`reports.is_new_at` for every row of `rows` (batch rows, in order), in bulk.

    Returns (rows, values) of the new reports (`values` runs parallel to `rows`) and how many
    of the first new ones still saw `reports.per_epoch` True; `reports` is left as the
    row-by-row calls leave it. A report is new when its position differs from the previous
    row's, or, without a step, its text does; a row with neither epoch nor step is always
    new.
    """
    if len(rows) <= _FEW:               # a live stream's batch: the plain calls cost less
        return _new_reports_few(reports, b, rows, values)
    # Several loss rules follow the same series from the same state: the first one's answer
    # is remembered on the batch and replayed to the others. The key holds the input lists
    # themselves (compared by identity, kept alive) and the whole state of `reports`.
    state = reports.state()
    memo = b.memo.setdefault("new_reports", [])
    for seen_rows, seen_values, seen_state, answer, end_state in memo:
        if seen_rows is rows and seen_values is values and seen_state == state:
            reports.restore(end_state)
            kept_rows, kept_values, n_epoch = answer
            return list(kept_rows), list(kept_values), n_epoch
    answer = _new_reports_bulk(reports, b, rows, values)
    if len(memo) < 8:
        memo.append((rows, values, state, answer, reports.state()))
    kept_rows, kept_values, n_epoch = answer
    return list(kept_rows), list(kept_values), n_epoch


def _new_reports_bulk(reports: Reports, b: "Batch", rows: list[int], values: list[float]):
    if reports.one_series:
        if reports.pattern is None:
            reports.pattern = b.pattern[rows[0]]
        same = list(map(eq, map(b.pattern.__getitem__, rows), repeat(reports.pattern)))
        if False in same:
            rows, values = list(compress(rows, same)), list(compress(values, same))
            if not rows:
                return [], [], 0
    epoch, step, text = b.epoch, b.step, b.text
    n = len(rows)
    pos = reports.pos
    fresh = pos is None or (pos[0] is None and pos[1] is None)
    # Positions compared field by field, no tuple per row. The tuple path takes what that
    # cannot: missing epochs, steps on some rows only, nan (a tuple finds the same nan object
    # equal to itself).
    steps = step[rows[0]] is not None
    try:
        simple = not isnan(sum(map(epoch.__getitem__, rows))) and (
            not isnan(sum(map(step.__getitem__, rows))) if steps
            else list(map(step.__getitem__, rows)).count(None) == n)
    except (TypeError, OverflowError):   # a None among numbers
        simple = False
    if simple:
        # New: another step (or, without steps, another text) than the row before, or the
        # same one at another epoch. The first test settles most rows; the epoch is read
        # where it does not.
        if steps:
            pe, ps = (_NEVER, _NEVER) if fresh else pos
            get, prev = step.__getitem__, ps
        else:
            pe = _NEVER if fresh or pos[1] is not None else pos[0]
            get, prev = text.__getitem__, reports.text
        flags = list(map(ne, map(get, rows), chain((prev,), map(get, rows))))
        same = flags.count(False)
        if same * 8 > n:
            get = epoch.__getitem__
            flags = list(map(or_, flags, map(ne, map(get, rows), chain((pe,), map(get, rows)))))
        elif same:
            k = -1
            for _ in range(same):
                k = flags.index(False, k + 1)
                flags[k] = epoch[rows[k]] != (epoch[rows[k - 1]] if k else pe)
    else:
        # (a nan counter is no position, as in Reports.is_new_at)
        epoch = [None if e != e else e for e in epoch]
        step = [None if s != s else s for s in step]
        keys = [(e, s) if s is not None else ((e, None, text[i]) if e is not None else j)
                for j, (i, e, s) in enumerate(zip(rows, map(epoch.__getitem__, rows),
                                                  map(step.__getitem__, rows)))]
        if fresh:
            prev = _NEVER
        else:
            prev = pos if pos[1] is not None else (pos[0], None, reports.text)
        flags = list(map(ne, keys, chain((prev,), keys)))
    n_epoch = 0
    if reports.per_epoch:
        last_epoch = pos[0] if pos is not None else _NEVER
        for i, is_new in zip(rows, flags):
            e = epoch[i]
            if is_new:
                if (step[i] is not None or e is None or not float(e).is_integer()
                        or (last_epoch is not _NEVER and e == last_epoch)):
                    reports.per_epoch = False
                    break
                n_epoch += 1
            last_epoch = e
    last = rows[-1]
    reports.pos, reports.text = (epoch[last], step[last]), text[last]
    if False in flags:
        rows, values = list(compress(rows, flags)), list(compress(values, flags))
    reports.count += len(rows)
    return rows, values, n_epoch


_FEW = 4


def loss_name_at(b: "Batch", i: int) -> str:
    """The name of the training loss that batch row i reports (`b.train_loss`)."""
    rows, names, _ = b.train_loss()
    return names[bisect_left(rows, i)]


def _new_reports_few(reports: Reports, b: "Batch", rows: list[int], values: list[float]):
    """`new_reports` for a few rows, one `is_new_at` call each."""
    is_new_at, pattern, epoch, step, text = reports.is_new_at, b.pattern, b.epoch, b.step, b.text
    keep, kept_values, n_epoch, counting = [], [], 0, reports.per_epoch
    for i, v in zip(rows, values):
        if is_new_at(pattern[i], epoch[i], step[i], text[i]):
            keep.append(i)
            kept_values.append(v)
            if counting and reports.per_epoch:
                n_epoch += 1
            else:
                counting = False
    return keep, kept_values, n_epoch


# ---- the same in NumPy, for batches over BlockColumns (big blocks of the vector parser)
#
# Building a list column of such a batch (b.text, b.epoch, b.pattern...) costs more than a loss
# rule's own work, so the new reports are found from the arrays: pattern codes (`rc`), the
# counter arrays, and the texts' spans in the block. Only the cases the list code settles
# field by field are taken (every followed row with a finite epoch, and a step on all or none
# of them); others return None and the list code answers, from the untouched state.

def finite_losses_np(b: "Batch"):
    """(rows int64, values float64, row codes, codes) of `b.train_loss()`'s finite values,
    from a columns batch's arrays; None when some record holds two losses (the list code
    merges them). Row codes (`b.columns.rc` of each row) index `b.columns.attrs`; `codes`
    lists those of the batch's loss rows (a superset of the row codes). Kept on the batch;
    shared: never modify them."""
    got = b.memo.get("np_finite_train_loss", _NEVER)
    if got is _NEVER:
        got = b.memo["np_finite_train_loss"] = _finite_losses_np(b)
    return got


def _finite_losses_np(b: "Batch"):
    import numpy as np

    c = b.columns
    rows, values = b.np_series("loss")
    if rows.size > 1 and not (rows[1:] != rows[:-1]).all():
        return None                                  # a record with two losses
    codes = c.rc[rows]
    present: list[int] = []
    if rows.size:
        attrs = c.attrs
        present = np.flatnonzero(np.bincount(codes)).tolist()
        if any(attrs[k][3] != "train" for k in present):     # losses of eval records: dropped
            train = np.zeros(len(attrs), bool)
            train[present] = [attrs[k][3] == "train" for k in present]
            keep = np.flatnonzero(train[codes])
            rows, values, codes = rows[keep], values[keep], codes[keep]
        finite = np.isfinite(values)
        if not finite.all():
            keep = np.flatnonzero(finite)
            rows, values, codes = rows[keep], values[keep], codes[keep]
    return rows, values, codes, present


def new_finite_losses_np(reports: Reports, b: "Batch"):
    """`new_finite_losses` of a columns batch as arrays: (rows int64, values float64, n_epoch),
    or None (and `reports` untouched) where the list code must answer. The arrays may be
    shared with other rules: never modify them."""
    got = finite_losses_np(b)
    if got is None:
        return None
    rows, values, codes, present = got
    if not rows.size:
        return rows, values, 0
    state = reports.state()
    memo = b.memo.setdefault("np_new_reports", [])
    for seen_state, answer, end_state in memo:
        if seen_state == state:
            reports.restore(end_state)
            return answer
    answer = _new_reports_np(reports, b.columns, rows, values, codes, present)
    if answer is not None and len(memo) < 8:
        memo.append((state, answer, reports.state()))
    return answer


def _new_reports_np(reports: Reports, c, rows, values, codes, present: list[int]):
    """`_new_reports_bulk` from the arrays, or None (state untouched) for the cases it leaves
    to the list code. `codes`: the row codes; `present`: a superset of them."""
    import numpy as np

    attrs = c.attrs
    pattern = reports.pattern
    if reports.one_series:
        if pattern is None:
            pattern = attrs[int(codes[0])][0]
        if any(attrs[k][0] != pattern for k in present):
            same = np.zeros(len(attrs), bool)
            same[present] = [attrs[k][0] == pattern for k in present]
            keep = np.flatnonzero(same[codes])
            if not keep.size:
                reports.pattern = pattern
                return keep, values[keep], 0
            rows, values, codes = rows[keep], values[keep], codes[keep]
    # counters are nan where unknown: all finite means all known (and no nan, which tuples
    # compare by identity)
    ev, ek = c.counters["epoch"]
    sv, sk = c.counters["step"]
    e = ev[rows]
    if np.isfinite(e).all():
        e_all = True
    elif ek is not None and not ek[rows].any():
        e_all = False
    else:
        return None                                  # some epochs only, or nan/inf: tuples
    s_known = None if sk is None else sk[rows]
    if s_known is not None and not s_known.any():
        s, mode = None, "text" if e_all else "none"
    else:
        s = sv[rows]
        if not e_all or not np.isfinite(s).all():
            return None                              # steps on some rows only, or nan: tuples
        mode = "step"
    pos = reports.pos
    fresh = pos is None or (pos[0] is None and pos[1] is None)
    n = rows.size
    if mode == "none":                               # no position: every row is a report
        flags = np.ones(n, bool)
    elif mode == "step":                             # new: another step or epoch
        flags = np.empty(n, bool)
        np.not_equal(s[1:], s[:-1], out=flags[1:])
        flags[1:] |= e[1:] != e[:-1]
        flags[0] = fresh or float(s[0]) != pos[1] or float(e[0]) != pos[0]
    else:                                            # new: another epoch or text
        flags = np.empty(n, bool)
        np.not_equal(e[1:], e[:-1], out=flags[1:])
        if not flags[1:].all():
            # Texts proved different without building them: a row read by a template
            # (text_start >= 0) has its rc below the number of templates: its line shape
            # (digits as 7), shared only by rows of the same template. When its span ends in a
            # printable non-blank byte (the shape tells: one row per code is read), the span is
            # its text. Two such rows differ when their shapes differ, or when a value read at
            # the same place of the same shape differs. (Rows read line by line have an rc of
            # their own and text_start -1.)
            one_row = np.zeros(len(attrs), np.int64)
            one_row[codes] = rows
            at = one_row[present]
            start, end = c.text_start[at], c.text_end[at]
            last = np.frombuffer(c.src, np.uint8)[np.where(end > start, end - 1, 0)]
            plain_code = np.zeros(len(attrs), bool)
            plain_code[present] = (start >= 0) & (end > start) & (last > 32) & (last < 127)
            plain = plain_code[codes]
            flags[1:] |= plain[1:] & plain[:-1] & ((codes[1:] != codes[:-1]) | (values[1:] != values[:-1]))
            for k in np.flatnonzero(~flags[1:]).tolist():      # left: compare the texts
                flags[k + 1] = c.text(int(rows[k + 1])) != c.text(int(rows[k]))
        pe = _NEVER if fresh or pos[1] is not None else pos[0]
        flags[0] = (pe is _NEVER or float(e[0]) != pe
                    or c.text(int(rows[0])) != reports.text)
    n_epoch = 0
    if reports.per_epoch:
        new = np.flatnonzero(flags)
        if new.size:
            if mode != "text":
                reports.per_epoch = False            # a step, or no epoch: per-step reports
            else:
                # a new report counts as per-epoch while its epoch is whole and differs from
                # the row before's
                ok = e == np.floor(e)
                ok[1:] &= e[1:] != e[:-1]
                if pos is not None and float(e[0]) == pos[0]:
                    ok[0] = False
                bad = np.flatnonzero(~ok[new])
                if bad.size:
                    n_epoch = int(bad[0])
                    reports.per_epoch = False
                else:
                    n_epoch = int(new.size)
    last = int(rows[-1])
    reports.pos = (None if mode == "none" else float(e[-1]), float(s[-1]) if mode == "step" else None)
    reports.text = c.text(last)
    reports.pattern = pattern
    if not flags.all():
        keep = np.flatnonzero(flags)
        rows, values = rows[keep], values[keep]
    reports.count += int(rows.size)
    return rows, values, n_epoch


# ---- rows of a columns batch, for rules that read them one by one


def columns_rows(b: Batch, roles) -> list[int]:
    """Rows with a metric of one of `roles`, in order (`Batch.rows_for` for roles only), from
    the batch's `np_series` (shared with the other rules that read them)."""
    import numpy as np

    got = [b.np_series(r)[0] for r in roles if r in b.roles]
    if not got:
        return []
    return np.unique(np.concatenate(got) if len(got) > 1 else got[0]).tolist()


def report_key(b: "Batch", i: int) -> tuple:
    """(pattern, epoch, step, text) of row i, what `Reports.is_new_at` reads; from a columns
    batch without building its list columns."""
    c = b.columns
    if c is None:
        return b.pattern[i], b.epoch[i], b.step[i], b.text[i]
    a = c.attrs[c.rc[i]]
    return (None if a is None else a[0], c.counter("epoch", i), c.counter("step", i), c.text(i))


class LatestLoss:
    """The latest finite training loss up to each row, read forward through a batch (a loss
    on the row itself counts): evaluation rules pair each evaluation with it. With
    `train_only`, losses of evaluation-phase records do not count."""

    def __init__(self, b: "Batch", train_only: bool):
        self.done = 0                 # losses before this one are behind us
        if b.columns is None:
            rows, _, values, _ = b.series("loss") if "loss" in b.roles else ((), (), (), ())
            phase = b.phase
            self.rows, self.values = rows, values
            self.ok = [k for k, (r, v) in enumerate(zip(rows, values))
                       if isfinite(v) and (not train_only or phase[r] == "train")]
            return
        import numpy as np

        rows, values = b.np_series("loss") if "loss" in b.roles else (np.zeros(0, np.int64), np.zeros(0))
        ok = np.isfinite(values)
        if train_only and len(rows):
            c = b.columns
            if not all(a is None or a[3] == "train" for a in c.attrs):   # (usually all train)
                train = np.array([a is not None and a[3] == "train" for a in c.attrs], bool)
                ok &= train[c.rc[rows]]
        self.rows, self.values, self.ok = rows, values, np.flatnonzero(ok)

    def up_to(self, row: float) -> float | None:
        """The last finite loss on rows up to `row` not read before, or None."""
        end = bisect_right(self.rows, row, self.done)
        k = bisect_right(self.ok, end - 1) - 1
        found = float(self.values[self.ok[k]]) if k >= 0 and self.ok[k] >= self.done else None
        self.done = end
        return found


# ---- lr and grad family
#
# The gradient, update and learning-rate rules read one value per record of a role, judge
# each report by a plain condition, and carry a `Hold` (a run of reports that must last) or a
# short window between batches. These helpers give them the arrays and walk a Hold over the
# few rows where the condition holds, so each rule states its condition once, on arrays.


def record_starts(rows):
    """Positions in `rows` (int64, in order, a record's entries adjacent) where a record's
    entries begin."""
    import numpy as np

    if rows.size < 2:
        return np.zeros(rows.size, np.int64)
    new = np.empty(rows.size, bool)
    new[0] = True
    np.not_equal(rows[1:], rows[:-1], out=new[1:])
    return np.flatnonzero(new)


def per_record_max(b: "Batch", role: str, *, finite_only: bool):
    """(rows int64, values float64) of the metrics of `role` with one value per record: its
    largest, leaving out nan (and +-inf with `finite_only`); a record with no value left is
    left out. Kept on the batch (shared: never modify them). The name of a record's value is
    `first_metric(b, row, role, value)`: the first of equal ones, like `max`."""
    key = ("per_record_max", role, finite_only)
    got = b.memo.get(key)
    if got is None:
        import numpy as np

        rows, values = b.np_series(role)
        keep = np.isfinite(values) if finite_only else ~np.isnan(values)
        if not keep.all():
            rows, values = rows[keep], values[keep]
        starts = record_starts(rows)
        if starts.size != rows.size:                  # some record has several values
            rows, values = rows[starts], np.maximum.reduceat(values, starts)
        got = b.memo[key] = (rows, values)
    return got


def first_metric(b: "Batch", i: int, role: str, value: float | None = None):
    """The first metric of `role` on row i (with this value, when given): what a finding
    names."""
    return next(m for m in b.record(i).metrics
                if m.role == role and (value is None or m.value == value))


def hold_through(hold, b: "Batch", rows, holds):
    """`hold.update_at(holds[k], b, rows[k])` for every k in order, reading only the rows
    where the condition holds (and the row that ends each run): yields each k whose update
    completes the hold; `hold` is then as the row-by-row calls leave it (up to k while the
    caller stops there)."""
    import numpy as np

    n = len(rows)
    last = -2                       # the last holding position visited
    for k in np.flatnonzero(holds).tolist():
        if k != last + 1 and k > 0:
            hold.update_at(False, b, int(rows[k - 1]))      # a report that does not hold
        last = k
        if hold.update_at(True, b, int(rows[k])):
            yield k
    if n and last != n - 1:
        hold.update_at(False, b, int(rows[n - 1]))


def min_before(values, width: int):
    """For each position p of `values` (float64), the smallest of the `width` values before it
    (inf where there are none): doubling spans, log2(width) passes."""
    import numpy as np

    if width < 1:
        return np.full(values.size, np.inf)
    x = np.concatenate((np.full(width, np.inf), values))
    m, span = x, 1                  # m[i]: the smallest of x[i:i + span]
    while span * 2 <= width:
        m = np.minimum(m[:-span], m[span:])
        span *= 2
    # span <= width < 2 span: two spans cover the window x[p:p + width] (values before p)
    n = values.size
    return np.minimum(m[:n], m[width - span:width - span + n])


def entry_metric(b: "Batch", role: str, rows, j: int):
    """The Metric of entry j of the batch's series of `role` (`rows`: the series' rows)."""
    from bisect import bisect_left

    i = int(rows[j])
    mine = [m for m in b.record(i).metrics if m.role == role]
    return mine[j - bisect_left(rows, i)]


def lr_arrays(b: "Batch"):
    """(rows int64, values float64, keys, key int64) of the batch's lr metrics, whatever built
    it: `key[j]` indexes `keys`, the param group of metric j (`group or name`; `keys` may
    hold groups the batch does not show). Kept on the batch (shared: never modify them)."""
    got = b.memo.get("lr_arrays")
    if got is None:
        import numpy as np

        ids: dict[str, int] = {}
        cols = b.columns
        if cols is not None:                  # from the metric kinds, no list column built
            meta = cols.meta
            lut = np.full(len(meta), -1, np.int64)
            for k, m in enumerate(meta):      # (name, role, group, agg) of each metric kind
                if m[1] == "lr":
                    lut[k] = ids.setdefault(m[2] or m[0], len(ids))
            idx = cols.metric_index("lr")
            key = lut[cols.m_meta[idx]]
        else:
            _, names, _, groups = b.series("lr")
            key = np.array([ids.setdefault(g or n, len(ids)) for g, n in zip(groups, names)], np.int64)
        rows, values = b.np_series("lr")
        got = b.memo["lr_arrays"] = (rows, values, list(ids), key)
    return got


def previous_same(key):
    """For each position of `key` (int64), the position of the previous one with the same
    key, or -1."""
    import numpy as np

    prev = np.full(key.size, -1, np.int64)
    if key.size > 1:
        order = np.argsort(key, kind="stable")
        same = key[order[1:]] == key[order[:-1]]
        prev[order[1:][same]] = order[:-1][same]
    return prev


def _by_step_or_epoch(b: "Batch", rows):
    """(step, step_total, by_step, epoch, epoch_total, by_epoch) of rows: which counters
    `is_final` and `progress` read (Python's `x is not None and total`: known and not 0)."""
    step, step_known = b.np_counter("step")
    step_total, step_total_known = b.np_counter("step_total")
    epoch, epoch_known = b.np_counter("epoch")
    epoch_total, epoch_total_known = b.np_counter("epoch_total")
    s, st, e, et = step[rows], step_total[rows], epoch[rows], epoch_total[rows]
    return (s, st, step_known[rows] & step_total_known[rows] & (st != 0),
            e, et, epoch_known[rows] & epoch_total_known[rows] & (et != 0))


def final_np(b: "Batch", rows):
    """`base.is_final` of these rows (bool)."""
    import numpy as np

    if not len(rows):
        return np.zeros(0, bool)                    # (no counter column built)
    s, st, by_step, e, et, by_epoch = _by_step_or_epoch(b, rows)
    return np.where(by_step, s >= st, by_epoch & (e >= et))


def progress_np(b: "Batch", rows):
    """How far through the announced training these rows are (`progress`): (float64, known
    bool); where unknown the value is nan."""
    import numpy as np

    if not len(rows):
        return np.zeros(0), np.zeros(0, bool)       # (no counter column built)
    s, st, by_step, e, et, by_epoch = _by_step_or_epoch(b, rows)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        done = np.where(by_step, s / np.where(by_step, st, 1.0),
                        np.where(by_epoch, e / np.where(by_epoch, et, 1.0), np.nan))
    return done, by_step | by_epoch


def event_rows(b: "Batch", events: frozenset, also=None):
    """Rows (int64, sorted, distinct) whose event is one of `events`, with the rows `also`
    (int64, or None) merged in; a columns batch answers from its row codes."""
    import numpy as np

    found = np.zeros(0, np.int64)
    if "event" in b.roles:
        c = b.columns
        if c is not None:
            codes = [k for k, a in enumerate(c.attrs) if a is not None and a[2] in events]
            if codes:
                found = np.flatnonzero(np.isin(c.rc, codes))
        elif not events.isdisjoint(b.event):
            found = np.array([i for i, e in enumerate(b.event) if e in events], np.int64)
    if also is not None and also.size:
        found = np.union1d(found, also)
    return found
# ---- misc family: events, metric rows and entries as arrays, whatever built the batch
#
# Like Batch's np_* accessors: a batch over BlockColumns answers from its arrays, another
# converts its lists once; answers are kept on the batch (shared: never modify them).


def batch_events(b: "Batch"):
    """(rows int64, events list): the rows that carry an event and their events, in order."""
    got = b.memo.get("batch_events")
    if got is None:
        import numpy as np

        c = b.columns
        if c is not None:
            event_of = [None if a is None else a[2] for a in c.attrs]
            codes = [k for k, e in enumerate(event_of) if e is not None]
            rows = np.flatnonzero(np.isin(c.rc, codes)) if codes else np.zeros(0, np.int64)
            got = (rows, [event_of[k] for k in c.rc[rows].tolist()])
        else:
            events = b.event
            if events.count(None) == len(events):          # the usual batch: no event
                got = (np.zeros(0, np.int64), [])
            else:
                from operator import is_not

                rows = list(compress(range(len(events)), map(is_not, events, repeat(None))))
                got = (np.array(rows, np.int64), [events[i] for i in rows])
        b.memo["batch_events"] = got
    return got


def metric_rows(b: "Batch"):
    """The rows that hold a metric, in order, each once (int64)."""
    got = b.memo.get("metric_rows")
    if got is None:
        import numpy as np

        m_row = b.columns.m_row if b.columns is not None else np.array(b.m_row, np.int64)
        got = m_row
        if m_row.size > 1:
            got = m_row[np.flatnonzero(np.concatenate(([True], m_row[1:] != m_row[:-1])))]
        b.memo["metric_rows"] = got
    return got


def metric_values(b: "Batch"):
    """The value of every metric entry (float64), in the order of the batch's metric table
    (entry j: `b.entry(j)`)."""
    got = b.memo.get("metric_values")
    if got is None:
        import numpy as np

        got = b.memo["metric_values"] = (b.columns.m_value if b.columns is not None
                                         else np.array(b.m_value, np.float64))
    return got


def entry_keys(b: "Batch", entries):
    """(codes int64, keys): `keys` lists the distinct (name, role) of these metric entries,
    `codes[k]` is the index in `keys` of entries[k]'s. For rules that judge a few names of
    many entries at once."""
    import numpy as np

    c = b.columns
    if c is not None:
        meta = c.meta
        keys = list(dict.fromkeys(m[:2] for m in meta))
        key_of = {key: k for k, key in enumerate(keys)}
        code_of_meta = np.array([key_of[m[:2]] for m in meta], np.int64)
        codes = code_of_meta[c.m_meta[entries]] if len(meta) else np.zeros(0, np.int64)
    else:
        names, roles = b.m_name, b.m_role
        key_of = {}
        codes = np.array([key_of.setdefault((names[j], roles[j]), len(key_of))
                          for j in np.asarray(entries).tolist()], np.int64)
        keys = list(key_of)
    return codes, keys


def in_training(b: "Batch", rows):
    """Which of these rows are records of the training phase (bool array)."""
    import numpy as np

    c = b.columns
    if c is not None:
        train = np.array([a is not None and a[3] == "train" for a in c.attrs], bool)
        return train[c.rc[rows]]
    phase = b.phase
    return np.array([phase[i] == "train" for i in np.asarray(rows).tolist()], bool)


def series_metric(b: "Batch", role: str, k: int):
    """The Metric of entry k of `b.np_series(role)`, read from its record (for a finding)."""
    import numpy as np

    rows = b.np_series(role)[0]
    i = int(rows[k])
    nth = k - int(np.searchsorted(rows, i))          # the record's nth metric of the role
    return [m for m in b.record(i).metrics if m.role == role][nth]


def texts_at(b: "Batch", rows) -> list[str]:
    """The texts of these rows (a batch over BlockColumns decodes only theirs)."""
    import numpy as np

    if b.columns is not None:
        return b.columns.texts(np.asarray(rows, np.int64))
    return list(map(b.text.__getitem__, np.asarray(rows).tolist()))


def rows_searched(b: "Batch", pattern, pattern_bytes, width: int):
    """The rows whose text holds a match of `pattern` (a compiled str regex) in its first
    `width` characters, in order (int64). `pattern_bytes` is the same regex over bytes; both
    must match digits and punctuation only (no blank at either end) and treat every digit
    alike: then a match in a line's bytes is one in its stripped text, and whether the lines
    of one template's shape (every digit written as 7) match is answered by one of them, so a
    batch over BlockColumns searches one line per shape, not its texts."""
    import numpy as np

    c = b.columns
    if c is None:
        texts = b.text
        n = len(texts)
        return np.fromiter(compress(range(n), map(pattern.search, texts, repeat(0, n), repeat(width, n))),
                           np.int64)
    rc, start, end, src, extra = c.rc, c.text_start, c.text_end, c.src, c.extra
    own = (rc >= c.n_templates) | (start < 0)         # rows read line by line: one by one
    if extra:
        own[list(extra)] = True
    shaped = np.flatnonzero(~own)
    rep = np.full(len(c.attrs), -1, np.int64)
    rep[rc[shaped]] = shaped                          # a row of each template shape present
    rep = rep[rep >= 0]
    search = pattern_bytes.search
    codes = [code for code, s, e in zip(rc[rep].tolist(), start[rep].tolist(), end[rep].tolist())
             if search(src, s, min(s + width, e)) is not None]
    hit = np.zeros(c.n, bool)
    if codes:
        hit[shaped] = np.isin(rc[shaped], codes)
    alone = np.flatnonzero(own)
    if alone.size:
        hit[alone] = [pattern.search(t, 0, width) is not None for t in c.texts(alone)]
    return np.flatnonzero(hit)
# ---- loss family

def loss_name(b: "Batch", i: int) -> str:
    """`loss_name_at(b, i)`: on a columns batch, from row i's Record when it holds one loss
    (what `b.train_loss` names then), so that `b.train_loss` (and the list columns it builds)
    is not needed for it."""
    if b.columns is not None:
        names = [m.name for m in b.record(i).metrics if m.role == "loss"]
        if len(names) == 1:
            return names[0]
    return loss_name_at(b, i)


_PLAIN_SUM = sys.version_info < (3, 12)  # sum() of floats: plain additions, in order


def block_means(blocks):
    """The means of the rows of `blocks` (a 2-D float64 array, one block of values per row):
    the very floats `sum(row) / len(row)` gives. Python's sum() adds floats one by one from 0
    up to 3.11, so a column-by-column accumulation gives the same floats; later versions
    compensate their sums: there, sum() itself is used."""
    import numpy as np

    count, w = blocks.shape
    if not _PLAIN_SUM:
        return np.array([sum(row) / w for row in blocks.tolist()], np.float64)
    total = np.zeros(count)
    for j in range(w):
        total += blocks[:, j]
    return total / w
