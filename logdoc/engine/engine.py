"""Runs the selected rules over a stream of records.

The engine gives each rule private state, stamps findings with the file path and the
configured severity, and turns a rule that raises into an `internal-error` finding (that
rule is then switched off; the run goes on).
"""
from __future__ import annotations

import traceback
from collections.abc import Iterable

from ..core.batch import Batch
from ..core.model import Evidence, Finding, Record, Severity
from ..rules import Rule, all_rules


class ConfigError(Exception):
    """Bad rule selection or options; the CLI reports it as a usage error (exit 2)."""


def build_rules(select: Iterable[str] | None = None, ignore: Iterable[str] = (),
                options: dict[str, dict] | None = None) -> list[Rule]:
    catalogue = all_rules()
    options = options or {}
    chosen = list(select) if select else list(catalogue)
    for name in [*chosen, *ignore, *options]:
        if name not in catalogue:
            raise ConfigError(f"unknown rule {name!r} (see `logdoc rules`)")
    rules = []
    for name in chosen:
        if name in ignore:
            continue
        try:
            rules.append(catalogue[name](**options.get(name, {})))
        except (TypeError, ValueError) as exc:
            raise ConfigError(str(exc)) from None
    return rules


class Engine:
    def __init__(self, rules: list[Rule], path: str = "",
                 severities: dict[str, Severity] | None = None):
        self.rules = list(rules)
        self.path = path
        self.severities = severities or {}
        # A configured severity replaces a rule's default one; a finding the rule itself
        # graded differently (e.g. benign start-up overflow as info) keeps its own grade.
        self.defaults = {r.id: r.severity for r in self.rules}
        self.findings: list[Finding] = []

    def _stamp(self, finding: Finding) -> Finding:
        finding.path = self.path
        if finding.rule in self.severities and finding.severity == self.defaults.get(finding.rule):
            finding.severity = self.severities[finding.rule]
        self.findings.append(finding)
        return finding

    def _crashed(self, rule: Rule, exc: Exception, rec: Record | None) -> Finding:
        self.rules.remove(rule)
        where = traceback.extract_tb(exc.__traceback__)[-1]
        return self._stamp(Finding(
            rule="internal-error", category="internal-error", severity=Severity.warning,
            message=f"rule {rule.id} failed and was switched off: {type(exc).__name__}: {exc} "
                    f"({where.filename.rsplit('/', 1)[-1]}:{where.lineno})",
            line=rec.line if rec else 0,
            evidence=[Evidence(rec.line, rec.text)] if rec else []))

    def feed(self, rec: Record) -> list[Finding]:
        return self.feed_batch(Batch.from_records([rec]))

    def feed_batch(self, batch: Batch) -> list[Finding]:
        """Run every rule that wants something in the batch; findings in line order.

        A rule may declare `wants`: the roles (and "event" for event lines) it reads. Most
        batches of a live stream interest few rules (a loss line is nothing to an OOM rule),
        so a rule is only called when the batch holds something it wants."""
        out: list[Finding] = []
        roles = batch.roles
        for rule in list(self.rules):
            if rule.wants is not None and rule.wants.isdisjoint(roles):
                continue
            try:
                for f in rule.observe_batch(batch):
                    out.append(self._stamp(f))
            except Exception as exc:  # a broken rule must not stop the analysis
                out.append(self._crashed(rule, exc, _crash_site(exc, batch)))
        out.sort(key=finding_order)
        return out

    def finish(self) -> list[Finding]:
        out = []
        for rule in list(self.rules):
            try:
                for f in rule.finish():
                    out.append(self._stamp(f))
            except Exception as exc:
                out.append(self._crashed(rule, exc, None))
        return out


def _crash_site(exc: Exception, batch: Batch) -> Record | None:
    """The record a crashed rule was reading, when its frame names a row (`i`) or a record."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    local = tb.tb_frame.f_locals if tb is not None else {}
    if isinstance(local.get("rec"), Record):
        return local["rec"]
    i = local.get("i")
    if isinstance(i, int) and 0 <= i < len(batch):
        return batch.record(i)
    return batch.record(0) if len(batch) else None


def finding_order(f: Finding) -> tuple:
    """Line order; at one line the most severe first, then by rule id (never by which rule
    happened to run first, so batch boundaries cannot reorder a report)."""
    return (f.line, -f.severity, f.rule)
