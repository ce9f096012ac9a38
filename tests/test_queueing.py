"""A programme in isolation is an M/M/c queue: its waits must match Erlang-C and Little's law.

Seeds, replications and tolerances: 24 replications (seeds 0-23) of 150
simulated years after a 20-year warm-up; each check allows 4 standard
errors of the replication mean, so a correct queue fails about 1 time in
15,000.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from flowsim.engine.programmes import Programme

LAMBDA = 4.0  # arrivals per year
MEAN_SERVICE = 1.0  # years (exponential: gamma shape 1)
SERVERS = 5
WARMUP, YEARS, REPS = 20.0, 150.0, 24


def erlang_c_wait(lam: float, mu: float, c: int) -> float:
    """Mean wait in queue of an M/M/c queue (years)."""
    a = lam / mu
    rho = a / c
    top = a**c / math.factorial(c) / (1 - rho)
    p_wait = top / (sum(a**k / math.factorial(k) for k in range(c)) + top)
    return p_wait / (c * mu - lam)


def simulate_queue(seed: int, slice_years: float = 1 / 12):
    """Drive one programme the way the engine does: releases, then admissions, a month at a time."""
    rng = np.random.default_rng(seed)
    prog = Programme("test", 0, np.array([0.0]), np.array([float(SERVERS)]), MEAN_SERVICE, 1.0, 0.0)
    horizon = WARMUP + YEARS
    n_max = int(LAMBDA * horizon * 1.5) + 100
    arrivals = np.cumsum(rng.exponential(1 / LAMBDA, n_max))
    arrivals = arrivals[arrivals < horizon]
    status = np.zeros(arrivals.size, np.int8)
    pending_ends: list[tuple[float, int]] = []
    waits, sojourns, occupancy = [], [], []
    t0 = 0.0
    next_arrival = 0
    while t0 < horizon:
        t1 = t0 + slice_years
        if t0 >= WARMUP:
            occupancy.append(prog.occupied + int((status == 1).sum()))
        prog.open_month(t0)
        hi = int(np.searchsorted(arrivals, t1))
        ids = np.arange(next_arrival, hi)
        status[ids] = 1
        prog.join(ids, arrivals[ids])
        next_arrival = hi
        due = [e for e in pending_ends if e[0] < t1]
        pending_ends = [e for e in pending_ends if e[0] >= t1]
        for _, i in due:
            status[i] = 0
        prog.release(np.array([e for e, _ in due]))
        adm = prog.admit(
            status == 1, t1, lambda ids: (rng.exponential(MEAN_SERVICE, ids.size), np.zeros(ids.size, bool))
        )
        status[adm.ids] = 2
        for i, a, s, e in zip(adm.ids, adm.arrived, adm.started, adm.ends, strict=True):
            if e < t1:
                status[i] = 0  # already released inside admit
            else:
                pending_ends.append((float(e), int(i)))
            if a >= WARMUP:
                waits.append(s - a)
                sojourns.append(e - a)
        t0 = t1
    return np.mean(waits), np.mean(sojourns), np.mean(occupancy)


@pytest.fixture(scope="module")
def replications():
    return np.array([simulate_queue(seed) for seed in range(REPS)])


def test_mean_wait_matches_erlang_c(replications):
    waits = replications[:, 0]
    expected = erlang_c_wait(LAMBDA, 1 / MEAN_SERVICE, SERVERS)
    se = waits.std(ddof=1) / math.sqrt(REPS)
    assert abs(waits.mean() - expected) < 4 * se, (waits.mean(), expected, se)


def test_littles_law(replications):
    sojourn, occupancy = replications[:, 1], replications[:, 2]
    little = LAMBDA * sojourn
    diff = occupancy - little
    se = diff.std(ddof=1) / math.sqrt(REPS)
    assert abs(diff.mean()) < 4 * se + 0.02, (occupancy.mean(), little.mean(), se)


def test_no_wait_when_capacity_is_ample():
    """With far more places than families, nobody waits (deterministic check)."""
    rng = np.random.default_rng(0)
    prog = Programme("ample", 0, np.array([0.0]), np.array([1000.0]), 1.0, 1.0, 0.0)
    prog.open_month(0.0)
    ids = np.arange(50)
    times = np.sort(rng.random(50) / 12)
    status = np.ones(50, np.int8)
    prog.join(ids, times)
    adm = prog.admit(status == 1, 1 / 12, lambda ids: (rng.exponential(1.0, ids.size), np.zeros(ids.size, bool)))
    assert adm.ids.size == 50
    np.testing.assert_allclose(adm.started, adm.arrived)


def test_fifo_order_and_capacity_cut():
    """A single place serves families in arrival order; a capacity cut closes places as they free."""
    prog = Programme("one", 0, np.array([0.0, 1.0]), np.array([1.0, 0.0]), 5.0, 100.0, 0.0)
    prog.open_month(0.0)
    status = np.ones(3, np.int8)
    prog.join(np.array([2, 0, 1]), np.array([0.03, 0.01, 0.02]))
    draw = lambda ids: (np.full(ids.size, 5.0), np.zeros(ids.size, bool))  # noqa: E731
    adm = prog.admit(status == 1, 1 / 12, draw)
    assert adm.ids.tolist() == [0]  # the earliest arrival takes the only place
    assert adm.started[0] == pytest.approx(0.01)
    prog.occupied = 1
    prog.open_month(1.0)  # capacity now 0, one place occupied: deficit of one
    prog.release(np.array([1.05]))
    status[0] = 0
    adm = prog.admit(status == 1, 1.0 + 1 / 12, draw)
    assert adm.ids.size == 0 and prog.occupied == 0


def test_a_family_that_left_and_joined_again_is_admitted_once_from_its_later_arrival():
    """Before: a family that left the queue (its problems changed) and was referred again within one month had two
    entries, both still waiting, and was admitted twice (found as a negative waiting count in the 2012 programme)."""
    prog = Programme("ample", 0, np.array([0.0]), np.array([10.0]), 1.0, 1.0, 0.0)
    prog.open_month(0.0)
    prog.join(np.array([7, 3]), np.array([0.01, 0.02]))
    prog.join(np.array([7]), np.array([0.05]))  # family 7 left at some point and joined again
    status = np.ones(10, np.int8)
    adm = prog.admit(status == 1, 1 / 12, lambda ids: (np.full(ids.size, 1.0), np.zeros(ids.size, bool)))
    assert sorted(adm.ids.tolist()) == [3, 7]
    assert adm.arrived[adm.ids == 7][0] == pytest.approx(0.05)
    assert prog.occupied == 2
