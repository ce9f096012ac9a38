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
    root = np.random.SeedSequence(seed)
    streams = root if replication is None else root.spawn(replication + 1)[replication]
    model = ProblemModel(spec, streams) if isinstance(spec, ProblemSpec) else Model(spec, streams)
    env = simpy.Environment(initial_time=_first_month(model))
    for t in spec.change_times():
        env.process(_at(env, t, model.hazards_change))
    for t in spec.finance.claim_t:
        env.process(_at(env, t, model.claim))
    env.process(_sweep(env, model, progress))
    env.run()
    return model.results(seed, replication)


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


def _sweep(env: simpy.Environment, model: Model, progress: Callable[[float], None] | None) -> Generator:
    points = boundaries(model)
    wave_of = {float(model.t_start + w): w for w in range(model.spec.waves)}
    first = points[0]
    span = model.t_end - first
    for t0, t1 in zip(points[:-1], points[1:]):
        yield env.timeout(t0 - env.now)
        yield env.timeout(0)  # calendar processes due now run first
        if t0 >= model.t_start:
            model.observe(float(t0), wave_of.get(float(t0)))
        model.run_slice(float(t0), float(t1))
        if progress is not None:
            progress((t1 - first) / span)
    yield env.timeout(points[-1] - env.now)
    model.observe(float(points[-1]), wave_of.get(float(points[-1])))
