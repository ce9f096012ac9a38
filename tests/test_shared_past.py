"""Scenarios that differ only from some date on share the past before it, simulated once, bit for bit."""

from __future__ import annotations

import math

import numpy as np
import pytest

from flowsim.engine.divergence import divergence, first_difference
from flowsim.engine.spec import compile_spec
from flowsim.finance import counterfactual
from flowsim.scenario import load_scenario

from .conftest import BASELINE, SCENARIOS
from .test_model_v2 import _same_results

SMALL = ["population.scale=0.01", "time.end=2013-06-30", "time.deadline=2013-06-30"]


def _spec(path, sets=()):
    return compile_spec(load_scenario(path, list(sets)))


def test_step_functions_differ_from_their_first_different_value():
    assert first_difference([0.0, 1.0], [5, 6], [0.0, 1.0], [5, 6]) == math.inf
    assert first_difference([0.0, 1.0], [5, 6], [0.0, 1.0], [5, 7]) == 1.0
    assert first_difference([0.0, 1.0], [5, 6], [0.0, 0.5, 1.0], [5, 5, 6]) == math.inf  # a step that changes nothing
    assert first_difference([0.0], [5], [1.0], [5]) == 0.0
    assert first_difference([], [], [2.0], [0]) == math.inf  # 0 before the first step either way


def test_divergence_is_placed_where_the_scenarios_first_differ():
    base = _spec(BASELINE)
    assert divergence(base, base) == math.inf
    assert divergence(base, _spec(SCENARIOS / "key_worker_plus20.toml")) == 1.0  # more staff from April 2011
    # The 2012 programme's councils take their families from the Census from the start: no sharing with the baseline,
    # but its own variants share up to April 2012, when the councils first act.
    tf = _spec(SCENARIOS / "tf_programme_2012.toml")
    assert divergence(base, tf) is None
    assert divergence(tf, _spec(SCENARIOS / "tf_programme_2012.toml", ["programme_2012.pace=1.5"])) == 2.0
    # A hazard differs from the start, and switched-off programmes change the model's arrays: no sharing.
    assert divergence(base, _spec(BASELINE, ["problems.child_link_scale=0.2"])) is None
    assert divergence(base, _spec(SCENARIOS / "no_early_intervention.toml")) is None
    assert divergence(base, _spec(BASELINE, ["target.count_families=50000"])) == math.inf  # read only by measures
    assert divergence(base, _spec(BASELINE, ["identification.new_approach_rate_per_year=3"])) == 1.0  # roll-out
    assert divergence(base, _spec(BASELINE, ["programmes.key_worker.caseload=14"])) == -4.0  # the FIP from 2006


@pytest.mark.parametrize(
    ("other", "sets"),
    [
        ("key_worker_plus20.toml", []),  # places differ from April 2011
        ("baseline.toml", ["identification.new_approach_rate_per_year=3"]),  # where the roll-out has reached
    ],
)
def test_shared_runs_are_the_separate_runs_bit_for_bit(other, sets):
    """Seed 4, 1% scale, to June 2013: each scenario and its counterfactual from the shared past equal the same
    run alone, table for table."""
    from flowsim.engine.simulation import simulate_shared, simulate_with_counterfactual

    a, b = load_scenario(BASELINE, SMALL), load_scenario(SCENARIOS / other, SMALL + sets)
    shared = simulate_shared([(a, counterfactual(a)), (b, counterfactual(b))], seed=4, replication=1)
    alone = [simulate_with_counterfactual(s, counterfactual(s), seed=4, replication=1) for s in (a, b)]
    for pair_shared, pair_alone in zip(shared, alone, strict=True):
        for x, y in zip(pair_shared, pair_alone, strict=True):
            _same_results(x, y)


@pytest.mark.slow
def test_the_2012_programmes_variants_share_their_past_bit_for_bit():
    """Seed 4, 1% scale, to June 2013: two paces of the councils' referrals, and each counterfactual, from one past
    equal the same runs alone, councils' logs included."""
    from flowsim.engine.simulation import simulate_shared, simulate_with_counterfactual

    tf = SCENARIOS / "tf_programme_2012.toml"
    a, b = load_scenario(tf, SMALL), load_scenario(tf, [*SMALL, "programme_2012.pace=1.5"])
    shared = simulate_shared([(a, counterfactual(a)), (b, counterfactual(b))], seed=4, replication=1)
    alone = [simulate_with_counterfactual(s, counterfactual(s), seed=4, replication=1) for s in (a, b)]
    for pair_shared, pair_alone in zip(shared, alone, strict=True):
        for x, y in zip(pair_shared, pair_alone, strict=True):
            _same_results(x, y)
            for key in ("identified", "attached", "claims"):
                for col_x, col_y in zip(x.programme_2012[key], y.programme_2012[key], strict=True):
                    assert np.array_equal(col_x, col_y)


def test_scenarios_that_cannot_share_are_run_apart():
    from flowsim.engine.simulation import simulate_shared

    a, b = load_scenario(BASELINE, SMALL), load_scenario(SCENARIOS / "no_early_intervention.toml", SMALL)
    assert simulate_shared([(a, counterfactual(a)), (b, counterfactual(b))], seed=4) is None


def test_compare_gives_the_same_document_shared_or_not(monkeypatch):
    """flowsim.compare with the shared past and with sharing switched off: the same numbers (2 replications)."""
    import flowsim.engine.simulation as simulation
    from flowsim.compare import compare

    a, b = load_scenario(BASELINE, SMALL), load_scenario(SCENARIOS / "key_worker_plus20.toml", SMALL)
    shared = compare(a, b, 2, seed=7, jobs=1)
    monkeypatch.setattr(simulation, "can_share", lambda pairs: False)
    apart = compare(a, b, 2, seed=7, jobs=1)
    assert shared == apart
