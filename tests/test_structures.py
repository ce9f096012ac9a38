"""The shipped structures (calibration/structures.toml): a scenario under each, and answers pooled over them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from flowsim import structures
from flowsim.scenario import PARAMETERS, load_scenario
from flowsim.summary import structure_split

from .conftest import BASELINE, ROOT, assert_user_error, invoke, sets

STRUCTURES = ROOT / "calibration" / "structures.toml"


@pytest.fixture(scope="module")
def shipped():
    return {s.name: s for s in structures.load(STRUCTURES)}


def test_the_baseline_under_another_structure_is_that_structure(shipped):
    baseline = load_scenario(BASELINE)
    home = structures.home_of(baseline, list(shipped.values()))
    assert home is shipped["baseline"]
    for name, other in shipped.items():
        moved = structures.under(baseline, home, other)
        differ = [k for k in PARAMETERS if moved.value(k) != other.scenario.value(k)]
        assert differ == [], (name, differ[:3])
        assert Path(moved.calibrated_by[0]).resolve() == Path(other.fitted).resolve()


def test_a_scenario_keeps_its_own_choices_under_every_structure(shipped):
    """A policy (the key worker's places) and a sensitivity (a calibrated onset set with --set) stay the scenario's;
    the crisis spells' shape and every other fitted value are the structure's."""
    onset = "problems.workless.onset_rate_per_year"
    places = "programmes.key_worker.places_per_year"
    scenario = load_scenario(ROOT / "scenarios" / "tf_programme_2012.toml", [f"{onset}=0.05"])
    clockwork = shipped["clockwork"]
    moved = structures.under(scenario, shipped["baseline"], clockwork)
    assert moved.value(onset) == 0.05 and moved.value(places) == scenario.value(places)
    assert moved.value("problems.low_income.crisis_duration_shape") == 8.0
    spell = "problems.low_income.crisis_duration_years"
    assert moved.value(spell) == clockwork.scenario.value(spell) != scenario.value(spell)
    assert moved.origins[spell] == clockwork.fitted


def test_a_structure_s_ensemble_reads_the_moved_scenario_as_its_own(shipped):
    """Drawn from the clockwork ensemble, the baseline moved under clockwork keeps no calibrated value of its own,
    so every member's values reach the runs (the refusal of another fit's ensemble does not fire)."""
    from flowsim import ensemble

    clockwork = shipped["clockwork"]
    path = ensemble.default_path(clockwork.scenario)
    if path.parent != (ROOT / "calibration" / "clockwork"):
        pytest.fail(f"the clockwork structure has no ensemble beside its fit ({path})")
    moved = structures.under(load_scenario(BASELINE), shipped["baseline"], clockwork)
    members, own = ensemble.members_for(moved, ensemble.load(path), 3, seed=1)
    assert own == [] and len(members) == 3 and all(len(m) > 10 for m in members)


def test_sets_are_shared_by_largest_remainder():
    assert structures.shares([1, 1, 1], 50) == [17, 17, 16]
    assert structures.shares([2, 1], 3) == [2, 1]
    assert structures.shares([1, 1, 1], 2) == [1, 1, 0]
    assert sum(structures.shares([0.2, 0.5, 0.3], 7)) == 7


def test_structure_split_recovers_known_components():
    """Two structures of equal share: set means 0..11 (x10) and the same + 100, each set's two runs at m -+ 1.
    Chance's variance is 2; the parameters' is each structure's spread of set means less chance's 2 / 2; the
    structure's is 50^2 less the sampling error of the two means (share x (1 - share) x their variance)."""
    means = np.arange(12) * 10.0
    a = np.column_stack([means - 1, means + 1]).ravel()
    split = structure_split([(a, 0.5), (a + 100, 0.5)], 2)
    v = means.var(ddof=1)
    parameters, chance = v - 1.0, 2.0
    structure = 50.0**2 - 2 * 0.25 * v / 12
    total = parameters + chance + structure
    assert split["parameters"] == pytest.approx(parameters / total)
    assert split["structure"] == pytest.approx(structure / total)
    assert split["chance"] == pytest.approx(chance / total)
    alone = structure_split([(a, 1.0)], 2)
    assert alone["structure"] == 0.0 and alone["parameters"] == pytest.approx((v - 1) / (v + 1))


def test_the_scenario_s_own_structure_always_gets_a_set():
    """Largest remainder can leave a light first structure none (weights 0.01, 1, 1 over 2 sets: 0, 1, 1); its point
    fit runs beside the pool, so it takes one from the largest."""
    assert structures.shares([0.01, 1.0, 1.0], 2) == [0, 1, 1]
    assert structures.home_first([0, 1, 1]) == [1, 0, 1]
    assert structures.home_first([0, 3, 1]) == [1, 2, 1]
    assert structures.home_first([2, 1]) == [2, 1]


def test_structure_split_refuses_what_it_cannot_tell():
    """One set in a structure: its sets' spread is unknown, so the parameters and the structure cannot be told apart
    (one set each of three alike structures would call the parameters' variance the structure's); a measure that
    never varies has nothing to split. Both give None with the reason, not a made-up share."""
    one_set = structure_split([(np.array([1.0, 2.0]), 0.5), (np.arange(4.0), 0.5)], 2)
    assert one_set["parameters"] is one_set["structure"] is one_set["chance"] is None
    assert "one parameter set" in one_set["why"]
    flat = structure_split([(np.zeros(4), 0.5), (np.zeros(4), 0.5)], 2)
    assert flat["parameters"] is None and flat["why"] == "it does not vary"


def test_structure_split_gives_no_structure_to_structures_that_do_not_differ():
    """Seed 5: three structures drawn alike, 200 sets of 2 runs each, set effects and chance both N(0, 1). The
    structures' means each have variance 1.5 / 200, so their weighted spread is about 0.005 against a total of 2;
    its 99th percentile (chi-squared(2) / 3 x 0.0075 x 9.2) is 0.023, about 1% of the total."""
    rng = np.random.default_rng(5)
    parts = [((rng.normal(size=(200, 1)) + rng.normal(size=(200, 2))).ravel(), 1 / 3) for _ in range(3)]
    split = structure_split(parts, 2)
    assert split["structure"] < 0.012
    assert split["parameters"] == pytest.approx(0.5, abs=0.08)  # sd of the estimate about 0.035 at 600 sets


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ('[a]\nscenario = "x.toml"\nlabel = "a"\nweight = "one"\n', ["key a.weight", "expected a number"]),
        ('[a]\nscenario = "x.toml"\nlabel = "a"\nweight = 0\n', ["key a.weight", "above 0"]),
        ('[a]\nscenario = "x.toml"\nlabel = "a"\nweight = 1\nshape = 8\n', ["key a.shape", "expected one of"]),
        ('[a]\nlabel = "a"\nweight = 1\n', ["key a.scenario", "expected text"]),
    ],
)
def test_a_bad_structures_file_names_file_and_key(tmp_path, text, fragments):
    project = tmp_path / "project"
    (project / "calibration").mkdir(parents=True)
    (project / "scenarios").mkdir()
    (project / "calibration" / "structures.toml").write_text(text)
    scenario = project / "scenarios" / "mine.toml"
    scenario.write_text(f'extends = "{BASELINE}"\nname = "mine"\n')
    result = invoke("run", scenario, "--ensemble", 2, "--out", tmp_path / "run")
    assert_user_error(result, "structures.toml", *fragments)
    assert not (tmp_path / "run").exists()


def test_run_over_the_structures_answers_each_and_pools_them(tmp_path, shipped):
    """Four sets of two replications at 0.4% of England for a year: the sets split over the structures with an
    ensemble, each answered alone and pooled, each measure's variance split three ways; a structure without an
    ensemble is named with the command that draws it."""
    ready = [n for n, s in shipped.items() if (Path(s.fitted).parent / "ensemble.parquet").is_file()]
    tiny = ["population.scale=0.004", "time.end=2011-04-30", "time.deadline=2011-04-30"]
    out = tmp_path / "run"
    result = invoke("run", BASELINE, *sets(tiny), "--ensemble", 4, "--jobs", 1, "--out", out, "--no-report")
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    rows = summary["structures"]["components"]
    assert [r["name"] for r in rows] == ready[: len(rows)] and rows[0]["name"] == "baseline"
    assert sum(r["sets"] for r in rows) == 4 == summary["ensemble"]["sets"]
    assert sum(r["share"] for r in rows) == pytest.approx(1.0)
    split = summary["ensemble"]["variance_share"]["target.count.turned_around"]
    if min(r["sets"] for r in rows) < 2:  # 2, 1 and 1 sets with three ensembles: no split, and why
        assert split["parameters"] is None and "one parameter set" in split["why"]
        assert "not split: a structure has one parameter set" in result.output
    else:
        assert set(split) == {"parameters", "structure", "chance"}
        assert sum(split.values()) == pytest.approx(1.0)
    missing = [m["name"] for m in summary["structures"]["missing"]]
    assert sorted(missing + [r["name"] for r in rows]) == sorted(shipped)
    for name in missing:
        assert f"left out of the pool: {name}" in result.output
    assert "by structure" in result.output and "pooled (" in result.output


def test_own_structure_answers_over_its_ensemble_alone(tmp_path):
    tiny = ["population.scale=0.004", "time.end=2011-04-30", "time.deadline=2011-04-30"]
    out = tmp_path / "run"
    result = invoke(
        "run", BASELINE, *sets(tiny), "--ensemble", 2, "--structures", "own", "--jobs", 1, "--out", out, "--no-report"
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert "structures" not in summary and "structure" not in summary["ensemble"]["variance_share"]["moments.at_risk"]


def test_the_calibration_readme_states_each_structure_s_ensemble_as_its_files_do(shipped):
    """The table of ensembles in calibration/README.md is copied by hand from each structure's ensemble.json: a
    redrawn ensemble must be restated there (method, run, members, effective sample size, largest R-hat)."""
    text = (ROOT / "calibration" / "README.md").read_text()
    for name, s in shipped.items():
        meta_path = Path(s.fitted).parent / "ensemble.json"
        if not meta_path.is_file():
            assert f"| {name} | no ensemble yet |" in text, name
            continue
        meta = json.loads(meta_path.read_text())
        method = meta["method"].split(":")[0]
        row = f"| {name} | {method} | `{meta['run_id']}` | {meta['members']} |"
        if method == "posterior":
            last = meta["batches"][-1]
            row += f" {meta['effective_sample_size']:.0f} | {last['rhat']:.3f} |"
        assert row in text, row


def test_every_structure_s_report_states_every_structure_s_ensemble_as_its_files_do(shipped):
    """Each calibration report.md ends with the table of every structure's ensemble, as their ensemble.json files
    say now (a redrawn ensemble restates it: `python -m flowsim.calibrate.structures_report`)."""
    from flowsim.calibrate import structures_report

    expected = "\n".join(structures_report.rows(STRUCTURES)).rstrip("\n")
    for name, s in shipped.items():
        report = Path(s.fitted).parent / "report.md"
        assert structures_report.section_of(report.read_text()).rstrip("\n") == expected, name


def test_refreshing_the_table_replaces_it_in_place(tmp_path):
    """A report with the section before another keeps the other; one without gets it appended; twice is once."""
    from flowsim.calibrate import structures_report

    project = tmp_path / "project"
    (project / "calibration").mkdir(parents=True)
    (project / "scenarios").mkdir()
    for f in ("fitted.toml", "ensemble.json", "ensemble.parquet"):
        (project / "calibration" / f).write_bytes((ROOT / "calibration" / f).read_bytes())
    text = (ROOT / "scenarios" / "baseline.toml").read_text()
    (project / "scenarios" / "baseline.toml").write_text(text)
    (project / "calibration" / "structures.toml").write_text(
        '[baseline]\nscenario = "../scenarios/baseline.toml"\nlabel = "b"\nweight = 1.0\n'
    )
    report = project / "calibration" / "report.md"
    report.write_text("# R\n\n## A\n\ntext\n")
    structures_report.refresh(project / "calibration" / "structures.toml")
    once = report.read_text()
    assert once.startswith("# R\n\n## A\n\ntext\n\n## Every structure's ensemble") and "| baseline | b |" in once
    report.write_text(once + "\n## Later\n\nmore\n")
    structures_report.refresh(project / "calibration" / "structures.toml")
    assert report.read_text() == once + "\n## Later\n\nmore\n"


def test_a_calibration_elsewhere_or_a_broken_structures_file_touches_no_report(tmp_path):
    """The table is restated only after a calibration into a listed structure's folder, and a structures file that
    cannot be read gives a line to print, never an error after the calibration's work is written."""
    from flowsim.calibrate import structures_report

    before = (ROOT / "calibration" / "report.md").read_text()
    assert structures_report.refresh_for(load_scenario(BASELINE), tmp_path) is None
    assert (ROOT / "calibration" / "report.md").read_text() == before
    project = tmp_path / "project"
    (project / "calibration").mkdir(parents=True)
    (project / "scenarios").mkdir()
    (project / "scenarios" / "baseline.toml").write_text((ROOT / "scenarios" / "baseline.toml").read_text())
    (project / "calibration" / "fitted.toml").write_text((ROOT / "calibration" / "fitted.toml").read_text())
    (project / "calibration" / "structures.toml").write_text("[baseline]\nweight = 1.0\n")
    note = structures_report.refresh_for(
        load_scenario(project / "scenarios" / "baseline.toml"), project / "calibration"
    )
    assert (
        note.startswith("the table of every structure's ensemble in the reports was not restated")
        and "scenario" in note
    )


def test_two_scenarios_drawn_from_different_ensembles_are_not_paired(tmp_path):
    """The baseline against the clockwork structure: run i of each would be unrelated parameter sets, so compare
    --ensemble refuses (exit 2) and says what to run instead."""
    clockwork = ROOT / "scenarios" / "clockwork_crises.toml"
    result = invoke("compare", BASELINE, clockwork, "--ensemble", 2, "--out", tmp_path / "cmp")
    assert_user_error(result, "cannot be paired", "without --ensemble", "flowsim run --ensemble N")
    assert not (tmp_path / "cmp").exists()
    result = invoke("compare", BASELINE, clockwork, "--ensemble", 2, "--no-share", "--out", tmp_path / "cmp")
    assert_user_error(result, "--no-share", "without --ensemble")


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--structures", "own"], ["--structures own", "with --ensemble N"]),
        (
            ["--ensemble", "2", "--structures", "all", "--ensemble-file", "x.parquet"],
            ["--structures all", "--ensemble-file"],
        ),
    ],
)
def test_structures_is_refused_where_it_would_be_ignored(tmp_path, args, fragments):
    result = invoke("run", BASELINE, *args, "--out", tmp_path / "run")
    assert_user_error(result, *fragments)
    assert not (tmp_path / "run").exists()


def test_a_scenario_whose_own_structure_has_no_ensemble_is_refused(tmp_path):
    """Its own structure's sets cannot be drawn, so no pool is answered: exit 2 with the command that draws them."""
    project = tmp_path / "project"
    (project / "calibration").mkdir(parents=True)
    (project / "scenarios").mkdir()
    fitted = project / "calibration" / "fitted.toml"
    text = (ROOT / "calibration" / "clockwork" / "fitted.toml").read_text()
    fitted.write_text(text.replace('extends = "../../scenarios/baseline.toml"', f'extends = "{BASELINE}"'))
    (project / "scenarios" / "mine.toml").write_text('extends = "../calibration/fitted.toml"\nname = "mine"\n')
    (project / "calibration" / "structures.toml").write_text(
        '[mine]\nscenario = "../scenarios/mine.toml"\nlabel = "mine"\nweight = 1\n'
    )
    result = invoke("run", project / "scenarios" / "mine.toml", "--ensemble", 2, "--out", tmp_path / "run")
    assert_user_error(result, "structures.toml", "own structure mine", "--method history-matching")
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_compare_over_the_structures_pairs_each_and_pools_them(tmp_path, shipped):
    """Six sets of two replications at 0.4% of England for a year (two sets a structure): B - A under each structure, pooled as their mixture, each difference's variance split
    three ways; the first structure's part is exactly the comparison over its ensemble alone (--structures own), on
    the same set and streams."""
    tiny = ["population.scale=0.004", "time.end=2011-04-30", "time.deadline=2011-04-30"]
    plus = ROOT / "scenarios" / "key_worker_plus20.toml"
    args = ("compare", BASELINE, plus, *sets(tiny), "--jobs", 1)
    result = invoke(*args, "--ensemble", 6, "--out", tmp_path / "pooled")
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "pooled" / "compare.json").read_text())
    rows = doc["structures"]["components"]
    ready = [n for n, s in shipped.items() if (Path(s.fitted).parent / "ensemble.parquet").is_file()]
    assert [r["name"] for r in rows] == ready and sum(r["sets"] for r in rows) == 6 == doc["ensemble"]["sets"]
    assert doc["replications"] == 12 and doc["point_fit"]["replications"] == 10
    for key, d in doc["differences"].items():
        if key in rows[0]["differences"]:  # equal shares: the pool's mean B - A is the structures' mean
            assert d["paired"]["mean"] == pytest.approx(np.mean([r["differences"][key]["mean"] for r in rows]))
    for split in doc["structures"]["variance_share"].values():
        assert sum(split.values()) == pytest.approx(1.0) if split["parameters"] is not None else split["why"]
    assert "B - A by structure" in result.output and f"over {len(ready)} structures' ensembles" in result.output
    svg = (tmp_path / "pooled" / "compare.svg").read_text()  # the chart's bars are the headline's 95% of runs
    assert "95% of runs" in svg and "each structure's mean" in svg and all(n in svg for n in ready)
    own = invoke(*args, "--ensemble", 2, "--structures", "own", "--out", tmp_path / "own")
    assert own.exit_code == 0, own.output
    alone = json.loads((tmp_path / "own" / "compare.json").read_text())["differences"]
    for key, d in rows[0]["differences"].items():
        assert d["mean"] == pytest.approx(alone[key]["paired"]["mean"], abs=1e-9), key


@pytest.mark.slow
def test_solve_over_the_structures_pools_each_trial_value_s_runs(tmp_path, shipped):
    """Three sets (one a structure) of two replications at 0.4% of England for a year: each trial value's
    probability is over every structure's runs, each structure's own beside it, and the answer names them."""
    tiny = ["population.scale=0.004", "time.end=2011-04-30", "time.deadline=2011-04-30"]
    ready = [n for n, s in shipped.items() if (Path(s.fitted).parent / "ensemble.parquet").is_file()]
    result = invoke(
        "solve", BASELINE, "--vary", "programmes.key_worker.caseload", "--range", 2, 12, "--probability", 0.01,
        *sets(tiny), "--ensemble", 3, "--jobs", 1, "--out", tmp_path / "solve",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "solve" / "solve.json").read_text())
    assert doc["structures"] == ready and doc["ensemble_sets"] == 3
    for trial in doc["trials"]:
        by = trial["by_structure"]
        assert list(by) == ready
        assert sum(v["replications"] for v in by.values()) == trial["replications"] == 6
        assert sum(v["met"] for v in by.values()) == trial["met"]
    assert f"of {len(ready)} structures' ensembles ({', '.join(ready)}), pooled" in doc["headline"]
    refused = invoke("solve", BASELINE, "--vary", "programmes.key_worker.caseload", "--range", 2, 12,
                     "--structures", "own", "--out", tmp_path / "no")  # fmt: skip
    assert_user_error(refused, "--structures own", "with --ensemble N")
