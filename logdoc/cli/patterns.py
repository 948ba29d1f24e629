"""`logdoc patterns list|test`: the pattern families and their self-tests."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .app import PatternsOption, app

patterns_app = typer.Typer(no_args_is_help=True, help="List and test pattern files.")
app.add_typer(patterns_app, name="patterns")


@patterns_app.command("list")
def patterns_list(
    patterns: PatternsOption = None,
) -> None:
    """List the pattern families in use, in matching order."""
    from .. import api

    for fam in api.load_patterns(patterns or []).families:
        print(f"{fam.id:<24} {len(fam.rules):>3} rules  {fam.title}  ({fam.path.name})")


@patterns_app.command("test")
def patterns_test(files: Annotated[Optional[list[str]], typer.Argument(help="Pattern files (default: the built-in ones).")] = None) -> None:
    """Run every sample and negative line of the pattern files; exit 1 if any fails."""
    from ..parsing.patterns import PatternError, builtin_dir, load_family, load_roles, pattern_files
    from ..parsing.selftest import check_family

    roles_file = builtin_dir() / "_roles.toml"
    roles = load_roles(roles_file) if roles_file.exists() else {}
    failures = 0
    for path in pattern_files([Path(f) for f in files] if files else [builtin_dir()]):
        try:
            fam = load_family(path, roles, self_test=False)
        except PatternError as exc:
            print(f"FAIL {exc}")
            failures += 1
            continue
        problems = check_family(fam, roles)
        for p in problems:
            print(f"FAIL {p}")
        if not problems:
            print(f"ok   {path} ({sum(len(r.samples) for r in fam.rules)} samples)")
        failures += len(problems)
    raise typer.Exit(1 if failures else 0)
