#!/usr/bin/env python3
"""Benchmark logdoc against grep on a large mixed training log, and record the results.

usage: python benchmarks/bench.py [--mb 1024] [--workdir /tmp/logdoc-bench] [--no-record]

Measures in one run, side by side (wall time, MB/s, lines/s, peak RSS via /usr/bin/time -v):
  * grep -cE with the literal anchors of the built-in patterns (the floor: a C scan);
  * logdoc analyze FILE --format json, and with the default terminal report;
  * logdoc watch replaying the file from stdin (10 MB and full size: memory must stay flat);
  * start-up: a 100-line log analysed vs `python -c "import pandas"`.
Prints the ratios against the goals of issue 7 and appends them to BENCHMARKS.md.
Not a test: nothing here asserts; it measures.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOGDOC = [sys.executable, "-m", "logdoc"]


def timed(cmd: list[str], stdin_path: Path | None = None) -> dict:
    """Run under /usr/bin/time -v; return wall seconds and peak RSS in MB."""
    stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
    try:
        start = time.perf_counter()
        proc = subprocess.run(["/usr/bin/time", "-v", *cmd], stdin=stdin, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
        wall = time.perf_counter() - start
    finally:
        if stdin_path:
            stdin.close()
    err = proc.stderr.decode("utf-8", "replace")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", err)
    return {"wall": wall, "rss_mb": int(rss.group(1)) / 1024 if rss else float("nan"),
            "code": proc.returncode, "stdout": proc.stdout, "stderr": err}


def anchors() -> list[str]:
    sys.path.insert(0, str(ROOT))
    from logdoc.parsing.patterns import PatternSet

    found = {r.anchor for f in PatternSet.load().families for r in f.rules if r.anchor}
    return sorted(found)


def best_of(n: int, cmd: list[str]) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=1024)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/logdoc-bench"))
    ap.add_argument("--no-record", action="store_true", help="do not append to BENCHMARKS.md")
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    big = args.workdir / f"big-{args.mb:g}mb.log"
    small10 = args.workdir / "first-10mb.log"
    tiny = args.workdir / "tiny-100-lines.log"
    if not big.exists():
        print(f"writing {big} …", file=sys.stderr)
        subprocess.run([sys.executable, str(ROOT / "benchmarks" / "make_big_log.py"), str(big), "--mb", str(args.mb)],
                       check=True)
    with open(big, "rb") as src:
        small10.write_bytes(src.read(10 * 1024 * 1024).rsplit(b"\n", 1)[0] + b"\n")
        src.seek(0)
        tiny.write_bytes(b"".join(src.readline() for _ in range(100)))
    size_mb = big.stat().st_size / 1e6
    lines = int(subprocess.run(["wc", "-l", str(big)], capture_output=True, text=True).stdout.split()[0])

    pattern = "|".join(re.escape(a).replace("\\ ", " ") for a in anchors())
    rows = []

    def row(name, m, mb=size_mb, n=lines):
        rows.append((name, m["wall"], mb / m["wall"], n / m["wall"], m["rss_mb"]))
        print(f"{name:<34} {m['wall']:8.2f} s {mb / m['wall']:8.1f} MB/s {n / m['wall'] / 1e3:8.0f} k lines/s "
              f"{m['rss_mb']:7.0f} MB RSS  (exit {m['code']})", file=sys.stderr)

    grep = timed(["grep", "-cE", pattern, str(big)])
    row("grep -cE <pattern anchors>", grep)
    analyze = timed([*LOGDOC, "analyze", str(big), "--format", "json"])
    row("logdoc analyze --format json", analyze)
    terminal = timed([*LOGDOC, "analyze", str(big)])     # the default report keeps an overview
    row("logdoc analyze (terminal report)", terminal)
    has_watch = subprocess.run([*LOGDOC, "watch", "--help"], capture_output=True).returncode == 0
    if has_watch:
        w10 = timed([*LOGDOC, "watch", "--format", "jsonl"], stdin_path=small10)
        small_lines = small10.read_bytes().count(b"\n")
        row("logdoc watch < first 10 MB", w10, small10.stat().st_size / 1e6, small_lines)
        wbig = timed([*LOGDOC, "watch", "--format", "jsonl"], stdin_path=big)
        row("logdoc watch < full file", wbig)
    pandas_import = best_of(5, [sys.executable, "-c", "import pandas"])
    tiny_run = best_of(5, [*LOGDOC, "analyze", str(tiny), "--format", "json"])
    print(f"{'import pandas':<34} {pandas_import:8.3f} s", file=sys.stderr)
    print(f"{'logdoc analyze (100 lines)':<34} {tiny_run:8.3f} s", file=sys.stderr)

    ratio_grep = analyze["wall"] / grep["wall"]
    goals = [
        ("analyze wall / grep -cE wall", f"{ratio_grep:.1f}×", "≤ 10×", ratio_grep <= 10),
        ("analyze peak RSS", f"{analyze['rss_mb']:.0f} MB", "≤ 300 MB", analyze["rss_mb"] <= 300),
        ("analyze peak RSS, terminal report", f"{terminal['rss_mb']:.0f} MB", "≤ 300 MB", terminal["rss_mb"] <= 300),
        ("100-line analyze / import pandas", f"{tiny_run / pandas_import:.2f}×", "≤ 1×", tiny_run <= pandas_import),
    ]
    if has_watch:
        wl = lines / wbig["wall"]
        goals.append(("watch replay", f"{wl / 1e3:.0f} k lines/s", "≥ 200 k lines/s", wl >= 200e3))
        goals.append(("watch RSS, full − 10 MB", f"{wbig['rss_mb'] - w10['rss_mb']:.1f} MB", "≤ 10 MB",
                      wbig["rss_mb"] - w10["rss_mb"] <= 10))
    print(file=sys.stderr)
    for name, got, want, ok in goals:
        print(f"{'MET ' if ok else 'MISS'} {name:<36} {got:>16}  (goal {want})", file=sys.stderr)

    if not args.no_record:
        machine = (f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, "
                   f"Python {platform.python_version()}")
        md = [f"\n## {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC — {machine}\n",
              f"Workload: `benchmarks/make_big_log.py --mb {args.mb:g}` → {size_mb:.0f} MB, {lines:,} lines. "
              f"Command: `python benchmarks/bench.py --mb {args.mb:g}`\n",
              "| what | wall s | MB/s | lines/s | peak RSS MB |", "|---|---:|---:|---:|---:|"]
        md += [f"| {n} | {w:.2f} | {mbs:.1f} | {ls:,.0f} | {r:.0f} |" for n, w, mbs, ls, r in rows]
        md += [f"| import pandas (best of 5) | {pandas_import:.3f} | | | |",
               f"| logdoc analyze, 100-line log (best of 5) | {tiny_run:.3f} | | | |", "",
               "| goal | measured | target | |", "|---|---:|---|---|"]
        md += [f"| {n} | {g} | {w} | {'met' if ok else '**missed**'} |" for n, g, w, ok in goals]
        path = ROOT / "BENCHMARKS.md"
        if not path.exists():
            path.write_text("# Benchmarks\n\nAppended by `python benchmarks/bench.py` (not part of the test suite).\n")
        with path.open("a") as fh:
            fh.write("\n".join(md) + "\n")
        print(f"appended to {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
