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


def _load_all() -> None:
    for info in pkgutil.iter_modules(__path__):
        if info.name != "base":
            importlib.import_module(f"{__name__}.{info.name}")


def all_rules() -> dict[str, type[Rule]]:
    if not REGISTRY:
        _load_all()
    return dict(sorted(REGISTRY.items()))


__all__ = ["DOC_SECTIONS", "REGISTRY", "Rule", "all_rules", "register"]
