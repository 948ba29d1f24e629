"""`logdoc rules` and `logdoc explain ID`: the rule catalogue and its documentation."""
from __future__ import annotations

from typing import Annotated

import typer

from .app import UsageFailure, app


@app.command("rules")
def rules_list() -> None:
    """List every rule: id, category, default severity and what it finds."""
    from ..rules import all_rules

    for rid, cls in all_rules().items():
        print(f"{rid:<24} {cls.category:<20} {cls.severity.name:<8} {cls.summary()}")


@app.command()
def explain(rule: Annotated[str, typer.Argument(help="Rule id, e.g. zero-lr.")]) -> None:
    """Print a rule's documentation."""
    from ..rules import all_rules

    catalogue = all_rules()
    if rule not in catalogue:
        raise UsageFailure(f"unknown rule {rule!r} (see `logdoc rules`)")
    cls = catalogue[rule]
    print(f"{rule} ({cls.category}, default severity {cls.severity.name})\n")
    for title, body in cls.doc_sections().items():
        print(f"## {title}\n{body}\n")
