"""The fault-lab matrix: every stored lab run analysed the way `logdoc analyze` does it.

    python -m lab.matrix            # print the framework x fault table (markdown)
    python -m lab.matrix --json     # one object per run: labels, found, status
    python -m lab.matrix --write-known-misses   # rewrite tests/lab/known_misses.txt

Status per run: `found` (every expected category reported, nothing else counted), `missed`
(an expected category not reported), `false alarm` (a warning or error outside labels and
also_ok; for a healthy twin, any). Needs only logdoc, not the frameworks: it reads
tests/lab/<framework>/labels.json and the captured logs beside it.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

LAB_DIR = Path(__file__).resolve().parent.parent / "tests" / "lab"
COUNTED = ("warning", "error")


def cases(root: Path = LAB_DIR):
    for labels_file in sorted(root.glob("*/labels.json")):
        doc = json.loads(labels_file.read_text())
        for case in doc["cases"]:
            yield doc["framework"], labels_file.parent / case["file"], case


def judge(path: Path, case: dict) -> dict:
    from logdoc import api

    result = api.analyze(str(path), parallel=False)
    found = sorted({f.category for f in result.findings if f.severity.name in COUNTED})
    labels, allowed = set(case["labels"]), set(case["labels"]) | set(case.get("also_ok", []))
    missed = sorted(labels - set(found))
    extra = sorted(set(found) - allowed)
    status = "false alarm" if extra else "missed" if missed else "found"
    return {"fault": case["fault"], "labels": sorted(labels), "found": found,
            "missed": missed, "false_alarms": extra, "status": status}


def matrix(root: Path = LAB_DIR) -> list[dict]:
    return [{"framework": fw, **judge(path, case)} for fw, path, case in cases(root)]


def markdown(rows: list[dict]) -> str:
    frameworks = sorted({r["framework"] for r in rows})
    faults = sorted({r["fault"] for r in rows}, key=lambda f: (f != "healthy", f))
    cell = {(r["framework"], r["fault"]): r for r in rows}
    out = ["| fault | " + " | ".join(frameworks) + " |", "|---|" + "---|" * len(frameworks)]
    for fault in faults:
        row = []
        for fw in frameworks:
            r = cell.get((fw, fault))
            if r is None:
                row.append("–")
            elif r["status"] == "found":
                row.append("clean" if fault == "healthy" else "found")
            elif r["status"] == "missed":
                row.append("missed " + ", ".join(r["missed"]))
            else:
                row.append("false alarm " + ", ".join(r["false_alarms"]))
        out.append(f"| {fault} | " + " | ".join(row) + " |")
    return "\n".join(out)


def known_misses(rows: list[dict]) -> str:
    lines = ["# Lab runs logdoc does not get right yet (see docs/accuracy.md). Written by",
             "# `python -m lab.matrix --write-known-misses`; the matrix test xfails these."]
    for r in rows:
        if r["status"] != "found":
            why = [f"missed {', '.join(r['missed'])}" if r["missed"] else "",
                   f"false alarm {', '.join(r['false_alarms'])}" if r["false_alarms"] else ""]
            lines.append(f"{r['framework']}/{r['fault']}  # {'; '.join(w for w in why if w)}")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    rows = matrix()
    if "--write-known-misses" in argv:
        (LAB_DIR / "known_misses.txt").write_text(known_misses(rows))
    print(json.dumps(rows, indent=2) if "--json" in argv else markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
