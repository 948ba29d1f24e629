"""`logdoc coverage FILE`: which lines that look like metrics no pattern recognised.

A line "looks like a metric" when a name is followed by a number: `name: 1.5`, `name=3`,
`name 0.25` (a bare space needs a decimal number, so "Using 0 workers" does not count).
Unrecognised lines are grouped by shape (numbers masked), the most frequent first, so a user
sees at once which pattern file to write.
"""
from __future__ import annotations

import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import Annotated, Optional

import typer

from .app import (ConfigOption, PatternsOption, StdinFilenameOption, UsageFailure, app, emit, json_text,
                  stdin_name)

_NUMBER = r"[-+]?(?:\d[\d,]*(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|(?i:nan|inf(?:inity)?))"
_DECIMAL = r"[-+]?(?:\d+\.\d+(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+|(?i:nan|inf(?:inity)?))"
# A name (optionally quoted, as in dicts and JSON), then ":"/"=" and a number, or a space and a
# decimal number. Dates and clock times ("2022-10-31", "0:00:00") are not values.
METRIC_LIKE = re.compile(
    r"(?<![\w.])[A-Za-z][A-Za-z_]*(?:[/.\-][A-Za-z_]\w*)*['\"]?"
    rf"(?:\s*[:=]\s*['\"]?{_NUMBER}|\s+{_DECIMAL})(?![\w.:/\-])")
_MASK = re.compile(r"[-+]?(?:\d[\d,]*(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+)|(?i:\bnan\b|\binf\b)")


def looks_like_metric(text: str) -> bool:
    return METRIC_LIKE.search(text) is not None


def shape(text: str) -> str:
    """The line with every number masked and runs of spaces collapsed."""
    return re.sub(r"\s+", " ", _MASK.sub("<N>", text)).strip()


@dataclass
class Coverage:
    path: str
    lines: int = 0
    recognised: list[int] = field(default_factory=list)
    metric_like: int = 0
    unrecognised: list[tuple[int, str]] = field(default_factory=list)

    @property
    def unrecognised_ratio(self) -> float:
        return len(self.unrecognised) / self.metric_like if self.metric_like else 0.0

    def shapes(self) -> list[tuple[str, int, int, str]]:
        """(shape, count, first line, first text), most frequent first."""
        counts: Counter[str] = Counter()
        first: dict[str, tuple[int, str]] = {}
        for no, text in self.unrecognised:
            s = shape(text)
            counts[s] += 1
            first.setdefault(s, (no, text))
        return [(s, n, *first[s]) for s, n in counts.most_common()]

    def to_json(self) -> dict:
        return {
            "path": self.path,
            "lines": self.lines,
            "metric_like": self.metric_like,
            "recognised": self.recognised,
            "unrecognised": [{"line": no, "text": text} for no, text in self.unrecognised],
            "unrecognised_ratio": round(self.unrecognised_ratio, 4),
            "shapes": [{"shape": s, "count": n, "first_line": no} for s, n, no, _ in self.shapes()],
        }


def measure(path: str, patterns=None, name: str | None = None) -> Coverage:
    """Parse a log exactly as `analyze` does and note which lines were recognised."""
    from ..parsing.parser import Parser
    from ..parsing.patterns import default_patterns
    from ..source.reading import read_lines

    parser = Parser(patterns or default_patterns())
    cov = Coverage(name or (path if path != "-" else "<stdin>"))
    for line in read_lines(path):
        cov.lines = line.no
        parser.feed(line)
        if parser.recognised:
            cov.recognised.append(line.no)
            if looks_like_metric(line.text):
                cov.metric_like += 1
        elif looks_like_metric(line.text):
            cov.metric_like += 1
            cov.unrecognised.append((line.no, line.text))
    return cov


@app.command()
def coverage(
    path: Annotated[str, typer.Argument(help="Log file (plain or .gz), or - for stdin.")],
    format: Annotated[str, typer.Option("--format", "-f", help="terminal or json.")] = "terminal",
    patterns: PatternsOption = None,
    top: Annotated[int, typer.Option(help="Shapes to list in the terminal report.")] = 20,
    fail_above: Annotated[Optional[float], typer.Option("--fail-above", help="Exit 1 when more than this % of metric-looking lines are unrecognised.")] = None,
    config: ConfigOption = None,
    stdin_filename: StdinFilenameOption = None,
) -> None:
    """Show metric-looking lines no pattern recognised, grouped by shape."""
    from .. import api

    if format not in ("terminal", "json"):
        raise UsageFailure(f"--format must be terminal or json, not {format!r}")
    name = stdin_name([path], stdin_filename)
    cfg, ps, _, _ = api.settings(config, patterns=patterns or ())   # the config's pattern files too
    cov = measure(path, ps, name)
    if format == "json":
        emit(json_text(cov.to_json(), indent=None, ensure_ascii=False), None)
    else:
        _print_terminal(cov, top)
    sys.stdout.flush()
    percent = 100 * cov.unrecognised_ratio
    raise typer.Exit(1 if fail_above is not None and percent > fail_above else 0)


def _print_terminal(cov: Coverage, top: int) -> None:
    # Plain print: log text is untrusted and must not become rich markup (reading.py has
    # already removed escape sequences and control characters), nor a CI runner command.
    from ..report.common import inert_text

    def print(text: str = "") -> None:
        sys.stdout.write(inert_text(text) + "\n")

    print(f"{cov.path}: {cov.lines} lines, {len(cov.recognised)} recognised, "
          f"{cov.metric_like} look like metrics, {len(cov.unrecognised)} of those unrecognised "
          f"({100 * cov.unrecognised_ratio:.1f} %)")
    shapes = cov.shapes()
    if not shapes:
        return
    print("\nunrecognised shapes (numbers masked as <N>), most frequent first:")
    for s, n, no, text in shapes[:top]:
        print(f"{n:>7} × line {no}: {_clip(s)}")
    if len(shapes) > top:
        print(f"… and {len(shapes) - top} more shapes (--top N, or --format json)")
    print("\nWrite a pattern file for them (see docs/patterns.md) and pass it with --patterns.")


def _clip(text: str, width: int = 160) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
