"""Analyse many logs in parallel and summarise each in one row.

Each file is analysed in a worker process (parsing is CPU-bound Python, so processes, not
threads); rows come back in input order. A file that cannot be read gives a row with its
error instead of stopping the scan. Every file is analysed as `analyze` would: with the
configuration (logdoc.toml / [tool.logdoc] / --config) and the rule selection and pattern
files given on the command line.
"""
from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from itertools import repeat

from .engine.config import Config

COLUMNS = ["path", "format", "lines", "records", "epochs", "steps", "worst", "errors", "warnings",
           "diagnoses", "error"]


@dataclass(frozen=True)
class ScanSettings:
    """What every file of a scan is analysed with (sent to the worker processes)."""
    config: Config = field(default_factory=Config)
    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()      # extra pattern files, after the config's


_PATTERNS: dict = {}                    # per worker process: pattern files loaded once


def scan_one(path: str, settings: ScanSettings = ScanSettings()) -> dict:
    from .api import analyze, load_patterns
    from .core.model import Severity
    from .source.reading import InputError

    extra = (*map(str, settings.config.patterns), *settings.patterns)
    if extra not in _PATTERNS:
        _PATTERNS[extra] = load_patterns(extra)
    try:
        result = analyze(path, patterns=_PATTERNS[extra], select=settings.select,
                         ignore=settings.ignore, config=settings.config)
    except InputError as exc:
        return {c: None for c in COLUMNS} | {"path": path, "error": str(exc)}
    worst = result.worst
    return {
        "path": path,
        "format": next(iter(result.formats), None),
        "lines": result.lines,
        "records": result.records,
        "epochs": result.max_epoch,
        "steps": result.max_step,
        "worst": worst.name if worst else None,
        "errors": sum(f.severity is Severity.error for f in result.findings),
        "warnings": sum(f.severity is Severity.warning for f in result.findings),
        "diagnoses": [d.title for d in result.diagnoses],
        "error": None,
    }


def scan(paths: list[str], jobs: int | None = None, settings: ScanSettings = ScanSettings()) -> list[dict]:
    jobs = jobs or os.cpu_count() or 1
    if jobs == 1 or len(paths) == 1:
        return [scan_one(p, settings) for p in paths]
    with ProcessPoolExecutor(max_workers=min(jobs, len(paths))) as pool:
        return list(pool.map(scan_one, paths, repeat(settings), chunksize=1))
