"""The compiled kernel draws the same random numbers as the vectorised generator (engine.crn)."""

from __future__ import annotations

import numpy as np
import pytest

from flowsim.engine import codes, kernel
from flowsim.engine.codes import WAITING
from flowsim.engine.model import Model
from flowsim.engine.spec import compile_spec
from flowsim.scenario import load_scenario

from .conftest import LADDER, SMALL


def _spec(*args):
    return compile_spec(load_scenario(*args))


@pytest.fixture(scope="module")
def model():
    return Model(_spec(LADDER, SMALL), 7)


def _loop(fn, model, ids, *args):
    cols = model._columns()
    return np.array([fn(cols, model.const, int(i), *args) for i in ids])


@pytest.mark.parametrize("purpose", [codes.DRAW_CLOCK, codes.DRAW_DOMAIN, codes.DRAW_EXIT])
def test_uniforms_match_the_vectorised_generator(model, purpose):
    """Two draws per family, one family at a time, equal crn.FamilyRandom's two vectorised draws."""
    ids = np.arange(500)
    f = model.families
    before = f.draws[ids, purpose].copy()
    expected = np.stack([model.rand.uniform(ids, purpose) for _ in range(2)])
    f.draws[ids, purpose] = before
    got = np.stack([_loop(kernel.uniform, model, ids, purpose) for _ in range(2)])
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(f.draws[ids, purpose], before + 2)


@pytest.mark.parametrize("programme", [0, 2])
def test_referral_draws_match_the_vectorised_generator(model, programme):
    """A referral's draws (one counter per programme, a salt per purpose) agree with crn's, and asking twice
    gives the same numbers: the queue's head is looked at month after month before admission."""
    ids = np.arange(500)
    f = model.families
    col = codes.FIRST_PROGRAMME + programme
    f.draws[ids, col] = np.arange(500) % 3
    for what in (codes.DRAW_ACCEPT, codes.DRAW_DURATION, codes.DRAW_SUCCESS):
        purpose = model._purpose(programme, what)
        expected = model.rand.uniform(ids, purpose, advance=False, counter=col)
        got = _loop(kernel.episode_uniform, model, ids, programme, what)
        np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(_loop(kernel.episode_uniform, model, ids, programme, what), got)
    other = _loop(kernel.episode_uniform, model, ids, programme, codes.DRAW_EFFECT)
    assert not np.any(other == got)  # each purpose has its own salt
    np.testing.assert_array_equal(f.draws[ids, col], np.arange(500) % 3)


@pytest.mark.parametrize("shape", [0.6, 2.0, 9.5])
def test_gammas_match_the_vectorised_generator(model, shape):
    """Marsaglia-Tsang in the kernel and in crn agree to rounding (libm and numpy's log may differ by an ulp)."""
    ids = np.arange(2000)
    purpose = codes.DRAW_SPELL
    f = model.families
    before = f.draws[ids, purpose].copy()
    expected = model.rand.gamma(ids, purpose, shape, 1.5)
    f.draws[ids, purpose] = before
    got = _loop(kernel.gamma, model, ids, purpose, shape, 1.5)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    # Gamma(shape, 1.5) has mean 1.5 x shape; 2,000 draws put the sample mean within 4 SE of it.
    se = 1.5 * np.sqrt(shape / ids.size)
    assert abs(got.mean() - 1.5 * shape) < 4 * se


def test_due_times_never_lag_the_clocks():
    """``t_due`` (what the monthly scan reads) equals the earliest clock of every family after each month.

    A stale, later ``t_due`` would silently skip a family's events; 24 months at 1% scale, seed 3.
    """
    m = Model(_spec(LADDER, SMALL), 3)
    f = m.families
    for k in range(24):
        t0 = m.t_start + k / 12
        m.observe(t0, None)
        m.run_slice(t0, t0 + 1 / 12)
        n = f.n
        clocks = np.stack([f.t_haz[:n], f.t_exit[:n], f.t_prog[:n], f.t_change[:n], f.t_resolve[:n]])
        np.testing.assert_array_equal(f.t_due[:n], clocks.min(axis=0))


@pytest.mark.parametrize("universe", ["at_risk", "all"])
def test_waiting_counts_match_a_scan_of_every_family(universe):
    """The census reads families waiting per programme from counters that joins, withdrawals, exits and
    admissions keep; after each month they equal a scan of every family's programme status, and each
    programme's queue holds each waiting family once (in universe "all" rows of families that left are
    reused, so a stale queue entry would show up as a second one).

    Seed 3 at 1% scale, from the survey's start until a year after the programmes open (queues form then).
    """
    m = Model(_spec(LADDER, [*SMALL, f'population.universe="{universe}"']), 3)
    f = m.families
    months = int(round((2.0 - m.t_start) * 12))
    seen = 0
    for k in range(months):
        t0 = m.t_start + k / 12
        m.run_slice(t0, t0 + 1 / 12)
        scan = (f.prog_status[: f.n] == WAITING).sum(axis=0)
        np.testing.assert_array_equal(m.buf.waiting, scan)
        for i, prog in enumerate(m.programmes):
            queued, _ = prog.waiting(lambda ids, i=i: f.prog_status[ids, i] == WAITING)
            assert queued.size == scan[i] == np.unique(queued).size
        seen += int(scan.sum())
    assert seen > 0  # queues did form, so the check compared something
