"""The tree names the layers, and each imports only from the layers below it (no cycles, no
report → cli). Imports under `if TYPE_CHECKING:` are annotations only and do not count."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "logdoc"
# lowest first; the top-level modules are the library's entry points (api under the others), the
# CLI sits on them
ORDER = ["core", "source", "parsing", "rules", "diagnosis", "views", "engine", "report",
         "api", "run", "watch", "scan", "cli"]
SAME_LEVEL = [{"diagnosis", "views"}, {"run", "watch", "scan"}]


def _level(layer: str) -> int:
    return ORDER.index(layer)


def _imports(path: Path):
    """(layer imported, line) for each relative import of the module outside TYPE_CHECKING."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    annotations_only = {id(n) for node in ast.walk(tree)
                        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING"
                        for n in ast.walk(node)}
    package = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level and id(node) not in annotations_only:
            target = package[:len(package) - (node.level - 1)] + (node.module.split(".") if node.module else [])
            if len(target) >= 2:
                yield target[1], node.lineno
            else:                              # `from .. import name`: a module or the package's own
                for alias in node.names:
                    if alias.name in ORDER:
                        yield alias.name, node.lineno


def test_every_module_sits_in_a_named_layer():
    flat = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem not in ("__init__", "__main__"))
    assert flat == sorted(["api", "run", "watch", "scan"])
    packages = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())
    assert packages == sorted(set(ORDER) - set(flat))


def test_layers_import_only_from_below():
    upward = []
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).parts
        layer = parts[0] if len(parts) > 1 else path.stem
        if layer not in ORDER:                 # logdoc/__init__.py, __main__.py
            continue
        for target, line in _imports(path):
            if target == layer or target not in ORDER:
                continue
            same = any({layer, target} <= group for group in SAME_LEVEL)
            if same or _level(target) > _level(layer):
                upward.append(f"{path.relative_to(PACKAGE)}:{line} imports {target}")
    assert not upward, upward
