"""Small lies: the scale and small numbers in every headline, no 'met on None', uncalibrated defaults said aloud."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flowsim.scenario import load_scenario
from flowsim.text import headline, run_notes

from .conftest import BASELINE, assert_user_error, invoke, sets

DATES = ["time.end=2011-04-30", "time.deadline=2011-04-30"]


@pytest.mark.slow
def test_a_tiny_run_says_its_scale_and_warns_of_small_numbers(tmp_path):
    """Before: population.scale=0.0001 said "not met - 0 by the deadline, 5 short" with no warning."""
    out = tmp_path / "r"
    result = invoke("run", BASELINE, "--quiet", "--out", out, *sets(["population.scale=0.0001", *DATES]))
    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0]
    assert "population.scale 0.0001" in first and "small numbers" in first
    html = (out / "report.html").read_text()
    assert "population.scale 0.0001" in html and "small numbers" in html


def test_the_scale_is_in_every_headline_below_full_scale(tmp_path):
    result = invoke(
        "run", BASELINE, "--quiet", "--no-report", "--out", tmp_path / "r", *sets(["population.scale=0.05", *DATES])
    )
    assert "population.scale 0.05" in result.stdout.splitlines()[0]
    assert "small numbers" not in result.stdout
    result = invoke(
        "run",
        BASELINE,
        "--quiet",
        "--no-report",
        "--replications",
        "2",
        "--out",
        tmp_path / "m",
        *sets(["population.scale=0.004", *DATES]),
    )
    assert "population.scale 0.004" in result.stdout.splitlines()[0]
    result = invoke(
        "compare",
        BASELINE,
        BASELINE,
        "--replications",
        "2",
        "--quiet",
        "--out",
        tmp_path / "c",
        *sets(["population.scale=0.004", *DATES]),
    )
    assert result.exit_code == 0, result.output
    assert "population.scale 0.004" in result.stdout.splitlines()[0]


def test_full_scale_headlines_carry_no_scale_note():
    summary = {
        "headline": "Target (46,000 turned around by 2015-05-31): met on 2014-01-02 — 46,001 by the deadline",
        "scale": 1.0,
        "target": {"count": {"target": 46_000}},
    }
    assert headline(summary, []) == summary["headline"]


def test_a_target_of_zero_is_refused():
    """Before: target.count_families=0 printed "met on None"."""
    assert_user_error(invoke("validate", BASELINE, "--set", "target.count_families=0"), "target.count_families")


def test_time_end_is_bounded_by_what_the_model_supports():
    """Before: time.end = 3000-01-01 was valid."""
    line = assert_user_error(
        invoke("validate", BASELINE, "--set", "time.end=3000-01-01", "--set", "time.deadline=2015-05-31"),
        "time.end",
        "2020-12-31",
    )
    assert "3000-01-01" in line
    assert_user_error(invoke("validate", BASELINE, "--set", "time.start=1900-01-01"), "time.start")
    assert invoke("validate", BASELINE, "--set", "time.end=2020-12-31").exit_code == 0


@pytest.mark.slow
def test_an_empty_scenario_file_says_it_runs_registry_defaults(tmp_path):
    """Before: an empty scenario file ran the uncalibrated registry defaults without a word."""
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    out = tmp_path / "r"
    result = invoke("run", empty, "--quiet", "--out", out, *sets(["population.scale=0.004", *DATES]))
    assert result.exit_code == 0, result.output
    assert "registry defaults" in result.stdout.splitlines()[0]
    assert "registry defaults" in (out / "report.html").read_text()
    manifest = json.loads((out / "manifest.json").read_text())
    assert any("registry defaults" in n for n in manifest["notes"])


def test_a_scenario_without_calibration_says_so(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text("[programmes.key_worker]\ncaseload = 7\n")
    notes = run_notes(load_scenario(path))
    assert any("uncalibrated" in n for n in notes)
    assert not any("uncalibrated" in n or "registry defaults" in n for n in run_notes(load_scenario(BASELINE)))


@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_notes_for_calibrated_scenarios_are_only_the_scale(scale):
    notes = run_notes(load_scenario(BASELINE, [f"population.scale={scale}"]))
    assert notes == (
        [] if scale == 1 else [f"population.scale {scale:g}: counts are for the simulated share of England"]
    )


def test_compare_refuses_populations_of_different_sizes(tmp_path):
    """Before: a scenario at 0.01 against one at 0.02 ran, and the headline called the difference in size an effect."""
    for key, value in (("scale", 0.02), ("sample_weight", 10)):
        other = tmp_path / f"{key}.toml"
        other.write_text(f'extends = "{BASELINE}"\nname = "other_{key}"\n[population]\n{key} = {value}\n')
        result = invoke("compare", BASELINE, other, "--quiet", "--out", tmp_path / "c")
        line = assert_user_error(result, f"population.{key}", "baseline", f"other_{key}", str(value))
        assert "would report the difference in size as an effect of policy" in line
    assert not (tmp_path / "c").exists()


def test_the_ensemble_is_found_from_any_directory(tmp_path, monkeypatch):
    """Before: --ensemble looked for calibration/ensemble.parquet under the working directory, so it failed outside
    the repository's root. Now the default is the scenario's project's ensemble."""
    monkeypatch.chdir(tmp_path)
    tiny = ["population.scale=0.004", "time.end=2011-04-30", "time.deadline=2011-04-30"]
    result = invoke("run", BASELINE, "--ensemble", 2, "--quiet", "--no-report", "--out", tmp_path / "r", *sets(tiny))
    assert result.exit_code == 0, result.output
    assert "parameter sets from 2 structures' ensembles (baseline 1, clockwork 1)" in result.stdout
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    components = summary["structures"]["components"]
    assert components[0]["path"] == str(BASELINE.parents[1] / "calibration" / "ensemble.parquet")
    assert Path(components[1]["path"]) == BASELINE.parents[1] / "calibration" / "clockwork" / "ensemble.parquet"


def test_the_readme_and_the_report_share_one_glossary():
    """Before: no glossary of "turned around", "stock", "coverage", "additional". The report draws it from
    flowsim.text.GLOSSARY; the README must say the same words."""
    from flowsim.text import GLOSSARY

    readme = (BASELINE.parents[1] / "README.md").read_text()
    for term, meaning in GLOSSARY.items():
        assert f"- **{term}**: {meaning}." in readme, term
