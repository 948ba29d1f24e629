"""python -m lab run --all [--framework NAME] [--fault NAME]"""
import argparse
import importlib
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

MODULES = ["lab.torch_loop", "lab.hf_trainer", "lab.lightning_lab",
           "lab.keras_lab", "lab.boosting_lab", "lab.lightgbm_lab", "lab.sb3_lab"]
ROOT = Path(__file__).resolve().parent.parent
VERSION_LIBS = {
    "torch": ["torch", "numpy"],
    "hf": ["torch", "transformers", "accelerate", "numpy"],
    "lightning": ["torch", "lightning", "numpy"],
    "keras": ["keras", "jax", "tensorflow", "torch", "numpy"],
    "xgboost": ["xgboost", "numpy", "scikit-learn"],
    "lightgbm": ["lightgbm", "numpy", "scikit-learn"],
    "sb3": ["stable-baselines3", "gymnasium", "torch", "numpy"],
}


def _versions(mod):
    libs = getattr(mod, "VERSION_LIBS", None) or VERSION_LIBS.get(mod.FRAMEWORK, [])
    out = {}
    from importlib import metadata
    for lib in libs:
        try:
            out[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            pass
    return out


def _env():
    env = dict(os.environ)
    # Bars as they look in a `cmd 2>&1 | tee log`: stdout is a pipe (not a tty),
    # fixed width so tqdm/rich layouts are reproducible.
    env.update(COLUMNS="100", LINES="40", PYTHONUNBUFFERED="1", PYTHONHASHSEED="0",
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1",
               TOKENIZERS_PARALLELISM="false", OMP_NUM_THREADS="2")
    env.pop("TERM", None)
    env["TERM"] = "dumb"
    env.setdefault("PYTHONWARNINGS", "default")
    return env


def run(framework=None, fault=None, timeout=120):
    for name in MODULES:
        try:
            mod = importlib.import_module(name)
        except Exception as e:  # noqa: BLE001
            print(f"skip {name}: {type(e).__name__}: {e}".splitlines()[0])
            continue
        fw = mod.FRAMEWORK
        if framework and fw != framework:
            continue
        outdir = ROOT / "tests" / "lab" / fw
        outdir.mkdir(parents=True, exist_ok=True)
        lpath = outdir / "labels.json"
        data = json.loads(lpath.read_text()) if lpath.exists() else {}
        cases = {c["fault"]: c for c in data.get("cases", [])}
        for f, spec in mod.FAULTS.items():
            if fault and f != fault:
                continue
            short = name.split(".", 1)[1]
            cmd = [sys.executable, "-m", name, "--fault", f]
            try:
                p = subprocess.run(cmd, cwd=ROOT, env=_env(), stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, timeout=timeout)
                out, rc = p.stdout, p.returncode
            except subprocess.TimeoutExpired as e:
                out, rc = (e.stdout or b""), -9
            (outdir / f"{f}.log").write_bytes(out)
            print(f"{fw:10s} {f:18s} rc={rc} {len(out):7d} bytes")
            cases[f] = {"file": f"{f}.log", "fault": f, "labels": spec["labels"],
                        "also_ok": spec.get("also_ok", []), "healthy": not spec["labels"],
                        "description": spec.get("description", ""),
                        "command": f"python -m lab.{short} --fault {f}", "exit_code": rc}
        order = list(mod.FAULTS)
        data = {"framework": fw, "versions": _versions(mod),
                "python": platform.python_version(),
                "cases": sorted(cases.values(), key=lambda c: order.index(c["fault"])
                                if c["fault"] in order else 999)}
        lpath.write_text(json.dumps(data, indent=2) + "\n")


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m lab")
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--all", action="store_true")
    r.add_argument("--framework")
    r.add_argument("--fault")
    r.add_argument("--timeout", type=int, default=120)
    a = p.parse_args(argv)
    run(a.framework, a.fault, a.timeout)


if __name__ == "__main__":
    main()
