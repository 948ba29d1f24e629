"""Analyse many logs in parallel and summarise each in one row.

Each file is analysed in a worker process (parsing is CPU-bound Python, so processes, not
threads); rows come back in input order. A file that cannot be read gives a row with its
error instead of stopping the scan.
"""
from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor

COLUMNS = ["path", "format", "lines", "records", "epochs", "steps", "worst", "errors", "warnings",
           "diagnoses", "error"]


def scan_one(path: str) -> dict:
    from .api import analyze
    from .model import Severity
    from .reading import InputError

    try:
        result = analyze(path)
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


def scan(paths: list[str], jobs: int | None = None) -> list[dict]:
    jobs = jobs or os.cpu_count() or 1
    if jobs == 1 or len(paths) == 1:
        return [scan_one(p) for p in paths]
    with ProcessPoolExecutor(max_workers=min(jobs, len(paths))) as pool:
        return list(pool.map(scan_one, paths, chunksize=1))
