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

from flowsim.engine.model import Model
from flowsim.engine.spec import ModelSpec, compile_spec
from flowsim.engine.v2.model import ProblemModel
from flowsim.engine.v2.spec import ProblemSpec, compile_problem_spec
from flowsim.results import Results


def simulate(
    scenario, seed: int = 0, progress: Callable[[float], None] | None = None, replication: int | None = None
) -> Results:
    """Run one replication of ``scenario`` with ``seed``.

    Args:
        scenario: a validated :class:`~flowsim.scenario.Scenario`, or its compiled
            :class:`~flowsim.engine.spec.ModelSpec`.
        seed: root seed; each purpose (population, ladder, triggers, ...) gets
            its own stream spawned from it, so scenarios run with one seed
            share their random numbers.
        replication: if given, run replication ``replication`` of ``seed``: its
            streams come from ``SeedSequence(seed).spawn(...)[replication]``, so
            replications are independent and the same index pairs across scenarios.
        progress: called with the fraction of simulated time done, after each month.

    Returns:
        The replication's :class:`~flowsim.results.Results`.
    """
    spec = scenario if isinstance(scenario, ModelSpec | ProblemSpec) else _compile(scenario)
    model = _model(spec, seed, replication)
    _calendar(model, _first_month(model), model.t_end, progress)
    return model.results(seed, replication)


def simulate_with_counterfactual(
    scenario,
    counterfactual,
    seed: int = 0,
    progress: Callable[[float], None] | None = None,
    replication: int | None = None,
) -> tuple[Results, Results]:
    """A replication of ``scenario`` and of its ``counterfactual`` from the scenario's start date.

    Model v2: the two share their past up to the start date (``time.start``),
    simulated once, so programmes that ran before it (the FIP since 2006) are
    part of the history both carry on from, as they were part of the history
    the survey observed. There the model is forked in memory and the copy
    carries on under ``counterfactual`` (programme effects off; places and
    queues unchanged): what the programmes add is what they add from the start
    date. If no programme opens until later, the fork waits for the first.
    The ladder model runs both in full from its own start.
    """
    spec = _compile(scenario)
    cf_spec = _compile(counterfactual)
    if not isinstance(spec, ProblemSpec):
        return simulate(spec, seed, progress, replication), simulate(cf_spec, seed, None, replication)
    model = _model(spec, seed, replication)
    opening = [p.open_t for p in spec.programmes if np.isfinite(p.open_t)]
    first = _first_month(model)
    points = boundaries(model)
    wanted = max(0.0, min(opening, default=model.t_end))
    fork = float(points[min(np.searchsorted(points, wanted - 1e-9), points.size - 2)])
    shared, after = fork - first, model.t_end - fork
    total = shared + 2 * after

    def part(done: float, length: float):
        return (lambda f: progress((done + f * length) / total)) if progress is not None else None

    _calendar(model, first, fork, part(0.0, shared))
    other = model.fork(cf_spec)
    _calendar(model, fork, model.t_end, part(shared, after))
    _calendar(other, fork, model.t_end, part(shared + after, after))
    return model.results(seed, replication), other.results(seed, replication)


def _model(spec, seed: int, replication: int | None):
    root = np.random.SeedSequence(seed)
    streams = root if replication is None else root.spawn(replication + 1)[replication]
    return ProblemModel(spec, streams) if isinstance(spec, ProblemSpec) else Model(spec, streams)


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


def _compile(scenario):
    if scenario.params.model.structure == "problems":
        return compile_problem_spec(scenario)
    return compile_spec(scenario)


def _first_month(model) -> float:
    """Where the simulation starts: the first survey wave, or the start of model v2's burn-in."""
    return getattr(model.spec, "t_init", model.t_start)


def boundaries(model) -> np.ndarray:
    """Month boundaries from the start of the simulation to the end, plus the deadline and the end.

    The ladder model starts at the survey's first wave; model v2 starts its burn-in earlier
    (nothing is observed before the first wave).
    """
    first = _first_month(model)
    months = np.arange(int(np.floor(first * 12)), int(np.ceil(model.t_end * 12)) + 1)
    grid = months / 12.0
    grid = grid[(grid >= first) & (grid < model.t_end)]
    extra = [model.t_end] + ([model.t_deadline] if model.t_start < model.t_deadline < model.t_end else [])
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
    wave_of = {float(model.t_start + w): w for w in range(model.spec.waves)}
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
