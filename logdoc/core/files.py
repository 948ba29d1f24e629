"""Where logdoc's data files are: the bundled pattern files and the metric vocabulary."""
from __future__ import annotations

from pathlib import Path


def builtin_dir() -> Path:
    package = Path(__file__).resolve().parent.parent          # logdoc/
    packaged = package / "_builtin_patterns"                   # inside an installed wheel
    return packaged if packaged.is_dir() else package.parent / "patterns"   # a source checkout
