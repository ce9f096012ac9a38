"""Model v2 (families as bundles of problems): the bookkeeping the kernel must keep, and the sampled population."""

from __future__ import annotations

import numpy as np
import pytest

from flowsim.engine import codes
from flowsim.engine.codes import OUT, G, H, R, S
from flowsim.engine.model import Model
from flowsim.engine.simulation import _calendar
from flowsim.engine.spec import NP, compile_spec
from flowsim.measures import survey_moments
from flowsim.scenario import load_scenario

from .conftest import BASELINE

V2 = ["time.end=2011-04-30", "time.deadline=2011-04-30"]


def _run(scale: float, seed: int, *extra: str) -> Model:
    spec = compile_spec(load_scenario(BASELINE, [*V2, f"population.scale={scale}", *extra]))
    model = Model(spec, np.random.SeedSequence(seed))
    _calendar(model, spec.t_init, spec.t_end, None)
    return model


@pytest.fixture(scope="module")
def model() -> Model:
    return _run(0.004, 5)


def test_every_family_is_classified_from_its_problems(model):
    f, c = model.families, model.const
    live = np.flatnonzero((f.state[: f.n] != OUT) & (f.weight[: f.n] > 0))
    assert live.size > 1000
    for i in live[:5000]:
        probs, factors = int(f.problems[i]), int(f.factors[i])
        n = bin(probs & int(c.risk_mask)).count("1")
        if n < c.risk_k:
            expected = G
        elif probs & int(c.child_mask):
            expected = S
        elif bin(probs & int(c.driver_mask)).count("1") + bin(factors & int(c.driver_factors)).count("1") >= c.driver_k:
            expected = H
        else:
            expected = R
        assert f.state[i] == expected, i


def test_the_census_counts_what_the_families_carry(model):
    """The last boundary's counts by problem and classification, recounted here family by family."""
    f, c = model.families, model.const
    n = f.n
    live = f.state[:n] != OUT
    probs, w, st = f.problems[:n][live].astype(int), f.weight[:n][live].astype(int), f.state[:n][live]
    expected = [int(w[(probs >> p) & 1 == 1].sum()) for p in range(NP)]
    assert model.boundary_problems[-1].tolist() == expected
    ones = lambda mask: np.array([bin(x & int(mask)).count("1") for x in probs])  # noqa: E731
    troubled = (ones(c.troubled_mask) == 3) | ((ones(c.troubled_mask) == 2) & (probs & int(c.local_mask) != 0))
    classes = [w[st != G].sum(), w[st == S].sum(), w[st == H].sum(), w[ones(c.setf_mask) >= 5].sum(), w[troubled].sum()]
    assert model.boundary_classes[-1].tolist() == [int(x) for x in classes]


def test_clocks_are_consistent(model):
    """Each present problem has a finite end after it began; absent ones none; t_resolve is the earliest end."""
    f = model.families
    live = np.flatnonzero((f.state[: f.n] != OUT) & (f.weight[: f.n] > 0))
    bits = (f.problems[live][:, None] >> np.arange(NP)) & 1
    ends = f.end[live]
    fixed = ~np.isfinite(model.const.lam)  # problems that never end
    assert np.all(np.isinf(ends[bits == 0]))
    present = (bits == 1) & ~fixed[None, :]
    assert np.all(np.isfinite(ends[present]))
    assert np.all(ends[present] >= f.since[live][present] - 1e-4)
    first = np.where(bits == 1, ends, np.inf).min(axis=1)
    np.testing.assert_allclose(f.t_resolve[live], first, rtol=0, atol=1e-4)
    assert np.all(f.t_due[live] >= model.t_end - 1e-9)  # every event before the end was processed


def test_only_families_tracked_one_by_one_are_at_risk_or_in_programmes(model):
    f = model.families
    n = f.n
    sampled = (f.weight[:n] > 1) & (f.state[:n] != OUT)
    assert sampled.sum() > 100 and np.all(f.state[:n][sampled] == G)
    assert not (f.prog_status[:n][sampled] != 0).any()
    assert np.all(f.weight[:n] >= 0)


@pytest.mark.slow
def test_sampling_the_general_population_is_exact_in_expectation():
    """The same model with every family tracked (weight 1) and with a 1-in-10 sample: the survey moments agree.

    Seeds 1-6 each, 1% scale to April 2011; the tolerance is 4 standard errors of the difference of the means
    (estimated from the replications themselves).
    """
    keys = ("at_risk", "persistence_1y", "persistent_4_of_6", "stock")
    runs = {w: [] for w in (1, 10)}
    for w in runs:
        for seed in range(1, 7):
            m = _run(0.01, seed, f"population.sample_weight={w}")
            runs[w].append(survey_moments(m.results(seed)))
    for k in keys:
        a = np.array([r[k] for r in runs[1]], float)
        b = np.array([r[k] for r in runs[10]], float)
        se = np.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
        assert abs(a.mean() - b.mean()) <= 4 * se + 1e-9, (k, a, b)


def test_kernel_constants_match_the_registry_order():
    assert codes.N_TRIGGERS == 6 and NP == 13


def test_no_family_outside_the_target_population_is_turned_around():
    """Successes come only from families in the target population when their intervention started (seed 2, 1%)."""
    from flowsim.engine import simulate

    sets = [*V2[:1], "population.scale=0.01", "time.end=2013-03-31", "time.deadline=2013-03-31"]
    for target, allowed in (("stock", {S}), ("at_risk", {R, H, S})):
        res = simulate(load_scenario(BASELINE, [*sets, f'target.population="{target}"']), seed=2)
        t, origin = res.successes[0], res.successes[1]
        assert t.size > 0, target
        assert set(np.unique(origin).tolist()) <= allowed, target


def test_programmes_without_effects_add_nothing():
    """With every key-worker hazard ratio at 1 the run is its own counterfactual: additional results are exactly 0,
    while families are still turned around (by their problems' own course). Seed 3, 1% scale."""
    from flowsim.replications import run_replication

    sets = [*V2[:1], "population.scale=0.01", "time.end=2013-03-31", "time.deadline=2013-03-31"]
    sc = load_scenario(BASELINE, sets)
    from flowsim.finance import counterfactual_values

    null = sc.with_values(counterfactual_values(sc), origin="test")
    summ = run_replication(null, 3, tables=False).summary
    assert summ["target"]["count"]["turned_around"] > 0
    assert summ["additional"]["turned_around"] == 0 and summ["additional"]["stock_end"] == 0
    real = run_replication(sc, 3, tables=False).summary
    assert real["additional"]["turned_around"] != 0


def _same_results(a, b) -> None:
    from flowsim.tables import table_columns

    ta, tb = table_columns(a), table_columns(b)
    for name in ta:
        for col in ta[name]:
            x, y = np.asarray(ta[name][col]), np.asarray(tb[name][col])
            assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), (name, col)
    assert np.array_equal(a.successes[0], b.successes[0]) and a.events == b.events


def test_a_fork_is_a_complete_copy():
    """A model forked at the start date under its own spec finishes exactly as the original does (seed 4, 1% scale,
    to April 2012): the fork shares no state with its parent."""

    spec = compile_spec(
        load_scenario(BASELINE, ["population.scale=0.01", "time.end=2012-04-30", "time.deadline=2012-04-30"])
    )
    model = Model(spec, np.random.SeedSequence(4))
    _calendar(model, model.spec.t_init, 0.0, None)
    twin = model.fork(spec)
    _calendar(model, 0.0, spec.t_end, None)
    _calendar(twin, 0.0, spec.t_end, None)
    _same_results(model.results(4, None), twin.results(4, None))


def test_the_pair_shares_its_past_and_the_actual_run_is_undisturbed():
    """simulate_with_counterfactual (seed 4, 1% scale, to April 2012): its actual run is the plain run bit for bit;
    its counterfactual is the same before the start date and differs after it."""
    from flowsim.engine import simulate
    from flowsim.engine.simulation import simulate_with_counterfactual
    from flowsim.finance import counterfactual
    from flowsim.tables import table_columns

    sc = load_scenario(BASELINE, ["population.scale=0.01", "time.end=2012-04-30", "time.deadline=2012-04-30"])
    actual, cf = simulate_with_counterfactual(sc, counterfactual(sc), seed=4)
    _same_results(actual, simulate(sc, seed=4))
    a, c = table_columns(actual)["classifications"], table_columns(cf)["classifications"]
    before = np.asarray(a["t_years"]) < 0
    assert before.any() and (~before).any()
    for col in a:
        assert np.array_equal(np.asarray(a[col])[before], np.asarray(c[col])[before]), col
    assert not np.array_equal(np.asarray(a["families"])[~before], np.asarray(c["families"])[~before])


def test_a_store_in_recycled_memory_starts_as_blank_as_a_new_one(monkeypatch):
    """A warm worker's next store (and a fork's copy) reuse the last replication's arrays: nothing of the old
    families may show through, and a store of another size lets the spares go."""
    from flowsim.engine import families as fm

    fm._SPARE.clear()
    monkeypatch.setattr(fm, "_KEEP", [True])  # as in a worker process
    fresh = fm.Families(NP, 3, 20, 1000)
    old = fm.Families(NP, 3, 20, 1000)
    old.add(700)
    old.records.view(np.uint8)[:] = 0xAB  # every byte of the old families' records and columns is junk
    for name, *_ in old._cold:
        getattr(old, name).view(np.uint8)[:] = 0xAB
    old.recycle()
    reused = fm.Families(NP, 3, 20, 1000)
    assert len(fm._SPARE) == 0  # every array came from the spares
    assert reused.records.tobytes() == fresh.records.tobytes()
    for name, *_ in fresh._cold:
        assert np.array_equal(getattr(reused, name), getattr(fresh, name)), name
    copy = reused.copy()
    assert copy.records.tobytes() == fresh.records.tobytes() and copy.records is not reused.records
    rows = copy.add(5)
    copy.key[rows], copy.problems[rows] = np.arange(5, dtype=np.uint64) + 7, 3
    grown = copy._bytes()[rows].tobytes()
    copy.add(copy.capacity)  # grows: the families already there keep every byte
    assert copy._bytes()[rows].tobytes() == grown and (copy.problems[rows] == 3).all()
    reused.recycle()
    fm.Families(NP, 3, 20, 2000)
    assert fm._SPARE == []
    monkeypatch.setattr(fm, "_KEEP", [False])  # a lone run's process lets the memory go
    fm.Families(NP, 3, 20, 1000).recycle()
    assert fm._SPARE == []
