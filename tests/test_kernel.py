"""The compiled kernel draws the same random numbers as the vectorised generator (engine.crn)."""

from __future__ import annotations

import numpy as np
import pytest

from flowsim.engine import kernel
from flowsim.engine.model import Model
from flowsim.scenario import load_scenario

from .conftest import BASELINE, SMALL


@pytest.fixture(scope="module")
def model():
    return Model(load_scenario(BASELINE, SMALL), 7)


def _loop(fn, model, ids, *args):
    cols = model._columns()
    return np.array([fn(cols, model.const, int(i), *args) for i in ids])


@pytest.mark.parametrize("purpose", [kernel.DRAW_CLOCK, kernel.DRAW_DOMAIN, kernel.FIRST_PROGRAMME + 3])
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


@pytest.mark.parametrize("shape", [0.6, 2.0, 9.5])
def test_gammas_match_the_vectorised_generator(model, shape):
    """Marsaglia-Tsang in the kernel and in crn agree to rounding (libm and numpy's log may differ by an ulp)."""
    ids = np.arange(2000)
    purpose = kernel.DRAW_SPELL
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
    m = Model(load_scenario(BASELINE, SMALL), 3)
    f = m.families
    for k in range(24):
        t0 = m.t_start + k / 12
        m.observe(t0, None)
        m.run_slice(t0, t0 + 1 / 12)
        n = f.n
        clocks = np.stack([f.t_haz[:n], f.t_exit[:n], f.t_prog[:n], f.t_change[:n], f.t_resolve[:n]])
        np.testing.assert_array_equal(f.t_due[:n], clocks.min(axis=0))
