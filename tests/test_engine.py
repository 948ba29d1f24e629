from logdoc.diagnosis.chains import diagnose
from logdoc.engine.engine import Engine
from logdoc.core.model import Finding, Metric, Record, Severity
from logdoc.rules.base import Rule


class Exploding(Rule):
    """Raises on its second record."""
    id = "exploding"
    category = "nonfinite"

    def __init__(self):
        super().__init__()
        self.n = 0

    def observe(self, rec):
        self.n += 1
        if self.n == 2:
            raise ZeroDivisionError("boom")
        yield self.finding(rec, "seen")


def rec(line):
    return Record(line=line, text=f"line {line}", pattern="t/t", family="t", metrics=[Metric("loss", "loss", 1.0)])


def test_a_rule_that_raises_becomes_an_internal_error_and_the_run_goes_on():
    engine = Engine([Exploding()], path="x.log")
    out = [f for i in (1, 2, 3) for f in engine.feed(rec(i))]
    assert [(f.rule, f.line) for f in out] == [("exploding", 1), ("internal-error", 2)]
    assert "ZeroDivisionError: boom" in out[1].message and out[1].path == "x.log"
    assert engine.rules == []


def test_severity_override():
    engine = Engine([Exploding()], severities={"exploding": Severity.info})
    (f,) = engine.feed(rec(1))
    assert f.severity is Severity.info


def f(rule, line, tags=()):
    return Finding(rule=rule, category=rule, severity=Severity.error, message=rule, line=line,
                   evidence=[], tags=frozenset(tags))


def test_chain_needs_the_root_first():
    assert diagnose([f("frozen-params", 3), f("zero-lr", 5, ["schedule-start"])]) == [] or \
        diagnose([f("frozen-params", 3), f("zero-lr", 5, ["schedule-start"])])[0].id != "warmup-starts-at-zero"
    (d,) = diagnose([f("zero-lr", 1, ["schedule-start"]), f("frozen-params", 3), f("constant-val-loss", 4)])
    assert d.id == "warmup-starts-at-zero" and [x.line for x in d.chain] == [1, 3, 4]


def test_zero_lr_alone_is_not_a_diagnosis():
    assert diagnose([f("zero-lr", 1, ["schedule-start"])]) == []


class LossOnly(Rule):
    """Counts what it is shown."""
    id = "loss-only"
    category = "loss-plateau"
    wants = frozenset({"loss"})

    def __init__(self):
        super().__init__()
        self.seen = []

    def observe(self, rec):
        self.seen.append(rec.line)
        return ()


def test_rules_see_only_the_records_they_want():
    rule = LossOnly()
    engine = Engine([rule])
    lr_only = Record(line=1, text="lr", pattern="t/t", family="t", metrics=[Metric("lr", "lr", 0.1)])
    event = Record(line=2, text="OOM", pattern="t/t", family="t", event="oom")
    for r in (lr_only, event, rec(3)):
        engine.feed(r)
    assert rule.seen == [3]


def test_importing_one_rule_first_still_loads_every_rule():
    # a registry that holds one rule is not the catalogue: all_rules() must still load the rest
    import subprocess
    import sys

    code = ("import logdoc.rules.stalled, logdoc.rules as r, pkgutil; "
            "n = sum(1 for m in pkgutil.iter_modules(r.__path__) if m.name != 'base' and m.name[0] != '_'); "
            "print(len(r.all_rules()) == n)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
