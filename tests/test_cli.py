"""The commands, through click's CliRunner."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
from click.testing import CliRunner

from flowsim.cli import main
from flowsim.results import TABLES

from .conftest import BASELINE, SCENARIOS, SMALL


def _sets():
    return [arg for s in SMALL for arg in ("--set", s)]


def test_run_writes_a_run_directory_that_answers_the_question(tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["run", str(BASELINE), "--seed", "3", "--out", str(out), *_sets()])
    assert result.exit_code == 0, result.output
    first = result.output.splitlines()[0]
    assert first.startswith("Target (") and "turned around by 2012-04-30" in first
    summary = json.loads((out / "summary.json").read_text())
    assert summary["headline"] == first
    count = summary["target"]["count"]
    assert set(count) >= {"turned_around", "target", "met", "date_met"}
    assert isinstance(count["met"], bool)
    assert "share" in summary["target"]["coverage"]
    assert set(summary["target"]["prevalence"]) >= {"stock_start", "stock_end"}
    assert set(summary["moments"]) >= {"at_risk", "persistence_1y", "persistent_4_of_6", "stock", "flow_group"}
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(manifest["scenario_sha256"]) == 64 and manifest["seed"] == 3
    assert manifest["flowsim_version"] and manifest["started_at"]
    assert manifest["scenario"]["population"]["scale"] == 0.01
    for name in TABLES:
        assert pq.read_table(out / f"{name}.parquet").num_rows > 0, name


def test_run_quiet_prints_only_the_headline(tmp_path):
    result = CliRunner().invoke(main, ["run", str(BASELINE), "--quiet", "--out", str(tmp_path), *_sets()])
    assert result.exit_code == 0
    assert len(result.output.strip().splitlines()) == 1


def test_validate_every_shipped_scenario():
    for path in sorted(SCENARIOS.glob("*.toml")):
        result = CliRunner().invoke(main, ["validate", str(path)])
        assert result.exit_code == 0, (path, result.output)


def test_show_lists_every_parameter_with_unit_and_source():
    result = CliRunner().invoke(
        main, ["show", str(SCENARIOS / "key_worker_plus20.toml"), "--set", "programmes.key_worker.caseload=7"]
    )
    assert result.exit_code == 0
    lines = result.output.splitlines()
    caseload = next(line for line in lines if line.startswith("programmes.key_worker.caseload ="))
    assert "= 7" in caseload and "ref: NatCen 2011" in caseload and "--set" in caseload
    staff = next(line for line in lines if line.startswith("programmes.key_worker.staff ="))
    assert "key_worker_plus20.toml" in staff


def test_python_dash_m_entry_point():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "flowsim", "--version"], capture_output=True, text=True, check=True)
    assert "flowsim" in out.stdout
