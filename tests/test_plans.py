"""Plans nobody meant: the size and estimated time are shown first, absurd plans need --yes, big sweeps start at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flowsim.plan import MAX_RUNS, MAX_SECONDS, Plan, estimate_seconds
from flowsim.scenario import load_scenario

from .conftest import BASELINE, SCENARIOS, TINY, assert_user_error, interruptible, invoke, sets


def _sweep(tmp_path: Path, steps: int, replications: int) -> Path:
    path = tmp_path / "big.toml"
    path.write_text(f"""name = "big"
base = "{BASELINE}"
replications = {replications}
set = {json.dumps(TINY)}
[parameters."programmes.key_worker.caseload"]
range = [6.0, 12.0]
steps = {steps}
""")
    return path


def test_an_absurd_number_of_replications_is_refused_without_yes():
    """Before: --replications 1000000 was accepted and grew the parent by 0.6 GB in 40 s, the bar at 0%."""
    started = time.monotonic()
    line = assert_user_error(invoke("run", BASELINE, "--replications", "1000000", *sets(TINY)), "1,000,000 runs")
    assert "--yes" in line and time.monotonic() - started < 5


def test_an_absurd_sweep_is_refused_at_once(tmp_path):
    started = time.monotonic()
    line = assert_user_error(invoke("sweep", _sweep(tmp_path, 10_000, 1_000)), "10,000,000 runs", "--yes")
    assert "10,000 design points x 1,000 replications" in line
    assert time.monotonic() - started < 5


def test_the_plan_and_its_time_are_shown_before_starting(tmp_path):
    result = invoke(
        "run", BASELINE, "--replications", "3", "--jobs", "2", "--no-report", "--out", tmp_path / "r", *sets(TINY)
    )
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("flowsim: 3 runs") and "about" in result.stderr.splitlines()[0]
    result = invoke("sweep", _sweep(tmp_path, 3, 2), "--jobs", "2", "--out", tmp_path / "s")
    assert result.exit_code == 0, result.output
    first = result.stderr.splitlines()[0]
    assert first.startswith("flowsim: 6 runs (3 design points x 2 replications") and "about" in first
    result = invoke("sweep", _sweep(tmp_path, 3, 2), "--jobs", "2", "--out", tmp_path / "s")
    assert "0 runs to go (6 already done)" in result.stderr


def test_dry_run_shows_the_plan_and_runs_nothing(tmp_path):
    result = invoke("sweep", _sweep(tmp_path, 10_000, 1_000), "--dry-run", "--out", tmp_path / "s")
    assert result.exit_code == 0, result.output
    assert "10,000,000 runs" in result.stdout and not (tmp_path / "s").exists()


def test_the_rule_for_absurd():
    plan = Plan(runs=MAX_RUNS, seconds=1.0, jobs=1, what="x")
    assert not plan.absurd
    assert Plan(runs=MAX_RUNS + 1, seconds=1.0, jobs=1, what="x").absurd
    assert Plan(runs=2, seconds=MAX_SECONDS + 1, jobs=2, what="x").absurd  # wall time: 2 runs side by side
    assert not Plan(runs=4, seconds=MAX_SECONDS / 2 - 1, jobs=2, what="x").absurd  # two after two


def test_the_estimate_grows_with_size_and_horizon():
    small = estimate_seconds(load_scenario(BASELINE, TINY))
    longer = estimate_seconds(load_scenario(BASELINE, ["population.scale=0.004"]))
    full = estimate_seconds(load_scenario(BASELINE))
    everyone = estimate_seconds(load_scenario(BASELINE, ["population.sample_weight=1"]))  # every family tracked
    paid = estimate_seconds(load_scenario(SCENARIOS / "tf_programme_2012.toml"))
    assert 0.05 < small < longer < full < everyone
    assert 5 < full < 30  # --ensemble 50 of the baseline: 14.7 s a run on a 2-core machine
    assert paid > full  # payment by results runs a counterfactual too


@pytest.mark.slow
def test_a_huge_sweep_with_yes_starts_at_once(tmp_path):
    """With --yes, 10,000 steps x 1,000 replications start running within seconds, in little memory."""
    out = tmp_path / "s"
    cmd = [sys.executable, "-m", "flowsim", "sweep", str(_sweep(tmp_path, 10_000, 1_000)), "--yes", "--jobs", "2"]
    proc = subprocess.Popen(
        [*cmd, "--quiet", "--out", str(out)], start_new_session=True, stderr=subprocess.PIPE, preexec_fn=interruptible
    )
    try:
        started = time.monotonic()
        while not list((out / "runs").glob("*.parquet")) and time.monotonic() - started < 60:
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.1)
        assert time.monotonic() - started < 30, "the first run took too long to appear"
        status = Path(f"/proc/{proc.pid}/status").read_text()
        rss_kb = int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1])
        assert rss_kb < 600_000
        manifest = json.loads((out / "sweep.json").read_text())
        assert manifest["runs_planned"] == 10_000_000 and "runs" not in manifest
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=30)
        finally:  # a sweep that ignored the Ctrl-C must not run on and slow every later test
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
