"""Every rule documents itself completely; the README keeps its promises."""
import re

import pytest

from conftest import ROOT
from logdoc.core.model import CATEGORIES
from logdoc.rules import DOC_SECTIONS, all_rules


@pytest.mark.parametrize("rule_id", list(all_rules()))
def test_rule_is_declared_and_documented(rule_id):
    cls = all_rules()[rule_id]
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", rule_id)
    assert cls.category in CATEGORIES
    sections = cls.doc_sections()
    for title in DOC_SECTIONS:
        assert sections.get(title), f"{rule_id}: missing or empty section {title!r}"
    assert "```" in sections["Example"], f"{rule_id}: the example must quote log lines"


def test_readme_starts_with_the_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```(?:sh|bash|console)?\n(.*?)```", readme, re.S)
    install, test = blocks[0].strip(), blocks[1].strip()
    assert "logdoc analyze sample_logs/" in install
    assert "pytest" in test
    ci = (ROOT / ".ci" / "run").read_text()
    assert test in ci, "the CI script must run exactly the README's test command"


def test_readme_documents_every_command_and_rule():
    readme = (ROOT / "README.md").read_text()
    for cmd in ("logdoc analyze", "logdoc rules", "logdoc explain", "logdoc patterns"):
        assert cmd in readme
    for rule_id in all_rules():
        assert f"`{rule_id}`" in readme, rule_id
