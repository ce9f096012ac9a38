"""Running replications of a scenario: one, several over worker processes, several scenarios sharing their past,
over the calibrated ensemble's parameter sets, and the point fit beside them.

Replication ``i`` of root seed ``r`` draws its streams from
``SeedSequence(r).spawn(...)[i]``: replications are independent, and
replication ``i`` of two scenarios shares its random numbers (common random
numbers), which is what makes paired comparisons sharp.

:func:`run_replication` is the one way a replication is run: by ``flowsim
run``, ``compare``, ``solve`` and sweeps alike. It also runs the replication's
counterfactual (every programme effect off), which says what the programmes added.
Summaries of replications are :mod:`flowsim.summary`'s.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from flowsim import engine, programme_2012
from flowsim.engine.compile import ensure_compiled
from flowsim.engine.families import keep_spares
from flowsim.finance import COUNTERFACTUAL, finance_by_year, results_counts
from flowsim.finance import counterfactual as counterfactual_of
from flowsim.measures import summary
from flowsim.results import Replication
from flowsim.tables import classifications_table, statistics_table, table_columns, with_counterfactual
from flowsim.workers import imap_unordered


def run_replication(
    scenario,
    seed: int,
    replication: int | None = None,
    keep_waits: bool = True,
    progress: Callable[[float], None] | None = None,
    tables: bool = True,
    counterfactual: bool = True,
) -> dict:
    """Simulate one replication (and, under payment by results, its counterfactual); return its record.

    A record is ``{"replication", "summary", "tables"}``: picklable, and what a run
    directory is written from. ``replication=None`` runs the root seed's own streams.
    ``tables=False`` skips the tables (a sweep keeps only the summary). ``counterfactual=False`` skips the
    counterfactual too, and with it every measure of what the programmes add ("additional", results' deadweight):
    the run itself is bit for bit the same, about a third cheaper (what ``solve`` needs).
    """

    if counterfactual:
        res, counterfactual = engine.simulate_with_counterfactual(
            scenario, counterfactual_of(scenario), seed, progress, replication
        )
    else:
        res, counterfactual = engine.simulate(scenario, seed=seed, progress=progress, replication=replication), None
    return replication_record(res, scenario, keep_waits, counterfactual, tables)


def replication_record(res, scenario, keep_waits: bool = True, counterfactual=None, tables: bool = True) -> dict:
    """One replication's summary and tables.

    With payment by results switched on, ``counterfactual`` is the same
    replication with every programme's effect switched off; results claimed
    there would have happened anyway.
    """

    costs = {name: getattr(scenario.params.programmes, name).cost_per_family_gbp for name in res.programme_names}
    out_tables = {}
    if tables:
        out_tables = table_columns(res)
        if not keep_waits:
            out_tables.pop("waits")
        out_tables["statistics"] = statistics_table(res, costs)
    summ = summary(res, scenario)
    if res.finance:
        rows = finance_by_year(res, scenario.params.finance)
        summ["finance"] = rows
        if tables:
            out_tables["finance"] = {k: [r[k] for r in rows] for k in (rows[0] if rows else {})}
        counts = results_counts(res)
        if counterfactual is not None:
            cf = results_counts(counterfactual)["claimed"]
            counts.update(
                {
                    "counterfactual_claimed": cf,
                    "additional": counts["claimed"] - cf,
                    "deadweight_share": cf / counts["claimed"] if counts["claimed"] else 0.0,
                    "counterfactual": COUNTERFACTUAL,
                }
            )
        counts["paid_gbp"] = float(sum((r["attachment_paid_gbp"] or 0) + (r["results_paid_gbp"] or 0) for r in rows))
        summ["results"] = counts
    if res.programme_2012 is not None:
        summ["programme_2012"] = programme_2012.summary(res, counterfactual, scenario.params.finance)
        if tables:
            out_tables["programme_2012"] = programme_2012.table(res, counterfactual, scenario.params.finance)
    if counterfactual is not None:
        summ["additional"] = additional(summ, summary(counterfactual, scenario))
        if tables:
            out_tables["classifications"] = with_counterfactual(
                out_tables["classifications"], classifications_table(counterfactual)
            )
    return Replication(res.replication, summ, out_tables)


def additional(actual: dict, counterfactual: dict) -> dict:
    """What the programmes changed: each measure less its value in the paired counterfactual (model v2)."""
    a, c = actual["target"], counterfactual["target"]
    return {
        "turned_around": a["count"]["turned_around"] - c["count"]["turned_around"],
        "framework_results": a["count"]["framework_results"] - c["count"]["framework_results"],
        "stock_end": a["prevalence"]["stock_end"] - c["prevalence"]["stock_end"],
        "at_risk_end": actual["classifications"]["at_risk"]["deadline"]
        - counterfactual["classifications"]["at_risk"]["deadline"],
        "counterfactual": {
            "turned_around": c["count"]["turned_around"],
            "framework_results": c["count"]["framework_results"],
            "stock_end": c["prevalence"]["stock_end"],
        },
    }


def run_shared_replication(
    scenarios: list,
    seed: int,
    replication: int | None = None,
    keep_waits: bool = True,
    tables: bool = True,
    counterfactual: bool = True,
):
    """One replication of several scenarios simulated from their common past (model v2); each one's record, bit for
    bit what :func:`run_replication` gives it alone (with or without its ``counterfactual``). ``None`` when they
    cannot share."""
    pairs = [(s, counterfactual_of(s) if counterfactual else None) for s in scenarios]
    out = engine.simulate_shared(pairs, seed, None, replication)
    if out is None:
        return None
    return [replication_record(res, s, keep_waits, cf, tables) for s, (res, cf) in zip(scenarios, out, strict=True)]


def _one_shared(task: tuple) -> list[dict]:
    scenarios, seed, replication, keep_waits = task
    return run_shared_replication(scenarios, seed, replication, keep_waits)


def run_replications_shared(
    scenarios: list,
    seed: int,
    n: int,
    jobs: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[list[dict]] | None:
    """Like :func:`run_replications` for several scenarios at once, each replication simulating their common past
    once (``flowsim.engine.simulation.simulate_shared``). Returns each scenario's records in order, or ``None``
    when the scenarios cannot share (then run them one by one)."""

    if not engine.can_share([(s, counterfactual_of(s)) for s in scenarios]):
        return None
    if n == 1:
        return [[r] for r in run_shared_replication(scenarios, seed)]
    out = _in_order(_one_shared, scenarios, seed, n, jobs, progress)
    return [[records[k] for records in out] for k in range(len(scenarios))]


def _one(task: tuple) -> dict:
    scenario, seed, replication, keep_waits = task
    return run_replication(scenario, seed, replication, keep_waits)


def _one_lean(task: tuple) -> dict:
    """A replication's summary alone: no tables, no counterfactual (:func:`run_replication`)."""
    scenario, seed, replication, _ = task
    return run_replication(scenario, seed, replication, False, tables=False, counterfactual=False)


def run_replications(
    scenario,
    seed: int,
    n: int,
    jobs: int | None = None,
    progress: Callable[[int], None] | None = None,
    lean: bool = False,
    first: int = 0,
) -> list[dict]:
    """Run ``n`` replications over ``jobs`` worker processes (default: every core); return their records in order.

    One replication runs in this process on the root seed's own streams; several
    run as replications ``first`` .. ``first`` + n-1 of the seed (``first`` > 0 adds to replications already run,
    on new streams). ``progress`` is called with the
    number finished. Workers die with this process, and KeyboardInterrupt
    stops them at once (:mod:`flowsim.workers`). ``lean``: summaries only, without the counterfactual
    (:func:`_one_lean`).
    """
    if n == 1 and first == 0:
        return [_one_lean((scenario, seed, None, False)) if lean else run_replication(scenario, seed)]
    return _in_order(_one_lean if lean else _one, scenario, seed, n, jobs, progress, first)


def _in_order(
    fn: Callable, what, seed: int, n: int, jobs: int | None, progress: Callable[[int], None] | None, first: int = 0
):
    """``fn((what, seed, i, keep_waits))`` for replications ``first`` .. ``first`` + n-1 over worker processes;
    results in order."""
    jobs = max(1, min(jobs or os.cpu_count() or 1, n))
    ensure_compiled()  # once, here, before the workers start: else each compiles the kernel at once
    out: list = [None] * n
    tasks = ((what, seed, i, i == 0) for i in range(first, first + n))
    for done, (task, result) in enumerate(imap_unordered(fn, tasks, jobs, initializer=keep_spares), start=1):
        out[task[2] - first] = result
        if progress is not None:
            progress(done)
    return out


def _one_member(task: tuple) -> dict:
    (scenario, members, per_set, lean, first), seed, replication, keep_waits = task
    k = (replication - first) // per_set
    trial = scenario.with_values(members[k], origin="ensemble member")
    record = (_one_lean if lean else _one)((trial, seed, replication, keep_waits))
    record.summary["ensemble_set"] = k
    return record


def run_ensemble(
    scenario,
    members: list[dict],
    per_set: int,
    seed: int,
    jobs: int | None = None,
    progress: Callable[[int], None] | None = None,
    lean: bool = False,
    first: int = 0,
) -> list[dict]:
    """``per_set`` replications of ``scenario`` at each parameter set in ``members``: replication ``i`` runs set
    ``i // per_set`` on replication ``first + i``'s streams, so two scenarios run with the same members and seed
    share both their parameter sets and their random numbers. ``lean``: summaries only, without the
    counterfactual."""
    n = len(members) * per_set
    return _in_order(_one_member, (scenario, members, per_set, lean, first), seed, n, jobs, progress, first)


#: Replications of the point fit run beside an ensemble, so a run can say what the single best fit alone would have
#: answered (at most the ensemble's own number of runs, at least two).
POINT_FIT_REPLICATIONS = 10


def point_fit_replications(ensemble_runs: int) -> int:
    """How many replications of the point fit go beside an ensemble of ``ensemble_runs`` runs."""
    return max(2, min(POINT_FIT_REPLICATIONS, ensemble_runs))


def run_point_fit(
    scenario, values: dict, ensemble_runs: int, seed: int, jobs: int | None = None, progress=None
) -> list[dict]:
    """The point fit alone beside an ensemble of ``ensemble_runs`` runs: :func:`point_fit_replications` replications
    at ``values`` on the ensemble's first streams (so they are a plain run's replications 0, 1, ...)."""
    return run_ensemble(scenario, [values], point_fit_replications(ensemble_runs), seed, jobs, progress)
