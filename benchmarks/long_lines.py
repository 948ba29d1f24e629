"""MB/s of 1 MB lines of every pattern family next to normal lines (issue 17, point 9).

    python benchmarks/long_lines.py [--repeat N] [--families a,b,...]

Not part of the test suite (tests/test_long_lines.py checks that no regex sees more than
MATCH_CHARS of a line; this measures what that buys). For each built-in family, its first
sample line with values (and the sample's `before` lines) is written three ways, each file
about 1 MB:

* normal: the real line repeated (the family's usual throughput),
* text:   the real line followed by 1 MB of other text (" lorem ipsum, dolor=sit amet |"),
* seps:   the real line followed by 1 MB of its own separators (what made some families
          quadratic: each start of a key/value pair tried again further on).

Each file is analysed in-process (`api.analyze`, one process, as `analyze` on a small log)
`--repeat` times; the table gives min and median MB/s (the machine is noisy: the minimum is
the cost, the median what to expect). Results are recorded in BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MB = 1 << 20


def first_sample(path: Path):
    doc = tomllib.loads(path.read_text(encoding="utf-8"))
    for rule in doc["rule"]:
        for sample in rule.get("sample", []):
            if sample.get("expect"):
                return sample.get("before", []), sample["line"]
    return None


def files_for(before, line):
    seps = "".join(sorted({c for c in line if not (c.isalnum() or c in "._")})) or " "
    text = " lorem ipsum, dolor=sit amet |"
    normal = [line] * max(1, MB // (len(line) + 1))
    return {
        "normal": "\n".join([*before, *normal]) + "\n",
        "text": "\n".join([*before, line + (text * (MB // len(text) + 1))[:MB]]) + "\n",
        "seps": "\n".join([*before, line + (seps * (MB // len(seps) + 1))[:MB]]) + "\n",
    }


def main() -> int:
    from logdoc import api
    from logdoc.parsing.patterns import builtin_dir, pattern_files

    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--families", default="")
    a = ap.parse_args()
    wanted = set(filter(None, a.families.split(",")))
    ps = api.load_patterns()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for path in pattern_files([builtin_dir()]):
            if wanted and path.stem not in wanted:
                continue
            sample = first_sample(path)
            if sample is None:
                continue
            speeds = {}
            for kind, text in files_for(*sample).items():
                log = Path(tmp) / f"{path.stem}-{kind}.log"
                log.write_text(text, encoding="utf-8")
                size = log.stat().st_size / 1e6
                api.analyze(str(log), patterns=ps)            # warm: compiled patterns, imports
                times = []
                for _ in range(a.repeat):
                    t0 = time.perf_counter()
                    api.analyze(str(log), patterns=ps)
                    times.append(time.perf_counter() - t0)
                speeds[kind] = (size / max(times), size / statistics.median(times), max(times))
            rows.append((path.stem, speeds))
            print(f"{path.stem:22} " + "  ".join(f"{k} {v[1]:7.1f}" for k, v in speeds.items()),
                  file=sys.stderr, flush=True)
    print(f"| family | normal MB/s (min / median) | 1 MB text tail | 1 MB separator tail | slowest run |")
    print("|---|---|---|---|---|")
    worst = 0.0
    for name, s in rows:
        worst = max(worst, *(v[2] for v in s.values()))
        print(f"| `{name}` | " + " | ".join(f"{s[k][0]:.1f} / {s[k][1]:.1f}" for k in ("normal", "text", "seps"))
              + f" | {max(v[2] for v in s.values()):.2f} s |")
    long = [s[k][0] for _, s in rows for k in ("text", "seps")]
    normal = [s["normal"][0] for _, s in rows]
    print(f"\n{len(rows)} families, {a.repeat} runs each; slowest single run {worst:.2f} s; "
          f"min MB/s over families: normal {min(normal):.1f}, long lines {min(long):.1f}; "
          f"median: normal {statistics.median(normal):.1f}, long lines {statistics.median(long):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
