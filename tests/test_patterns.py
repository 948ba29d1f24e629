import textwrap

import pytest

from logdoc.patterns import PatternError, PatternSet, builtin_dir, load_family, load_roles, pattern_files, check_family

ROLES = load_roles(builtin_dir() / "_roles.toml")


@pytest.mark.parametrize("path", pattern_files([builtin_dir()]), ids=lambda p: p.name)
def test_builtin_pattern_file_passes_its_samples(path):
    family = load_family(path, ROLES, self_test=False)
    assert check_family(family, ROLES) == []
    assert all(rule.samples for rule in family.rules)


def test_builtin_family_ids_are_unique():
    ids = [load_family(p, ROLES, self_test=False).id for p in pattern_files([builtin_dir()])]
    assert len(ids) == len(set(ids))


GOOD = '''
schema = "logdoc.pattern/1"
[family]
id = "toy"
[[rule]]
id = "loss"
regex = 'loss=%{FLOAT:loss}'
fields = { loss = "loss" }
  [[rule.sample]]
  line = "step 3 loss=0.5"
  expect = { loss = 0.5 }
'''


def write(tmp_path, text):
    path = tmp_path / "toy.toml"
    path.write_text(textwrap.dedent(text))
    return path


def test_a_good_file_loads(tmp_path):
    fam = load_family(write(tmp_path, GOOD))
    assert fam.id == "toy" and fam.rules[0].id == "loss"


@pytest.mark.parametrize("change, message", [
    (("expect = { loss = 0.5 }", "expect = { loss = 0.7 }"), "sample 1 'step 3 loss=0.5': loss expected 0.7, got 0.5"),
    (('line = "step 3 loss=0.5"', 'line = "nothing here"'), "no rule matches it"),
    (('schema = "logdoc.pattern/1"', 'schema = "v0"'), "schema must be"),
    (("fields = { loss = \"loss\" }", "fields = { loss = \"lossy\" }"), "unknown role"),
    (("fields = { loss = \"loss\" }", "fields = { other = \"loss\" }"), "not a named group"),
    (("%{FLOAT:loss}", "%{NOPE:loss}"), "unknown macro"),
    (("%{FLOAT:loss}", "(%{FLOAT:loss}"), "bad regex"),
    (('id = "toy"', 'id = "Toy Family"'), "kebab-case"),
])
def test_a_broken_file_names_the_file_and_the_problem(tmp_path, change, message):
    path = write(tmp_path, GOOD.replace(*change))
    with pytest.raises(PatternError) as err:
        load_family(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_invalid_toml(tmp_path):
    with pytest.raises(PatternError, match="invalid TOML"):
        load_family(write(tmp_path, "schema = "))


def test_negative_line_matched_is_an_error(tmp_path):
    path = write(tmp_path, GOOD + '\n[[negative]]\nline = "loss=1.0"\n')
    with pytest.raises(PatternError, match="negative line"):
        load_family(path)


def test_user_file_with_same_id_overrides_builtin(tmp_path):
    text = GOOD.replace('id = "toy"', 'id = "bracket-probes"')
    user = write(tmp_path, text)
    ps = PatternSet.load([user])
    fam = next(f for f in ps.families if f.id == "bracket-probes")
    assert fam.path == user


def test_nonfinite_spellings_parse():
    ps = PatternSet.load()
    for spelling, check in [("nan", lambda v: v != v), ("NAN", lambda v: v != v), ("inf", lambda v: v == float("inf")),
                            ("-inf", lambda v: v == float("-inf")), ("Infinity", lambda v: v == float("inf")),
                            ("0.000e+00", lambda v: v == 0.0), ("1.000E-04", lambda v: v == 1e-4)]:
        (rec,) = ps.match(f"Epoch 001/030: train {spelling}  val 0.5", 1)
        assert check(rec.metrics[0].value), spelling
