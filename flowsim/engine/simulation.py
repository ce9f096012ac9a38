"""The simulation: simpy owns the clock and every calendar process.

Processes: one per calendar date at which hazards change for many families
(roll-out steps, programmes opening), one per payment-by-results claim
window, and the monthly sweep that observes the population at each month
boundary and then simulates the month. The sweep yields a zero-delay
timeout at each boundary so that calendar processes due at the same
instant always run first.
"""

from __future__ import annotations

from collections.abc import Callable, Generator

import numpy as np
import simpy

from flowsim.engine.divergence import divergence
from flowsim.engine.model import Model
from flowsim.engine.spec import ModelSpec, compile_spec
from flowsim.results import Results


def simulate(
    scenario, seed: int = 0, progress: Callable[[float], None] | None = None, replication: int | None = None
) -> Results:
    """Run one replication of ``scenario`` with ``seed``.

    Args:
        scenario: a validated :class:`~flowsim.scenario.Scenario`, or its compiled
            :class:`~flowsim.engine.spec.ModelSpec`.
        seed: root seed; the population's stream is spawned from it and every family's
            draws are keyed by it, so scenarios run with one seed share their random numbers.
        replication: if given, run replication ``replication`` of ``seed``: its
            streams come from ``SeedSequence(seed).spawn(...)[replication]``, so
            replications are independent and the same index pairs across scenarios.
        progress: called with the fraction of simulated time done, after each month.

    Returns:
        The replication's :class:`~flowsim.results.Results`.
    """
    spec = _compile(scenario)
    model = _model(spec, seed, replication)
    _calendar(model, model.spec.t_init, model.t_end, progress)
    return model.results(seed, replication)


def simulate_with_counterfactual(
    scenario,
    counterfactual,
    seed: int = 0,
    progress: Callable[[float], None] | None = None,
    replication: int | None = None,
) -> tuple[Results, Results]:
    """A replication of ``scenario`` and of its ``counterfactual`` from the scenario's start date.

    The two share their past up to the start date (``time.start``),
    simulated once, so programmes that ran before it (the FIP since 2006) are
    part of the history both carry on from, as they were part of the history
    the survey observed. There the model is forked in memory and the copy
    carries on under ``counterfactual`` (programme effects off; places and
    queues unchanged): what the programmes add is what they add from the start
    date. If no programme opens until later, the fork waits for the first.
    """
    spec, cf_spec = _compile(scenario), _compile(counterfactual)
    return _simulate_tree([(spec, cf_spec)], _counterfactual_forks(spec), seed, progress, replication)[0]


def _points(spec: ModelSpec) -> np.ndarray:
    return _grid(spec.t_init, spec.t_start, spec.t_end, spec.t_deadline)


def _counterfactual_forks(spec: ModelSpec) -> list[tuple[float, int, int, int]]:
    """A lone run's plan: its counterfactual forks from it (leaf 1 from leaf 0)."""
    return [(_counterfactual_fork(spec, _points(spec), spec.t_end), 1, 0, 1)]


def _counterfactual_fork(spec: ModelSpec, points: np.ndarray, t_end: float) -> float:
    """Where a run's counterfactual forks: the first boundary at or after the start date and the first opening."""
    opening = [p.open_t for p in spec.programmes if np.isfinite(p.open_t)]
    wanted = max(0.0, min(opening, default=t_end))
    return float(points[min(np.searchsorted(points, wanted - 1e-9), points.size - 2)])


def share_plan(specs: list[tuple[ModelSpec, ModelSpec | None]]) -> list[tuple[float, int, int, int]] | None:
    """How scenarios and their counterfactuals share one simulated past: the forks, or ``None`` if they cannot.

    Leaves ``2k`` and ``2k + 1`` are scenario ``k`` and its counterfactual; leaf 0
    is simulated from the start. Each fork is ``(time, order, from leaf, new leaf)``.
    A scenario forks from the first at the last month boundary before the two
    can differ (:func:`flowsim.engine.divergence.divergence`), so every leaf
    is bit for bit what it would be simulated alone. Scenarios without a
    counterfactual (``None``: every pair's or none's) have no odd leaves.
    """
    first_spec, first_cf = specs[0]
    lean = first_cf is None
    if any((c is None) != lean for _, c in specs):
        raise ValueError("every scenario has a counterfactual, or none does")
    points = _points(first_spec)
    t_cf = [_counterfactual_fork(s, points, first_spec.t_end) for s, _ in specs]
    forks = [] if lean else _counterfactual_forks(first_spec)
    for k, (s, c) in enumerate(specs[1:], start=1):
        d1 = divergence(first_spec, s)
        d2 = d1 if lean else divergence(first_cf, c)
        if d1 is None or d2 is None:
            return None
        i = int(np.searchsorted(points, min(d1, d2, first_spec.t_end), side="right")) - 1
        t = float(points[min(max(i, 0), points.size - 2)])
        if t <= points[0]:
            return None  # nothing to share
        if lean:
            forks += [(t, 0, 0, 2 * k)]
        elif t <= t_cf[k]:
            forks += [(t, 0, 0, 2 * k), (t_cf[k], 1, 2 * k, 2 * k + 1)]
        elif t_cf[k] == t_cf[0]:
            forks += [(t, 0, 0, 2 * k), (t, 0, 1, 2 * k + 1)]
        else:
            return None
    return sorted(forks)


def _compile_pair(pair: tuple[object, object | None]) -> tuple[ModelSpec, ModelSpec | None]:
    s, c = pair
    return _compile(s), (None if c is None else _compile(c))


def can_share(pairs: list[tuple[object, object | None]]) -> bool:
    """Whether :func:`simulate_shared` can run these ``(scenario, counterfactual)`` pairs from one past."""
    return share_plan([_compile_pair(p) for p in pairs]) is not None


def simulate_shared(
    pairs: list[tuple[object, object | None]],
    seed: int = 0,
    progress: Callable[[float], None] | None = None,
    replication: int | None = None,
) -> list[tuple[Results, Results | None]] | None:
    """Replication ``replication`` of several scenarios, each with its counterfactual, sharing their common past.

    ``pairs`` are ``(scenario, counterfactual)``; the result is each pair's
    ``(actual, counterfactual)``, bit for bit what :func:`simulate_with_counterfactual`
    gives for each alone. A counterfactual of ``None`` (every pair's) is not
    simulated, and each actual is bit for bit :func:`simulate`'s. ``None`` when
    they cannot share (specs that differ where no date can be put on it): run
    them one by one.
    """
    specs = [_compile_pair(p) for p in pairs]
    forks = share_plan(specs)
    if forks is None:
        return None
    return _simulate_tree(specs, forks, seed, progress, replication)


def _simulate_tree(specs, forks, seed, progress, replication) -> list[tuple[Results, Results]]:
    """Simulate leaf 0 from the start and fork the other leaves from it as ``forks`` (time, order, from, new) say."""
    root = _model(specs[0][0], seed, replication)
    first, end = root.spec.t_init, root.t_end
    spec_of = {leaf: spec for k, pair in enumerate(specs) for leaf, spec in ((2 * k, pair[0]), (2 * k + 1, pair[1]))}
    models, now = {0: root}, {0: first}
    total = (end - first) + sum(end - t for t, *_ in forks)
    done = 0.0

    def advance(leaf: int, t1: float) -> None:
        nonlocal done
        t0 = now[leaf]
        if t1 > t0:
            step = (lambda f, d=done, n=t1 - t0: progress((d + f * n) / total)) if progress is not None else None
            _calendar(models[leaf], t0, t1, step)
            done += t1 - t0
        now[leaf] = t1

    for t, _, source, leaf in forks:
        advance(source, t)
        models[leaf], now[leaf] = models[source].fork(spec_of[leaf]), t
    for leaf in sorted(models):
        advance(leaf, end)
    results = {leaf: m.results(seed, replication) for leaf, m in models.items()}
    return [(results[2 * k], results.get(2 * k + 1)) for k in range(len(specs))]


def _model(spec, seed: int, replication: int | None):
    root = np.random.SeedSequence(seed)
    streams = root if replication is None else root.spawn(replication + 1)[replication]
    return Model(spec, streams)


def _calendar(model, t0: float, t1: float, progress: Callable[[float], None] | None) -> None:
    """Run the model's calendar from month boundary ``t0`` to ``t1`` (the end, or a fork)."""
    env = simpy.Environment(initial_time=t0)
    spec = model.spec
    for t in spec.change_times():
        if t0 <= t < t1:
            env.process(_at(env, t, model.hazards_change))
    for t in spec.finance.claim_t:
        if t0 <= t < t1:
            env.process(_at(env, t, model.claim))
    env.process(_sweep(env, model, progress, t0, t1))
    env.run()


def _compile(scenario) -> ModelSpec:
    return scenario if isinstance(scenario, ModelSpec) else compile_spec(scenario)


def boundaries(model) -> np.ndarray:
    """Month boundaries from the start of the simulation to the end, plus the deadline and the end.

    The simulation starts its burn-in before the first survey wave (nothing is observed before that wave).
    """
    return _grid(model.spec.t_init, model.t_start, model.t_end, model.t_deadline)


def _grid(first: float, t_start: float, t_end: float, t_deadline: float) -> np.ndarray:
    months = np.arange(int(np.floor(first * 12)), int(np.ceil(t_end * 12)) + 1)
    grid = months / 12.0
    grid = grid[(grid >= first) & (grid < t_end)]
    extra = [t_end] + ([t_deadline] if t_start < t_deadline < t_end else [])
    return np.unique(np.concatenate([grid, extra]))


def _at(env: simpy.Environment, t: float, action: Callable[[float], None]) -> Generator:
    """At calendar time ``t``, do ``action(t)``: a roll-out step, a programme opening, a claim window."""
    yield env.timeout(t - env.now)
    action(t)


def _sweep(
    env: simpy.Environment, model, progress: Callable[[float], None] | None, start: float, stop: float
) -> Generator:
    """Month by month from ``start`` to ``stop``: observe at each boundary, then simulate the month.

    The last boundary is observed only when ``stop`` is the end of the run (a fork observes it in each copy).
    """
    everything = boundaries(model)
    points = everything[(everything >= start - 1e-12) & (everything <= stop + 1e-12)]
    wave_of = {t: w for w, t in enumerate(model.spec.wave_t)}
    first = points[0]
    span = max(stop - first, 1e-12)
    for t0, t1 in zip(points[:-1], points[1:]):
        yield env.timeout(t0 - env.now)
        yield env.timeout(0)  # calendar processes due now run first
        if t0 >= model.t_start:
            model.observe(float(t0), wave_of.get(float(t0)))
        model.run_slice(float(t0), float(t1))
        if progress is not None:
            progress((t1 - first) / span)
    yield env.timeout(points[-1] - env.now)
    if stop >= model.t_end:
        model.observe(float(points[-1]), wave_of.get(float(points[-1])))
