"""Command-line paths -> the log files to analyse.

`logdoc analyze` takes files, globs and directories (CI artifacts are often a folder of
logs). A directory is searched recursively for LOG_SUFFIXES (and their .gz). Order is
stable (sorted within each argument, arguments in the order given) and a file named twice
is analysed once. Anything that names no log is an InputError (exit 2), never silently
skipped: a CI check that analysed nothing must not pass.
"""
from __future__ import annotations

import fnmatch
import glob
import os
import re
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
    # os.walk does not follow symlinked directories: a symlink loop is never entered
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
        matches = sorted(_glob(arg))
        if not matches:
            raise InputError(f"{arg}: no file matches this pattern")
        out: list[str] = []
        for m in matches:
            out.extend(logs_in_directory(Path(m)) if os.path.isdir(m) else [m])
        return out
    raise InputError(f"{arg}: no such file or directory")


def _glob(pattern: str) -> list[str]:
    """glob.glob(pattern, recursive=True), except that `**` never goes round a symlink loop.

    Python's glob follows symlinked directories under `**` without remembering where it has
    been, so `runs/**/*.log` over a folder holding `loop -> ..` never ends. Here `**` walks
    the tree below the pattern's literal part with each real directory visited once (a
    symlinked directory is followed, as glob does, unless it leads back to one already seen);
    every path found is then matched component by component with glob's rules (`*` within
    a name, hidden names only by a pattern that starts with a dot).
    """
    if "**" not in pattern:
        return glob.glob(pattern)          # a fixed depth: no loop can keep it going
    dirs_only = pattern.endswith(os.sep)
    parts = pattern.rstrip(os.sep).split(os.sep)
    fixed = 0
    while fixed < len(parts) - 1 and not _has_glob(parts[fixed]):
        fixed += 1
    base = os.sep.join(parts[:fixed]) or ("" if not pattern.startswith(os.sep) else os.sep)
    rest = parts[fixed:]
    matchers = [None if p == "**" else _component(p) for p in rest]
    start = base or os.curdir
    if not os.path.isdir(start):
        return []
    out: list[str] = []
    seen: set[tuple[int, int]] = set()
    into_hidden = any(p.startswith(".") for p in rest)    # else ** skips hidden folders, as glob

    def walk(directory: str, rel: tuple[str, ...]) -> None:
        try:
            st = os.stat(directory)
        except OSError:
            return
        if (st.st_dev, st.st_ino) in seen:
            return                          # been here: a symlink loop (or a second way in)
        seen.add((st.st_dev, st.st_ino))
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError:
            return
        for e in entries:
            path = rel + (e.name,)
            try:
                is_dir = e.is_dir()
            except OSError:
                is_dir = False
            if (is_dir or not dirs_only) and _matches(matchers, path, 0, 0, is_dir):
                found = os.path.join(base, *path) if base else os.path.join(*path)
                out.append(found + os.sep if dirs_only else found)
            if is_dir and (into_hidden or not e.name.startswith(".")):
                walk(e.path, path)

    if _matches(matchers, (), 0, 0, True) and base:
        out.append(base.rstrip(os.sep) + os.sep)
    walk(start, ())
    return out


def _component(pattern: str):
    rx = re.compile(fnmatch.translate(pattern))
    hidden_ok = pattern.startswith(".")
    return lambda name: (hidden_ok or not name.startswith(".")) and rx.match(name) is not None


def _matches(matchers, path: tuple[str, ...], i: int, j: int, is_dir: bool) -> bool:
    """Do the path's components path[j:] match the pattern's components matchers[i:]?"""
    while True:
        if i == len(matchers):
            return j == len(path)
        m = matchers[i]
        if m is None:                       # **: zero or more components
            if i + 1 == len(matchers):
                return all(not c.startswith(".") for c in path[j:])
            for k in range(j, len(path) + 1):
                if _matches(matchers, path, i + 1, k, is_dir):
                    return True
                if k < len(path) and path[k].startswith("."):
                    return False
            return False
        if j == len(path) or not m(path[j]):
            return False
        i, j = i + 1, j + 1


def expand_paths(args: Iterable[str]) -> list[str]:
    """Every log named by `args`, each once (by its real path: a file reached again through a
    symlinked folder is not read twice), in a stable order."""
    seen: set[str] = set()
    out: list[str] = []
    for arg in args:
        for path in expand_one(arg):
            key = path if path == STDIN else os.path.realpath(path)
            if key not in seen:
                seen.add(key)
                out.append(path)
    if not out:
        raise InputError("no input: give a log file, a directory, a glob or - for stdin")
    return out
