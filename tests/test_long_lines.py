"""Bounded cost per line (issue 17, point 9).

No pattern regex is handed more than MATCH_CHARS characters of a line, whatever its length:
a real line of every family followed by 1 MB of other text (and by 1 MB of its own
separators) gives the records of the real line, quotes the whole line as evidence, and every
regex call (prefixes, rules, key/value pairs) is recorded to have seen at most MATCH_CHARS
characters. The speed of such lines is measured in benchmarks/long_lines.py, not here.
"""
from __future__ import annotations

import tomllib

import pytest

from logdoc import api
from logdoc.core.model import Line
from logdoc.parsing.parser import Parser
from logdoc.parsing.patterns import MATCH_CHARS, PatternSet, builtin_dir, pattern_files
from logdoc.source.reading import clean_line, render_cursor

MB = 1 << 20


def _first_record_sample(path):
    """(before lines, line) of the file's first sample that expects values (or joins the
    lines before it into one line that gives them)."""
    doc = tomllib.loads(path.read_text(encoding="utf-8"))
    for rule in doc["rule"]:
        for sample in rule.get("sample", []):
            if sample.get("expect") or sample.get("joined"):
                return sample.get("before", []), sample["line"]
    raise AssertionError(f"{path.name}: no sample with values")


class _Spy:
    """A compiled regex that records the length of every string it is asked about."""

    def __init__(self, rx, seen: list[int]):
        self._rx, self._seen = rx, seen
        self.pattern, self.groupindex = rx.pattern, rx.groupindex

    def _rec(self, text):
        self._seen.append(len(text))

    def match(self, text, *a):
        self._rec(text)
        return self._rx.match(text, *a)

    def search(self, text, *a):
        self._rec(text)
        return self._rx.search(text, *a)

    def finditer(self, text, *a):
        self._rec(text)
        return self._rx.finditer(text, *a)


def _spied_patterns(seen: list[int]) -> PatternSet:
    import re

    ps = PatternSet.load(self_test=False)
    ps.prefixes.regex = _Spy(ps.prefixes.regex, seen)
    for rule in ps._rules:
        rx = re.compile(rule.regex) if isinstance(rule.regex, str) else rule.regex
        rule.regex = _Spy(rx, seen)
        rule._set_find()
        if rule.kv is not None:
            if rule.kv.pair is not None:
                rule.kv.pair = _Spy(rule.kv.pair, seen)
            if rule.kv.keys is not None:
                rule.kv.keys = _Spy(rule.kv.keys, seen)
    return ps


def _values(recs):
    """What records say: (metric name, value), events and positions (nan as a string)."""
    out = []
    for r in recs:
        out += [(m.name, repr(m.value)) for m in r.metrics]
        out += [(c, repr(getattr(r, c))) for c in ("epoch", "step", "event") if getattr(r, c) is not None]
    return sorted(out)


def _parse(ps, before, line):
    p = Parser(ps)
    for i, b in enumerate(before, 1):
        p.feed(Line(i, b))
    return p.feed(Line(len(before) + 1, line))


FILES = pattern_files([builtin_dir()])


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
@pytest.mark.parametrize("tail", ["text", "separators"])
def test_a_real_line_followed_by_1_mb_is_read_on_a_bounded_prefix(path, tail):
    before, line = _first_record_sample(path)
    seen: list[int] = []
    ps = _spied_patterns(seen)
    want = _values(_parse(ps, before, line))
    assert want, f"{path.name}: its sample gives no values"
    # 1 MB of other text, or of what separates the line's own values (its last characters)
    seps = "".join(sorted({c for c in line if not (c.isalnum() or c in "._")})) or " "
    fill = " lorem ipsum, dolor=sit amet |" if tail == "text" else seps
    long = line + fill * (MB // len(fill) + 1)
    seen.clear()
    recs = _parse(ps, before, long)
    assert seen and max(seen) <= MATCH_CHARS, f"a regex was handed {max(seen)} characters"
    # a family whose lines end with their values ($) no longer takes the line; the others
    # read the real line's values (a separator tail may add to the last one) and quote the
    # whole line as evidence
    assert all(r.text == long for r in recs)
    if recs:
        assert {n for n, _ in want} <= {n for n, _ in _values(recs)}


def test_a_metric_printed_after_the_cut_is_not_read_and_the_line_is_kept(tmp_path):
    line = "epoch 1 train_loss: 0.5" + " " * (MATCH_CHARS + 100) + "val_loss: 0.25"
    recs = _parse(PatternSet.load(self_test=False), [], line)
    assert _values(recs) == [("epoch", "1.0"), ("train_loss", "0.5")]
    assert recs[0].text == line
    path = tmp_path / "long.log"
    path.write_text(f"{line}\nepoch 2 train_loss: 0.4\n")
    result = api.analyze(str(path))
    assert result.records == 2


def test_files_of_1_mb_lines_of_every_family_read_as_their_lines_do(tmp_path):
    # the block path (bulk.py: shapes, templates) gives what the line-by-line parser gives
    ps = PatternSet.load(self_test=False)
    for path in FILES:
        before, line = _first_record_sample(path)
        lines = [*before, line + " x" * (MB // 2), line, line + ", y" * (MB // 3)]
        p = Parser(ps)
        want = sum(len(p.feed(Line(i, t))) for i, t in enumerate(lines, 1))
        long = tmp_path / f"{path.stem}.log"
        long.write_text("\n".join(lines) + "\n")
        assert api.analyze(str(long)).records == want, path.name


def test_a_carriage_return_storm_collapses_in_linear_time():
    # was: each \r frame copied the whole line shown so far (quadratic)
    first = "x" * 200_000
    storm = first + "\ra" * 100_000
    assert render_cursor(storm) == "a" + "x" * (200_000 - 1)
    assert clean_line((first + "\r" + "ab" * 50 + "\rc").encode()) == "c" + ("ab" * 50)[1:] + first[100:]
