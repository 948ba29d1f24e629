"""The rule catalogue. One module per rule; each registers its class with @register."""
from __future__ import annotations

import importlib
import pkgutil

from .base import DOC_SECTIONS, Rule

REGISTRY: dict[str, type[Rule]] = {}


def register(cls: type[Rule]) -> type[Rule]:
    if cls.id in REGISTRY:
        raise RuntimeError(f"duplicate rule id {cls.id}")
    REGISTRY[cls.id] = cls
    return cls


_loaded = False


def _load_all() -> None:
    global _loaded
    for info in pkgutil.iter_modules(__path__):
        if info.name != "base" and not info.name.startswith("_"):   # (helpers, not rules)
            importlib.import_module(f"{__name__}.{info.name}")
    _loaded = True


def all_rules() -> dict[str, type[Rule]]:
    # every module once, even when one rule module was imported on its own first (a test, a
    # user's code): a non-empty registry is not a complete one
    if not _loaded:
        _load_all()
    return dict(sorted(REGISTRY.items()))


__all__ = ["DOC_SECTIONS", "REGISTRY", "Rule", "all_rules", "register"]
