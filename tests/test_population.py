"""The entrant sampler draws trigger-led entrants from the right distribution."""

from __future__ import annotations

import numpy as np
import pytest

from flowsim.engine.population import EntrantSampler, subset
from flowsim.engine.spec import compile_spec
from flowsim.scenario import load_scenario

from .conftest import LADDER


def _spec(*args):
    return compile_spec(load_scenario(*args))


@pytest.fixture(scope="module")
def sampler():
    spec = _spec(LADDER, ["population.scale=0.01", "population.frailty_variance=0.5"])
    return EntrantSampler(spec.population, spec.up[0], spec.boost, spec.window, 1e6, np.random.default_rng(1))


def _brute_force(s: EntrantSampler, k: int, n: int, rng: np.random.Generator):
    """The definition: population members with trigger k's rate, kept with the window's chance of entry."""
    cand = s.pop.draw(40 * n, rng)
    weight = s.pop.trigger_rates(cand)[:, k] * (1 - np.exp(-s.boost * s.pop.entry_mult(cand) * s.window))
    keep = np.flatnonzero(rng.random(weight.size) * weight.max() < weight)[:n]
    return subset(cand, keep)


@pytest.mark.parametrize("k", range(4))
def test_trigger_entrants_match_the_brute_force_definition(sampler, k):
    """Seed 5, 20,000 entrants each way: every factor's prevalence, the mean frailty and the mean
    youngest age agree within 4.5 standard errors (a two-sample z bound over ~20 statistics)."""
    rng = np.random.default_rng(5)
    n = 20_000
    fast = sampler._trigger(k, n, rng)
    slow = _brute_force(sampler, k, n, rng)
    assert fast.frailty.size == n and slow.frailty.size == n
    a, b = fast.factors.mean(axis=0), slow.factors.mean(axis=0)
    se = np.sqrt((a * (1 - a) + b * (1 - b)) / n) + 1e-12
    assert np.all(np.abs(a - b) <= 4.5 * se), np.abs(a - b) / se
    for x, y in ((fast.frailty, slow.frailty), (fast.youngest_age, slow.youngest_age)):
        se = np.sqrt((x.var() + y.var()) / n)
        assert abs(x.mean() - y.mean()) <= 4.5 * se


@pytest.mark.parametrize("n", [0, 1, 3 * (1 << 14) + 5])
def test_blocked_draws_equal_the_whole_array_draws(n):
    """bernoulli_rows gives the very values of the one-array draw it replaces; weighted_sum is a product sum."""
    from flowsim.engine.population import bernoulli_rows, weighted_sum

    p = np.linspace(0.01, 0.9, 18)
    got = bernoulli_rows(np.random.default_rng(7), n, p)
    want = np.random.default_rng(7).random((n, p.size)) < p
    assert np.array_equal(got, want)
    w = np.random.default_rng(8).normal(0, 0.7, p.size)
    assert np.allclose(weighted_sum(got, w), got @ w, rtol=1e-14, atol=1e-14)  # a few ulps: summation order
    # Column order, whatever the number of rows: the first rows alone give the same bits.
    assert np.array_equal(weighted_sum(got[:7], w), weighted_sum(got, w)[:7])
