"""Every kind of bad scenario input gives one clear ScenarioError naming file, line, key, expected and found."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from flowsim.cli import main
from flowsim.errors import ScenarioError
from flowsim.scenario import load_scenario

from .conftest import BASELINE


def _error(path, overrides=()):
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, list(overrides))
    return info.value


def test_unknown_key_names_file_line_key_and_suggests(write):
    path = write("s.toml", 'name = "x"\n\n[programmes.key_worker]\ncaseload = 6\ncaseloda = 7\n')
    err = _error(path)
    assert err.file == str(path) and err.line == 5 and err.key == "programmes.key_worker.caseloda"
    assert "did you mean 'programmes.key_worker.caseload'" in str(err)
    assert "found 'caseloda'" in str(err)


def test_unknown_table_suggests_nearest(write):
    err = _error(write("s.toml", "[programes.key_worker]\ncaseload = 6\n"))
    assert err.line == 1 and err.key == "programes" and "did you mean 'programmes'" in str(err)


def test_wrong_type(write):
    err = _error(write("s.toml", '[programmes.key_worker]\ncaseload = "six"\n'))
    assert err.line == 2 and err.key == "programmes.key_worker.caseload"
    assert "expected a number between 0.1 and 100" in str(err) and "found 'six'" in str(err)


def test_boolean_is_not_a_number(write):
    err = _error(write("s.toml", "[survey]\nwaves = true\n"))
    assert err.key == "survey.waves" and "expected an integer" in str(err)


def test_out_of_range(write):
    err = _error(write("s.toml", "[programmes.key_worker]\np_accept = 1.5\n"))
    assert err.line == 2 and err.key == "programmes.key_worker.p_accept"
    assert "between 0 and 1" in str(err) and "found 1.5" in str(err)


def test_bad_schedule_item(write):
    err = _error(write("s.toml", "[identification]\nrollout = [[2011-04-01, 0.2], [2010-04-01, 0.5]]\n"))
    assert err.line == 2 and err.key == "identification.rollout" and "increasing order" in str(err)


def test_bad_choice(write):
    err = _error(write("s.toml", '[target]\npopulation = "everyone"\n'))
    assert err.key == "target.population" and "'stock'" in str(err) and "found 'everyone'" in str(err)


@pytest.mark.parametrize(
    "text, key, advice",
    [
        ('[population]\nuniverse = "all"\n', "population.universe", "population.sample_weight = 1"),
        ('[model]\nstructure = "problems"\n', "model.structure", "the only model"),
        ("[population]\ninitial_stock = 46000\n", "population.initial_stock", "own dynamics"),
        ("[dynamics]\nspell_shape = 4\n", "dynamics.spell_shape", "problems.<name>"),
        ("[programmes.key_worker]\np_success = 0.6\n", "programmes.key_worker.p_success", "resolution_hr"),
    ],
)
def test_a_key_of_the_retired_model_is_refused_with_what_replaced_it(write, text, key, advice):
    """Model v1's keys would change nothing now: a scenario written for it is refused, not run without them."""
    err = _error(write("s.toml", text))
    table = key.rpartition(".")[0]
    # A whole table of retired keys is named as the table, at its header (line 1); a key in a known table, at its line.
    assert (err.key, err.line) in ((key, 2), (table, 1)), (err.key, err.line)
    assert "retired with model v1" in str(err) and advice in str(err)


def test_missing_parent(write):
    path = write("child.toml", 'name = "c"\nextends = "nowhere.toml"\n')
    err = _error(path)
    assert err.file == str(path) and err.line == 2 and err.key == "extends"
    assert "expected an existing parent file" in str(err) and "nowhere.toml" in str(err)


def test_extends_cycle(write):
    write("a.toml", 'extends = "b.toml"\n')
    b = write("b.toml", 'extends = "a.toml"\n')
    err = _error(b)
    assert err.key == "extends" and "cycle" in str(err)


def test_malformed_toml(write):
    path = write("s.toml", "[time]\nstart = 2010-04-01\nend = \n")
    err = _error(path)
    assert err.file == str(path) and err.line == 3 and "expected valid TOML" in str(err)


def test_missing_file(tmp_path):
    err = _error(tmp_path / "absent.toml")
    assert "expected an existing scenario file" in str(err)


def test_error_in_parent_is_located_in_parent(write):
    parent = write("parent.toml", "[programmes.key_worker]\n\ncaseload = -3\n")
    child = write("child.toml", 'extends = "parent.toml"\nname = "child"\n')
    err = _error(child)
    assert err.file == str(parent) and err.line == 3


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("programmes.key_worker.caseload", "expected KEY=VALUE"),
        ("programmes.key_worker.caseload=seven", "expected a TOML literal"),
        ("programmes.key_worker.caseloda=7", "did you mean 'programmes.key_worker.caseload'"),
        ("programmes.key_worker.caseload=0", "between 0.1 and 100"),
        ("bad key=1", "expected a dotted key"),
        ("programmes.key_worker.caseload.x=1", "expected programmes.key_worker.caseload to be a table"),
    ],
)
def test_bad_set(override, fragment):
    err = _error(BASELINE, [override])
    assert fragment in str(err)
    assert err.file and err.file.startswith("--set")


def test_cross_field_rule(write):
    err = _error(write("s.toml", "[time]\nstart = 2010-04-01\nend = 2009-01-01\n"))
    assert err.key == "time.end" and err.line == 3 and "after time.start" in str(err)


def test_extends_merges_tables_and_replaces_arrays(write):
    write("p.toml", "[programmes.key_worker]\ncaseload = 8\nstaff = [[2006-04-01, 1], [2007-04-01, 2]]\n")
    child = write("c.toml", 'extends = "p.toml"\n[programmes.key_worker]\nstaff = [[2008-04-01, 5]]\n')
    sc = load_scenario(child)
    kw = sc.params.programmes.key_worker
    assert kw.caseload == 8  # inherited from the parent table
    assert [v for _, v in kw.staff] == [5.0]  # the child's array replaces the parent's
    assert sc.origins["programmes.key_worker.staff"] == str(child)
    assert sc.origins["programmes.key_worker.caseload"].endswith("p.toml")


def test_set_overrides_after_merge():
    sc = load_scenario(BASELINE, ["programmes.key_worker.caseload=7", "time.end=2020-03-31"])
    assert sc.params.programmes.key_worker.caseload == 7.0
    assert sc.params.time.end.year == 2020
    assert sc.origins["programmes.key_worker.caseload"].startswith("--set")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[programmes.key_worker]\ncaseloda = 7\n", "did you mean"),
        ('extends = "nowhere.toml"\n', "existing parent file"),
        ("[time\n", "expected valid TOML"),
    ],
)
def test_cli_exits_2_without_traceback(write, text, fragment):
    path = write("bad.toml", text)
    for command in (["validate", str(path)], ["run", str(path), "--quiet"], ["show", str(path)]):
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
        assert re.search(fragment, result.output)
        assert str(path) in result.output


def test_cli_bad_set_exits_2():
    result = CliRunner().invoke(main, ["validate", str(BASELINE), "--set", "population.scale=20"])
    assert result.exit_code == 2
    assert "population.scale" in result.output and "between 0.0001 and 10" in result.output
