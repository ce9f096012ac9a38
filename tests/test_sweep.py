"""Sweeps: designs, a store that survives kill -9, the results table, Dask, sensitivity and the solver."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from flowsim.cli import main
from flowsim.scenario import load_scenario
from flowsim.sweep import load_sweep, run_sweep, sweep_table
from flowsim.sweep.designs import design_rows
from flowsim.sweep.executors import LocalExecutor
from flowsim.sweep.run import plan

from .conftest import BASELINE, SCENARIOS, invoke

TINY = '["population.scale=0.004", "time.end=2011-04-30", "time.deadline=2011-04-30"]'


def _sweep_file(tmp_path: Path, design: str = "grid", extra: str = "", points: int = 4) -> Path:
    path = tmp_path / "sweep.toml"
    path.write_text(f"""
name = "tiny"
base = "{BASELINE}"
design = "{design}"
points = {points}
replications = 1
seed = 3
set = {TINY}
{extra}
[parameters."programmes.key_worker.caseload"]
{"values = [6, 12]" if design == "grid" else "range = [6.0, 12.0]"}
[parameters."identification.new_approach_rate_per_year"]
range = [1.0, 3.0]
steps = 2
""")
    return path


def test_designs_are_deterministic_and_inside_their_ranges(tmp_path):
    for design, n_rows in (("grid", 4), ("lhs", 4), ("sobol", 4), ("morris", 4 * 3)):
        spec = load_sweep(_sweep_file(tmp_path, design))
        rows = design_rows(spec)
        assert len(rows) == n_rows, design
        assert rows == design_rows(spec)  # the same seed gives the same design, so a resumed sweep matches
        for row in rows:
            assert 6 <= row["programmes.key_worker.caseload"] <= 12
            assert 1 <= row["identification.new_approach_rate_per_year"] <= 3


def test_bad_sweep_files_name_the_key(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(
        f'base = "{BASELINE}"\ndesign = "latin"\n[parameters."programmes.key_worker.caseload"]\nvalues = [6]\n'
    )
    result = CliRunner().invoke(main, ["sweep", str(bad)])
    assert result.exit_code == 2 and "key design" in result.output and "grid" in result.output
    bad.write_text(f'base = "{BASELINE}"\n[parameters."programmes.key_worker.caseloda"]\nvalues = [6]\n')
    result = CliRunner().invoke(main, ["sweep", str(bad)])
    assert result.exit_code == 2 and "caseloda" in result.output


@pytest.mark.slow
def test_killed_sweep_resumes_with_every_run_exactly_once(tmp_path):
    """kill -9 a real sweep process (and its workers) part-way, restart it, and count the runs."""
    spec_path = tmp_path / "kill.toml"
    spec_path.write_text(f"""
name = "kill"
base = "{BASELINE}"
replications = 2
seed = 9
set = {TINY}
[parameters."programmes.key_worker.caseload"]
range = [6.0, 12.0]
steps = 6
""")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "flowsim", "sweep", str(spec_path), "--jobs", "2", "--out", str(out), "--quiet"]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if len(list((out / "runs").glob("*.parquet"))) >= 3:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = len(list((out / "runs").glob("*.parquet")))
    assert 0 < before < 12, f"the kill should land part-way (runs done: {before})"
    subprocess.run(cmd, check=True, timeout=300, stdout=subprocess.DEVNULL)
    planned = {t["run_id"] for t in plan(load_sweep(spec_path))}
    assert json.loads((out / "sweep.json").read_text())["runs_planned"] == 12
    files = {p.stem for p in (out / "runs").glob("*.parquet")}
    assert len(planned) == 12 and files == planned
    table = sweep_table(out)
    assert len(table) == 12 and table["run_id"].is_unique


def test_rerun_skips_and_results_table_and_csv(tmp_path):
    spec = load_sweep(_sweep_file(tmp_path))
    out = tmp_path / "out"
    assert run_sweep(spec, out, LocalExecutor(2))["run"] == 4
    assert run_sweep(spec, out, LocalExecutor(2)) == {"total": 4, "skipped": 4, "run": 0}
    table = sweep_table(out)
    assert list(table.columns[:4]) == ["run_id", "design_point", "replication", "seed"]
    assert {"programmes.key_worker.caseload", "turned_around", "count_met", "stock_end"} <= set(table.columns)
    csv = tmp_path / "t.csv"
    result = CliRunner().invoke(main, ["sweep-results", str(out), "--csv", str(csv)])
    assert result.exit_code == 0 and len(csv.read_text().splitlines()) == 5


@pytest.mark.slow
def test_dask_local_cluster_matches_local_executor_run_for_run(tmp_path):
    pytest.importorskip("distributed")
    from flowsim.sweep.executors import DaskExecutor

    spec = load_sweep(_sweep_file(tmp_path))
    run_sweep(spec, tmp_path / "local", LocalExecutor(2))
    dask = DaskExecutor(None, jobs=2)
    try:
        run_sweep(spec, tmp_path / "dask", dask)
    finally:
        dask.close()
    a = sweep_table(tmp_path / "local").sort_values("run_id").reset_index(drop=True)
    b = sweep_table(tmp_path / "dask").sort_values("run_id").reset_index(drop=True)
    assert list(a["run_id"]) == list(b["run_id"]) == sorted(t["run_id"] for t in plan(spec))
    assert a.equals(b)


def test_sweep_command_writes_chart(tmp_path):
    result = CliRunner().invoke(
        main, ["sweep", str(_sweep_file(tmp_path)), "--jobs", "2", "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0]
    # What the programmes cause leads, then the chance of meeting the target, then what ran.
    assert first.startswith("Sweep tiny: ") and "families turned around because of the programmes across" in first
    assert "; 4 runs (4 run now, 0 already done)" in first
    assert result.stderr.startswith("flowsim: 4 runs (4 design points x 1 replication), about")
    assert (tmp_path / "o" / "sweep.png").stat().st_size > 5000


@pytest.mark.slow
def test_morris_sensitivity_and_tornado(tmp_path):
    # Two years of policy at 1% scale: key-worker interventions last about a year, so one year shows no effect yet.
    path = _sweep_file(tmp_path, "morris", points=3)
    path.write_text(path.read_text().replace("2011-04-30", "2012-04-30").replace("0.004", "0.01"))
    result = CliRunner().invoke(
        main,
        [
            "sensitivity",
            str(path),
            "--method",
            "morris",
            "--jobs",
            "2",
            "--out",
            str(tmp_path / "s"),
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "s" / "sensitivity.json").read_text())
    assert doc["design_rows"] == 3 * (2 + 1)  # Morris: trajectories x (parameters + 1)
    assert 1 <= doc["runs"] <= doc["design_rows"]  # trajectories that revisit a point share its run
    caseload = doc["indices"]["turned_around"]["programmes.key_worker.caseload"]["mu_star"]
    assert caseload > 0  # more places, more families turned around
    assert (tmp_path / "s" / "tornado.png").exists()


@pytest.mark.slow
def test_solver_brackets_the_probability():
    """Seed 1, 4 replications per trial at 0.4% scale to April 2012: the answer's probability is >= p, the one below it < p."""
    from flowsim.solve import solve

    sets = ["population.scale=0.004", "time.end=2012-04-30", "time.deadline=2012-04-30", "target.count_families=3000"]
    scenario = load_scenario(BASELINE, sets)
    sol = solve(scenario, "count", 0.75, "programmes.key_worker.caseload", 6, 30, replications=4, jobs=2)
    assert sol.found and 6 <= sol.answer <= 30
    assert sol.at.met / sol.at.n >= 0.75
    if sol.below is not None:
        assert sol.below.met / sol.below.n < 0.75 and sol.below.value < sol.answer


def test_shipped_sweep_file_is_valid():
    spec = load_sweep(SCENARIOS / "sweeps" / "key_worker_capacity.toml")
    assert len(plan(spec)) == 8


def test_sweep_of_a_payment_by_results_scenario_records_claimed_and_additional(tmp_path):
    """Every run goes through run_replication, so a sweep gets the counterfactual too (seed 3, 0.4% scale)."""
    path = tmp_path / "pbr.toml"
    path.write_text(f"""
name = "pbr"
base = "{SCENARIOS / "tf_programme_2012.toml"}"
seed = 3
set = ["population.scale=0.004", "time.end=2013-07-31", "time.deadline=2013-07-31"]
[parameters."programmes.key_worker.caseload"]
values = [6, 12]
""")
    run_sweep(load_sweep(path), tmp_path / "out", LocalExecutor(2))
    table = sweep_table(tmp_path / "out")
    assert {"attached", "claimed", "counterfactual_claimed", "additional"} <= set(table.columns)
    assert (table["additional"] == table["claimed"] - table["counterfactual_claimed"]).all()
    assert (table["attached"] > 0).all()


def test_runs_grouped_to_share_their_past_give_the_rows_of_runs_alone(tmp_path):
    """A sweep's group of runs (one replication, four design points: caseload and the new approach's rate) is
    simulated from one shared past, and its rows equal the four runs made one by one."""
    from flowsim.engine.simulation import can_share
    from flowsim.finance import counterfactual
    from flowsim.sweep.run import groups, run_group, run_point

    tasks = plan(load_sweep(_sweep_file(tmp_path)))
    (group,) = list(groups(iter(tasks), points=4))
    assert can_share([(t["scenario"], counterfactual(t["scenario"])) for t in group["runs"]])
    assert run_group(group) == [run_point(t) for t in group["runs"]]


def test_a_sweep_keeping_no_caused_measure_runs_without_counterfactuals(tmp_path):
    """``measures = [...]`` keeps those columns (and turned around and P(met), the summary's answer); when none is
    a caused measure the runs skip their counterfactuals, and the plan says so. Its rows, made in one shared group
    and one by one, equal a full sweep's in every column they keep (seed 3, 0.4% scale, to 2011)."""
    from flowsim.engine.simulation import can_share
    from flowsim.sweep.run import groups, run_group, run_point, sweep_plan

    full = plan(load_sweep(_sweep_file(tmp_path)))
    spec = load_sweep(_sweep_file(tmp_path, extra='measures = ["stock_end", "cost_gbp"]'))
    assert not spec.counterfactual and "without counterfactuals" in sweep_plan(spec, None, 1).describe()
    lean = plan(spec)
    (group,) = list(groups(iter(lean), points=4))
    assert can_share([(t["scenario"], None) for t in group["runs"]])
    rows = run_group(group)
    assert rows == [run_point(t) for t in group["runs"]]
    kept = ["turned_around", "count_met", "stock_end", "cost_gbp"]
    for row, task in zip(rows, full, strict=True):
        assert set(row) == {"run_id", "design_point", "replication", "seed", "scenario_sha256", *task["row"], *kept}
        assert row == {k: v for k, v in run_point(task).items() if k in row}
    caused = load_sweep(_sweep_file(tmp_path, extra='measures = ["additional_stock_end"]'))
    assert caused.counterfactual and "counterfactual" not in sweep_plan(caused, None, 1).describe()


def test_a_sweeps_measures_are_checked(tmp_path):
    for value, expected in (('["stock_ned"]', "did you mean 'stock_end'"), ("[]", "expected a list of column names")):
        path = _sweep_file(tmp_path, extra=f"measures = {value}")
        result = CliRunner().invoke(main, ["sweep", str(path)])
        assert result.exit_code == 2 and "line 9, key measures" in result.output and expected in result.output


def test_the_measures_that_need_a_counterfactual_are_those_a_run_without_one_lacks():
    """What ``needs_counterfactual`` declares is what a run without its counterfactual cannot report (seed 1, 0.4%
    scale to July 2013, the baseline and the 2012 programme), and every other sweep measure is the same in both."""
    from flowsim.measures import SWEEP, get, has, needs_counterfactual, used_in
    from flowsim.replications import run_replication

    tf = ["population.scale=0.004", "time.end=2013-07-31", "time.deadline=2013-07-31"]
    for path in (BASELINE, SCENARIOS / "tf_programme_2012.toml"):
        sc = load_scenario(path, tf)
        full = run_replication(sc, 1, 0, tables=False).summary
        lean = run_replication(sc, 1, 0, tables=False, counterfactual=False).summary
        for m in (m for m in used_in(SWEEP) if has(full, m.key)):
            assert has(lean, m.key) != needs_counterfactual(m), m.key
            if has(lean, m.key):
                assert get(lean, m.key) == get(full, m.key), m.key


def test_groups_gather_one_replication_over_a_window_of_design_points():
    from flowsim.sweep.run import groups

    tasks = [{"design_point": p, "replication": r} for p in range(5) for r in range(2)]
    got = [[(t["design_point"], t["replication"]) for t in g["runs"]] for g in groups(iter(tasks), points=2)]
    assert got == [[(0, 0), (1, 0)], [(0, 1), (1, 1)], [(2, 0), (3, 0)], [(2, 1), (3, 1)], [(4, 0)], [(4, 1)]]


@pytest.mark.slow
def test_the_shipped_sensitivity_example_runs(tmp_path):
    """Before: the only shipped sweep file had a grid of values, which `sensitivity` refuses: no example could run.
    One Morris trajectory (4 runs at 3% scale) of the shipped example, analysed; the headline leads with the
    families turned around because of the programmes."""
    example = SCENARIOS / "sweeps" / "key_worker_sensitivity.toml"
    result = invoke("sensitivity", example, "--method", "morris", "--points", 1, "--out", tmp_path, "--jobs", 1)
    assert result.exit_code == 0, result.output
    assert "families turned around because of the programmes depend most on" in result.stdout.splitlines()[0]
    assert (tmp_path / "sensitivity.json").exists() and (tmp_path / "tornado.png").exists()


@pytest.mark.parametrize(
    ("design", "size"),
    [("lhs", "points = 1000000000"), ("grid", "\nsteps = 1000000000")],
)
def test_a_design_too_large_to_draw_is_refused_at_once(tmp_path, design, size):
    """A sampled design (and a grid's axis) is drawn whole before the plan: a billion points would hang, so more than
    100,000 is refused with the file, line and key (found by hypothesis in test_cli_fuzz)."""
    points, _, steps = size.partition("\n")
    path = tmp_path / "big.toml"
    path.write_text(
        f'name = "big"\nbase = "{BASELINE}"\ndesign = "{design}"\n{points}\n'
        f'[parameters."programmes.key_worker.caseload"]\nrange = [4, 8]\n{steps}\n'
    )
    result = invoke("sweep", path, "--dry-run", "--out", tmp_path / "o")
    assert result.exit_code == 2
    key = "points" if design == "lhs" else "steps"
    assert str(path) in result.output and key in result.output and "100,000" in result.output
