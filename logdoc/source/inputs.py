"""Command-line paths -> the log files to analyse.

`logdoc analyze` takes files, globs and directories (CI artifacts are often a folder of
logs). A directory is searched recursively for LOG_SUFFIXES (and their .gz). Order is
stable (sorted within each argument, arguments in the order given) and a file named twice
is analysed once. Anything that names no log is an InputError (exit 2), never silently
skipped: a CI check that analysed nothing must not pass.
"""
from __future__ import annotations

import glob
import os
from collections.abc import Iterable
from pathlib import Path

from .reading import InputError

LOG_SUFFIXES = (".log", ".txt", ".out")
STDIN = "-"


def is_log_name(name: str) -> bool:
    name = name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return name.endswith(LOG_SUFFIXES)


def logs_in_directory(directory: Path) -> list[str]:
    found = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))   # skip .git and friends
        found.extend(os.path.join(root, f) for f in sorted(files) if is_log_name(f))
    return found


def _has_glob(arg: str) -> bool:
    return any(c in arg for c in "*?[")


def expand_one(arg: str) -> list[str]:
    if arg == STDIN:
        return [STDIN]
    path = Path(arg)
    if path.is_dir():
        logs = logs_in_directory(path)
        if not logs:
            raise InputError(f"{arg}: is a directory with no {', '.join('*' + s for s in LOG_SUFFIXES)} "
                             "(or .gz) file in it")
        return logs
    if path.exists():
        return [arg]
    if _has_glob(arg):
        matches = sorted(glob.glob(arg, recursive=True))
        if not matches:
            raise InputError(f"{arg}: no file matches this pattern")
        out: list[str] = []
        for m in matches:
            out.extend(logs_in_directory(Path(m)) if os.path.isdir(m) else [m])
        return out
    raise InputError(f"{arg}: no such file or directory")


def expand_paths(args: Iterable[str]) -> list[str]:
    """Every log named by `args`, each once, in a stable order."""
    seen: set[str] = set()
    out: list[str] = []
    for arg in args:
        for path in expand_one(arg):
            key = path if path == STDIN else os.path.normpath(path)
            if key not in seen:
                seen.add(key)
                out.append(path)
    if not out:
        raise InputError("no input: give a log file, a directory, a glob or - for stdin")
    return out
