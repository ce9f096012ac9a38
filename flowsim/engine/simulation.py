"""The simulation: simpy owns the clock and every calendar process.

Processes: one per calendar date at which hazards change for many families
(roll-out steps, programmes opening), and the monthly sweep that observes
the population at each month boundary and then simulates the month. The
sweep yields a zero-delay timeout at each boundary so that calendar
processes due at the same instant always run first.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass

import numpy as np
import simpy

from flowsim.engine.model import Model


@dataclass
class Results:
    """Everything one replication produced, as arrays. Pure data: no I/O.

    Times are model years from the scenario's start; ``boundary_t`` are the
    month boundaries (plus the deadline and the end) at which states and
    programme queues were observed.
    """

    scenario_name: str
    seed: int
    start: object
    t_start: float
    t_end: float
    t_deadline: float
    deadline: object  # datetime.date, inclusive
    scale: float
    target_count: float
    programme_names: list[str]
    boundary_t: np.ndarray
    boundary_states: np.ndarray  # (B, 6) G R H S T left
    boundary_programmes: np.ndarray  # (B, P, 3) capacity occupied waiting
    flows: tuple[np.ndarray, ...]  # t, from, to, cause
    programme_events: tuple[np.ndarray, ...]  # programme, t, kind
    waits: tuple[np.ndarray, ...]  # programme, arrived, started
    triggers: np.ndarray  # trigger events by kind (registry.TRIGGERS order) over the run
    waves: np.ndarray  # uint16 bitmask per family ever tracked (universe "all": replaced families with none omitted)
    wave_count: int
    in_start_stock: np.ndarray  # bool per family
    key_worker_received: np.ndarray  # bool per family
    families_tracked: int
    events: int
    attached_t: np.ndarray  # attachment times of attached families (years)
    attached_year: np.ndarray  # their programme year (index into finance.attachment_share)
    claims: tuple[np.ndarray, ...]  # results claims: t, route bit, programme year
    finance: bool = False
    replication: int | None = None


def simulate(
    scenario, seed: int = 0, progress: Callable[[float], None] | None = None, replication: int | None = None
) -> Results:
    """Run one replication of ``scenario`` with ``seed``.

    Args:
        scenario: a validated :class:`~flowsim.scenario.Scenario`.
        seed: root seed; each purpose (population, ladder, triggers, ...) gets
            its own stream spawned from it, so scenarios run with one seed
            share their random numbers.
        replication: if given, run replication ``replication`` of ``seed``: its
            streams come from ``SeedSequence(seed).spawn(...)[replication]``, so
            replications are independent and the same index pairs across scenarios.
        progress: called with the fraction of simulated time done, after each month.

    Returns:
        The replication's :class:`Results`.
    """
    root = np.random.SeedSequence(seed)
    model = Model(scenario, root if replication is None else root.spawn(replication + 1)[replication])
    env = simpy.Environment(initial_time=model.t_start)
    for t in model.change_times():
        env.process(_at(env, t, model))
    for t in model.claim_times():
        env.process(_claim_window(env, t, model))
    env.process(_sweep(env, model, progress))
    env.run()
    res = _results(scenario, seed, model)
    res.replication = replication
    return res


def boundaries(model: Model) -> np.ndarray:
    """Month boundaries from the survey's first wave to the end, plus the deadline and the end."""
    months = np.arange(int(np.floor(model.t_start * 12)), int(np.ceil(model.t_end * 12)) + 1)
    grid = months / 12.0
    grid = grid[(grid >= model.t_start) & (grid < model.t_end)]
    extra = [model.t_end] + ([model.t_deadline] if model.t_start < model.t_deadline < model.t_end else [])
    return np.unique(np.concatenate([grid, extra]))


def _at(env: simpy.Environment, t: float, model: Model) -> Generator:
    """At ``t``, hazards change for many families (roll-out, a programme opens): redraw their clocks.

    Only families in the states whose hazards change are redrawn (the others' clocks stay exact).
    """
    yield env.timeout(t - env.now)
    f = model.families
    ids = np.flatnonzero(model.changed_states(t)[f.state[: f.n]])
    model._redraw(ids, np.maximum(t, f.t_last[ids]))


def _claim_window(env: simpy.Environment, t: float, model: Model) -> Generator:
    """A six-monthly payment-by-results claim window (seed 004), on the calendar like the roll-out."""
    yield env.timeout(t - env.now)
    model.claim(t)


def _sweep(env: simpy.Environment, model: Model, progress: Callable[[float], None] | None) -> Generator:
    points = boundaries(model)
    wave_of = {float(model.t_start + w): w for w in range(model.params.survey.waves)}
    span = model.t_end - model.t_start
    for t0, t1 in zip(points[:-1], points[1:]):
        yield env.timeout(t0 - env.now)
        yield env.timeout(0)  # calendar processes due now run first
        model.observe(float(t0), wave_of.get(float(t0)))
        model.run_slice(float(t0), float(t1))
        if progress is not None:
            progress((t1 - model.t_start) / span)
    yield env.timeout(points[-1] - env.now)
    model.observe(float(points[-1]), wave_of.get(float(points[-1])))


def _per_family(model: Model, name: str, rows: np.ndarray) -> np.ndarray:
    """Column ``name`` of the families still in their rows (``rows``) after those replaced (universe "all")."""
    parts = [getattr(d, name) for d in model._departed]
    return np.concatenate([*parts, getattr(model.families, name)[rows]])


def _results(scenario, seed: int, model: Model) -> Results:
    rec, f = model.recorder, model.families
    n = f.n
    rows = np.arange(n)
    waits = rec.concat_waits()
    t_attached = _per_family(model, "t_attached", rows)
    attached = np.isfinite(t_attached)
    per_family = {name: _per_family(model, name, rows) for name in ("waves", "in_start_stock", "key_worker_received")}
    attached_year = _per_family(model, "attached_year", rows)[attached]
    # The family store is no longer needed: free it before the logs are joined (universe "all" holds 5.8M rows).
    model.families = model._cols = model.rand = None
    del f
    return Results(
        scenario_name=scenario.name,
        seed=seed,
        start=model.start,
        t_start=model.t_start,
        t_end=model.t_end,
        t_deadline=model.t_deadline,
        deadline=scenario.params.time.deadline,
        scale=model.scale,
        target_count=scenario.params.target.count_families * model.scale,
        programme_names=[p.name for p in model.programmes],
        boundary_t=np.array(rec.boundary_t),
        boundary_states=np.array(rec.boundary_states),
        boundary_programmes=np.array(rec.boundary_programmes).reshape(len(rec.boundary_t), len(model.programmes), 3),
        flows=rec.concat_flows(),
        programme_events=rec.concat_programme_events(),
        waits=waits,
        triggers=rec.triggers.copy(),
        waves=per_family["waves"],
        wave_count=model.params.survey.waves,
        in_start_stock=per_family["in_start_stock"],
        key_worker_received=per_family["key_worker_received"],
        families_tracked=n + model.replaced,
        attached_t=t_attached[attached],
        attached_year=attached_year,
        claims=rec.concat_claims(),
        finance=model.finance,
        events=rec.events,
    )


__all__ = ["Results", "simulate"]
