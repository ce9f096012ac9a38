"""solve knows what it knows: more replications where a trial's interval includes the probability asked for, an
answer that says when it is undecided, its cost, and solve.json with a chart."""

from __future__ import annotations

import json

import numpy as np
import pytest

from flowsim import solve as solving
from flowsim.results import Replication
from flowsim.scenario import load_scenario

from .conftest import BASELINE, TINY, invoke, sets


def _fake_runs(chance):
    """run_replications' stand-in: replication i at value x meets the target when a fixed uniform draw for stream i
    (seed 0) is below ``chance(x)``, so every value sees the same streams (common random numbers, as the real one)."""
    draws = np.random.default_rng(0).random(10_000)

    def run(scenario, seed, n, jobs=None, progress=None, lean=False, first=0):
        x = scenario.value("programmes.key_worker.caseload")
        return [
            Replication(
                i,
                {
                    "target": {"count": {"met": bool(draws[i] < chance(x)), "turned_around": 100 * x}},
                    "cost": {"england_gbp": 1e6 * x},
                },
                {},
            )
            for i in range(first, first + n)
        ]

    return run


def test_a_trial_whose_interval_includes_the_probability_runs_more_replications(monkeypatch):
    """Before: 6 replications at an estimate of 0.83 (95% interval 0.44-0.97) were reported as meeting P >= 0.8.
    P(met) rises from 0 at caseload 6 to 1 at 16: near 0.8, 8 replications cannot decide, so up to 32 run."""
    monkeypatch.setattr(solving, "run_replications", _fake_runs(lambda x: min(max((x - 6) / 10, 0.0), 1.0)))
    scenario = load_scenario(BASELINE, ["population.scale=0.01"])
    sol = solving.solve(scenario, "count", 0.8, "programmes.key_worker.caseload", 6, 16, replications=8, jobs=1)
    assert sol.found
    grew = [t for t in sol.trials if t.n > 8]
    assert grew and all(t.n <= solving.MAX_FACTOR * 8 for t in sol.trials)
    for t in sol.trials:  # a trial is decided exactly when its interval excludes 0.8
        p = t.probability
        assert t.decided == (not (p["lo"] < 0.8 <= p["hi"]))
        assert t.n == 8 or not (t.n < 32 and not t.decided)  # it stopped growing only once decided or at the cap
    text = solving.describe(sol, "count", 16)
    assert f"the programmes cost £{sol.at.cost_gbp / 1e6:,.0f}m there" in text
    if not (sol.at.decided and (sol.below is None or sol.below.decided)):
        assert "undecided" in text


@pytest.mark.slow
def test_solve_writes_its_answer_and_chart(tmp_path):
    """Seed 1, 0.4% scale for a year, 2 replications per value: solve.json holds every trial and the chart exists."""
    result = invoke(
        "solve", BASELINE, "--vary", "programmes.key_worker.caseload", "--range", 2, 12, "--probability", 0.01,
        "--replications", 2, "--jobs", 1, "--out", tmp_path, "--quiet", *sets(TINY),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "solve.json").read_text())
    assert doc["parameter"] == "programmes.key_worker.caseload" and doc["trials"]
    assert doc["headline"] in result.stdout
    assert (tmp_path / "solve.png").stat().st_size > 10_000 and (tmp_path / "solve.svg").exists()
