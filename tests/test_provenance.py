"""Provenance: a value is credited to a file only if that file sets that exact key, at the line recorded.

Errors name the place that caused them: a ``--set`` is blamed as ``--set``, a
sweep file as the sweep file, and values are shown as written (2009-01-01,
not datetime.date(2009, 1, 1)).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from flowsim.errors import ScenarioError
from flowsim.scenario import PARAMETERS, load_scenario
from flowsim.scenario.assumptions import assumption_log

from .conftest import BASELINE, SCENARIOS, assert_user_error, invoke

SHIPPED = sorted(p for p in SCENARIOS.rglob("*.toml") if "sweeps" not in p.parts)


def _chain(path: Path) -> list[Path]:
    """The file and its extends parents, child first."""
    out = [path]
    while "extends" in (doc := tomllib.loads(out[-1].read_text())):
        out.append((out[-1].parent / doc["extends"]).resolve())
    return out


def _sets(doc: dict, dotted: str) -> bool:
    node = doc
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_scenario_credits_only_files_that_set_the_key(path):
    """Before: baseline.toml was credited with 382 of 466 parameters (the nearest table header)."""
    chain = _chain(path)
    docs = {str(p.resolve()): tomllib.loads(p.read_text()) for p in chain}
    rows = {r["key"]: r for r in assumption_log(load_scenario(path))}
    for key, row in rows.items():
        owner = next((f for f in map(str, (p.resolve() for p in chain)) if _sets(docs[f], key)), None)
        if owner is None:
            assert row["set_in"] == "" and row["line"] is None, (key, row)
            continue
        assert str(Path(row["set_in"]).resolve()) == owner, (key, row["set_in"], owner)
        line = Path(owner).read_text().splitlines()[row["line"] - 1]
        leaf = key.rsplit(".", 1)[1]
        assert re.match(rf"\s*({re.escape(leaf)}|[A-Za-z0-9_]+)\s*=", line), (key, row["line"], line)
        assert leaf in line or "{" in line, (key, line)


def test_the_baseline_credits_only_the_keys_its_files_set():
    """The baseline and its fitted file set about fifty keys (not the 700 of the registry): each credited once."""
    rows = assumption_log(load_scenario(BASELINE))
    credited = [r for r in rows if r["set_in"]]
    leaves = sum(1 for p in _chain(BASELINE) for key in PARAMETERS if _sets(tomllib.loads(p.read_text()), key))
    assert len(credited) == leaves and 20 <= len(credited) <= 80
    mst = next(r for r in rows if r["key"] == "programmes.multi_systemic_therapy.caseload")
    assert mst["set_in"] == "" and mst["line"] is None
    caseload = next(r for r in rows if r["key"] == "programmes.key_worker.caseload")
    assert caseload["set_in"].endswith("baseline.toml")
    assert BASELINE.read_text().splitlines()[caseload["line"] - 1].startswith("caseload = 6")


def test_show_prints_the_file_and_line():
    result = invoke("show", BASELINE)
    line = next(x for x in result.stdout.splitlines() if x.startswith("programmes.key_worker.caseload ="))
    assert re.search(r"\[set in .*baseline\.toml, line \d+\]", line)
    mst = next(x for x in result.stdout.splitlines() if x.startswith("programmes.multi_systemic_therapy.caseload ="))
    assert "set in" not in mst


def test_a_set_that_replaces_a_table_takes_the_files_credit_with_it():
    sc = load_scenario(BASELINE, ["programmes.edge_of_care={staff=[[2011-04-01, 5]]}"])
    rows = {r["key"]: r for r in assumption_log(sc)}
    assert rows["programmes.edge_of_care.staff"]["set_in"].startswith("--set")
    places = rows["programmes.edge_of_care.places_per_year"]
    assert places["set_in"] == "" and sc.value("programmes.edge_of_care.places_per_year") == list(
        PARAMETERS["programmes.edge_of_care.places_per_year"].default
    )


@pytest.mark.parametrize(
    "override",
    ["population.scale.x=1", "programmes.nonexistent.enabled=true", "population={scale=[1]}", "time.end.day=3"],
)
def test_a_bad_set_is_blamed_on_the_set(override):
    """Before: --set population.scale.x=1 and programmes.nonexistent.enabled=true blamed a line of baseline.toml."""
    with pytest.raises(ScenarioError) as info:
        load_scenario(BASELINE, [override])
    assert info.value.file == f"--set {override}" and info.value.line is None, str(info.value)
    assert_user_error(invoke("validate", BASELINE, "--set", override), f"--set {override}")


def test_an_error_in_a_file_still_names_its_line(write):
    path = write("s.toml", f'extends = "{BASELINE}"\n\n[programes.key_worker]\ncaseload = 6\n')
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert (info.value.file, info.value.line, info.value.key) == (str(path), 3, "programes")


@pytest.mark.parametrize(
    ("override", "shown"),
    [
        ("identification.rollout=[[2011-04-01]]", "[2011-04-01]"),
        ("identification.rollout=[[2011-04-01, 2011-04-01]]", "2011-04-01"),
        ("name=2011-04-01", "2011-04-01"),
        ("time.end=2009-01-01", "2009-01-01"),
        ("description=[1979-05-27T07:32:00]", "1979-05-27"),
    ],
)
def test_messages_show_values_as_written(override, shown):
    """Before: datetime.date(2011, 4, 1) in messages."""
    line = assert_user_error(invoke("validate", BASELINE, "--set", override), shown)
    assert "datetime" not in line


def test_set_extends_is_refused():
    """Before: --set extends=... was accepted and ignored."""
    assert_user_error(invoke("validate", BASELINE, "--set", 'extends="quick.toml"'), "--set", "extends")
