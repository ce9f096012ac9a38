"""The compiled kernel draws the same random numbers as the vectorised generator (engine.crn), keeps its clocks
and counters consistent, and is never run stale (engine.compile)."""

from __future__ import annotations

import numpy as np
import pytest

from flowsim.engine import codes, kernel
from flowsim.engine.codes import WAITING
from flowsim.engine.model import Model
from flowsim.engine.spec import compile_spec
from flowsim.scenario import load_scenario

from .conftest import BASELINE, SMALL


def _model(seed: int) -> Model:
    return Model(compile_spec(load_scenario(BASELINE, SMALL)), seed)


@pytest.fixture(scope="module")
def model():
    return _model(7)


def _loop(fn, model, ids, *args):
    cols = model._columns()
    return np.array([fn(cols, model.const, int(i), *args) for i in ids])


@pytest.mark.parametrize("purpose", [codes.DRAW_CLOCK, codes.DRAW_DURATION, codes.DRAW_ROULETTE])
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
    got = {}
    for what in (codes.DRAW_ACCEPT, codes.DRAW_LENGTH, codes.DRAW_DROPOUT):
        purpose = codes.FIRST_PROGRAMME + codes.PER_PROGRAMME * programme + what
        expected = model.rand.uniform(ids, purpose, advance=False, counter=col)
        got[what] = _loop(kernel.episode_uniform, model, ids, programme, what)
        np.testing.assert_array_equal(got[what], expected)
        np.testing.assert_array_equal(_loop(kernel.episode_uniform, model, ids, programme, what), got[what])
    assert not np.any(got[codes.DRAW_ACCEPT] == got[codes.DRAW_DROPOUT])  # each purpose has its own salt
    np.testing.assert_array_equal(f.draws[ids, col], np.arange(500) % 3)


@pytest.mark.parametrize("shape", [0.6, 2.0, 9.5])
def test_gamma_draws_have_their_distribution(model, shape):
    """crn's Marsaglia-Tsang gammas (programme durations): 4,000 draws of Gamma(shape, 1.5) have mean 1.5 x shape
    and variance 1.5^2 x shape within 4 standard errors; a peek repeats its numbers."""
    ids = np.arange(min(4000, model.families.n))
    purpose = codes.FIRST_PROGRAMME + codes.DRAW_LENGTH
    got = model.rand.gamma(ids, purpose, shape, 1.5, advance=False, counter=codes.FIRST_PROGRAMME)
    np.testing.assert_array_equal(model.rand.gamma(ids, purpose, shape, 1.5, False, codes.FIRST_PROGRAMME), got)
    n = ids.size
    assert abs(got.mean() - 1.5 * shape) < 4 * 1.5 * np.sqrt(shape / n)
    var = 1.5**2 * shape
    assert abs(got.var() - var) < 4 * var * np.sqrt((2 + 6 / shape) / n)  # the sample variance's SE


def test_due_times_never_lag_the_clocks():
    """``t_due`` (what the monthly scan reads) equals the earliest clock of every family still in the model after
    each month. A stale, later ``t_due`` would silently skip a family's events; 24 months at 1% scale, seed 3."""
    m = _model(3)
    f = m.families
    for k in range(24):
        t0 = m.spec.t_init + k / 12
        m.run_slice(t0, t0 + 1 / 12)
        n = f.n
        here = f.state[:n] != codes.OUT
        clocks = np.stack([f.t_haz[:n], f.t_prog[:n], f.t_change[:n], f.t_resolve[:n]]).min(axis=0)
        np.testing.assert_array_equal(f.t_due[:n][here], clocks[here])


def test_waiting_counts_match_a_scan_of_every_family():
    """The census reads families waiting per programme from counters that joins, withdrawals, exits and
    admissions keep; after each month they equal a scan of every family's programme status, and each
    programme's queue holds each waiting family once (rows of families that left are reused, so a stale queue
    entry would show up as a second one). Seed 3 at 1% scale, through the FIP years into 2012."""
    m = _model(3)
    f = m.families
    t = m.spec.t_init
    seen = 0
    while t < 2.0:
        m.run_slice(t, t + 1 / 12)
        t += 1 / 12
        if t < -4.5:  # the FIP opens in April 2006: nothing to wait for before
            continue
        scan = (f.prog_status[: f.n] == WAITING).sum(axis=0)
        np.testing.assert_array_equal(m.buf.waiting, scan)
        for i, prog in enumerate(m.programmes):
            queued, _ = prog.waiting(lambda ids, i=i: f.prog_status[ids, i] == WAITING)
            assert queued.size == scan[i] == np.unique(queued).size
        seen += int(scan.sum())
    assert seen > 0  # queues did form, so the check compared something


def test_a_changed_source_the_kernel_depends_on_clears_its_cache(tmp_path):
    """numba watches only kernel.py; codes.py's constants are compiled in too. A stamp of both sits beside the
    cache: a cache stamped with other sources is removed (numba then compiles afresh), a matching one is kept."""
    from flowsim.engine import cache as kc

    folder = tmp_path / "engine"
    folder.mkdir()
    for name in kc.KERNEL_SOURCES:
        (folder / name).write_text(f"# {name}\nX = 1\n")
    cache = tmp_path / "cache"
    cache.mkdir()
    entries = [cache / "kernel.run_families-10.py311.nbi", cache / "kernel.run_families-10.py311.1.nbc"]
    other = cache / "families.copy_rows-5.py311.nbi"  # another module's cache is not the kernel's
    for p in [*entries, other]:
        p.write_bytes(b"compiled")
    first = kc.sources_digest(folder)
    assert kc.refresh_cache(cache, first)  # no stamp yet: cleared, stamped
    assert not any(p.exists() for p in entries) and other.exists()
    for p in entries:
        p.write_bytes(b"compiled")
    assert not kc.refresh_cache(cache, first)  # same sources: kept
    assert all(p.exists() for p in entries)
    (folder / "codes.py").write_text("# codes.py\nX = 2\n")
    second = kc.sources_digest(folder)
    assert second != first
    assert kc.refresh_cache(cache, second)  # codes.py changed: cleared
    assert not any(p.exists() for p in entries)


def test_the_installed_kernel_is_stamped_with_its_sources():
    """Importing the kernel stamped numba's cache folder with the digest of the sources as they are."""
    from flowsim.engine import cache as kc

    stamp = kc.cache_dir_of(kernel.run_families) / "flowsim-kernel.sources"
    assert stamp.read_text() == kc.sources_digest()
