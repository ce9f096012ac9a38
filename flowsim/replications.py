"""Replications of a scenario, and their summary with 95% intervals.

Replication ``i`` of root seed ``r`` draws its streams from
``SeedSequence(r).spawn(...)[i]``: replications are independent, and
replication ``i`` of two scenarios shares its random numbers (common random
numbers), which is what makes paired comparisons sharp.

:func:`run_replication` is the one way a replication is run: by ``flowsim
run``, ``compare``, ``solve`` and sweeps alike. Under payment by results it
also runs the replication's counterfactual.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable

import numpy as np

from flowsim.engine.compile import ensure_compiled
from flowsim.engine.families import keep_spares
from flowsim.measures import RANKED, SUMMARY, get, has, summary, used_in
from flowsim.statistics import mean_interval, paired_difference, wilson
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
    from flowsim.engine.simulation import simulate, simulate_with_counterfactual
    from flowsim.finance import counterfactual as counterfactual_of

    if counterfactual:
        res, counterfactual = simulate_with_counterfactual(
            scenario, counterfactual_of(scenario), seed, progress, replication
        )
    else:
        res, counterfactual = simulate(scenario, seed=seed, progress=progress, replication=replication), None
    return replication_record(res, scenario, keep_waits, counterfactual, tables)


def replication_record(res, scenario, keep_waits: bool = True, counterfactual=None, tables: bool = True) -> dict:
    """One replication's summary and tables.

    With payment by results switched on, ``counterfactual`` is the same
    replication with every programme's effect switched off; results claimed
    there would have happened anyway.
    """
    from flowsim.tables import statistics_table, table_columns

    costs = {name: getattr(scenario.params.programmes, name).cost_per_family_gbp for name in res.programme_names}
    out_tables = {}
    if tables:
        out_tables = table_columns(res)
        if not keep_waits:
            out_tables.pop("waits")
        out_tables["statistics"] = statistics_table(res, costs)
    summ = summary(res, scenario)
    for name, prog in summ["programmes"].items():
        prog["cost_gbp"] = prog["started"] * costs[name]
    if res.finance:
        from flowsim.finance import COUNTERFACTUAL, finance_by_year, results_counts

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
        from flowsim import programme_2012

        summ["programme_2012"] = programme_2012.summary(res, counterfactual, scenario.params.finance)
        if tables:
            out_tables["programme_2012"] = programme_2012.table(res, counterfactual, scenario.params.finance)
    if counterfactual is not None:
        summ["additional"] = additional(summ, summary(counterfactual, scenario))
        if tables:
            from flowsim.tables import classifications_table, with_counterfactual

            out_tables["classifications"] = with_counterfactual(
                out_tables["classifications"], classifications_table(counterfactual)
            )
    return {"replication": res.replication, "summary": summ, "tables": out_tables}


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
    scenarios: list, seed: int, replication: int | None = None, keep_waits: bool = True, tables: bool = True
):
    """One replication of several scenarios simulated from their common past (model v2); each one's record, bit for
    bit what :func:`run_replication` gives it alone. ``None`` when they cannot share."""
    from flowsim.engine.simulation import simulate_shared
    from flowsim.finance import counterfactual as counterfactual_of

    out = simulate_shared([(s, counterfactual_of(s)) for s in scenarios], seed, None, replication)
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
    from flowsim.engine.simulation import can_share
    from flowsim.finance import counterfactual as counterfactual_of

    if not can_share([(s, counterfactual_of(s)) for s in scenarios]):
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
) -> list[dict]:
    """Run ``n`` replications over ``jobs`` worker processes (default: every core); return their records in order.

    One replication runs in this process on the root seed's own streams; several
    run as replications 0 .. n-1 of the seed. ``progress`` is called with the
    number finished. Workers die with this process, and KeyboardInterrupt
    stops them at once (:mod:`flowsim.workers`). ``lean``: summaries only, without the counterfactual
    (:func:`_one_lean`).
    """
    if n == 1:
        return [_one_lean((scenario, seed, None, False)) if lean else run_replication(scenario, seed)]
    return _in_order(_one_lean if lean else _one, scenario, seed, n, jobs, progress)


def _in_order(fn: Callable, what, seed: int, n: int, jobs: int | None, progress: Callable[[int], None] | None):
    """``fn((what, seed, i, keep_waits))`` for replications 0 .. n-1 over worker processes; results in order."""
    jobs = max(1, min(jobs or os.cpu_count() or 1, n))
    ensure_compiled()  # once, here, before the workers start: else each compiles the kernel at once
    out: list = [None] * n
    tasks = ((what, seed, i, i == 0) for i in range(n))
    for done, (task, result) in enumerate(imap_unordered(fn, tasks, jobs, initializer=keep_spares), start=1):
        out[task[2]] = result
        if progress is not None:
            progress(done)
    return out


def _set(d: dict, dotted: str, value) -> None:
    *parents, leaf = dotted.split(".")
    for part in parents:
        d = d.setdefault(part, {})
    d[leaf] = value


def summarise(reps: list[dict]) -> dict:
    """One summary of a run: a single replication's as it is; over several, each measure as {mean, lo, hi}."""
    if len(reps) == 1:
        return reps[0]["summary"]
    first = reps[0]["summary"]
    n = len(reps)
    out = {k: first[k] for k in ("scenario", "scenario_sha256", "seed", "scale")}
    out["replications"] = n
    for m in used_in(SUMMARY):
        if has(first, m.key):
            _set(out, m.key, mean_interval([get(r["summary"], m.key) for r in reps]))
    out["target"]["count"]["target"] = first["target"]["count"]["target"]
    for name in ("count", "coverage", "prevalence"):
        met = sum(bool(r["summary"]["target"][name]["met"]) for r in reps)
        out["target"][name]["probability_met"] = wilson(met, n)
    dates = sorted(d for r in reps if (d := r["summary"]["target"]["count"]["date_met"]))
    out["target"]["count"]["date_met"] = {
        "median": dates[len(dates) // 2] if dates else None,
        "replications_met": len(dates),
    }
    out["programmes"] = {
        name: {k: mean_interval([r["summary"]["programmes"][name][k] or 0.0 for r in reps])["mean"] for k in prog}
        for name, prog in first["programmes"].items()
    }
    out["events"] = int(sum(r["summary"]["events"] for r in reps))
    if "results" in first:
        out["results"]["counterfactual"] = first["results"].get("counterfactual")
        out["finance"] = [
            {
                k: (
                    v
                    if isinstance(v, str) or v is None
                    else float(np.mean([r["summary"]["finance"][i][k] or 0.0 for r in reps]))
                )
                for k, v in row.items()
            }
            for i, row in enumerate(first["finance"])
        ]
    if "programme_2012" in first:
        out["programme_2012"] = _mean_tree([r["summary"]["programme_2012"] for r in reps])
    out["headline"] = headline_many(out, first)
    return out


def _mean_tree(docs: list[dict]) -> dict:
    """Dicts of numbers (nested) over replications: each number as {mean, lo, hi}; anything else as the first has it."""
    out = {}
    for key, value in docs[0].items():
        if isinstance(value, dict):
            out[key] = _mean_tree([d[key] for d in docs])
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[key] = mean_interval([d[key] for d in docs])
        else:
            out[key] = value
    return out


def headline_many(summ: dict, first: dict) -> str:
    """'Target (46,000 turned around by 31 May 2015): not met in any of 4 replications — 26,906 turned around on
    average (95% interval 26,404–27,409), 19,094 short'; with the probability where replications differ."""
    count = summ["target"]["count"]
    p = count["probability_met"]
    ta = count["turned_around"]
    n = summ["replications"]
    met = int(round(p["mean"] * n))
    goal_text = first["headline"].split(":")[0]
    if met == 0:
        verdict = f"not met in any of {n} replications"
    elif met == n:
        verdict = f"met in all {n} replications"
    else:
        verdict = (
            f"met in {met} of {n} replications (probability {p['mean']:.2f}, 95% interval {p['lo']:.2f}–{p['hi']:.2f})"
        )
    short = count.get("shortfall")
    tail = f", {short['mean']:,.0f} short on average" if short is not None and short["mean"] > 0 else ""
    return (
        f"{goal_text}: {verdict} — {ta['mean']:,.0f} turned around by the deadline on average "
        f"(95% interval {ta['lo']:,.0f}–{ta['hi']:,.0f}){tail}"
    )


def paired_differences(a: list[dict], b: list[dict]) -> dict:
    """For each summarised measure: B - A paired by replication (common random numbers) and, for reference, unpaired."""
    return {
        m.key: paired_difference([get(r["summary"], m.key) for r in a], [get(r["summary"], m.key) for r in b])
        for m in used_in(SUMMARY)
        if has(a[0]["summary"], m.key) and has(b[0]["summary"], m.key)
    }


def _one_member(task: tuple) -> dict:
    (scenario, members, per_set, lean), seed, replication, keep_waits = task
    trial = scenario.with_values(members[replication // per_set], origin="ensemble member")
    record = (_one_lean if lean else _one)((trial, seed, replication, keep_waits))
    record["summary"]["ensemble_set"] = replication // per_set
    return record


def run_ensemble(
    scenario,
    members: list[dict],
    per_set: int,
    seed: int,
    jobs: int | None = None,
    progress: Callable[[int], None] | None = None,
    lean: bool = False,
) -> list[dict]:
    """``per_set`` replications of ``scenario`` at each parameter set in ``members``: replication ``i`` runs set
    ``i // per_set`` on replication ``i``'s streams, so two scenarios run with the same members and seed share both
    their parameter sets and their random numbers. ``lean``: summaries only, without the counterfactual."""
    n = len(members) * per_set
    return _in_order(_one_member, (scenario, members, per_set, lean), seed, n, jobs, progress)


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


def point_fit_summary(records: list[dict]) -> dict:
    """The point fit's answer, for setting beside the ensemble's: each summarised measure's mean and 95% interval
    of the mean over its replications (chance only), the probability the target is met, and its headline."""
    s = summarise(records)
    return {
        "replications": len(records),
        "intervals": "95% interval of the mean over the point fit's replications: chance only",
        "probability_met": s["target"]["count"]["probability_met"],
        "measures": {m.key: get(s, m.key) for m in used_in(SUMMARY) if has(s, m.key)},
        "headline": s["headline"],
    }


def variance_split(values: np.ndarray, per_set: int) -> dict:
    """How much of a measure's variance over the ensemble comes from the parameters and how much from chance.

    One-way analysis of variance over ``len(values) / per_set`` sets of ``per_set`` replications each (in order):
    chance is the mean variance within a set; the parameters' share is what the spread of the sets' means adds.
    """
    if per_set < 2:
        return {"parameters": None, "chance": None}  # one run per set: chance and parameters cannot be told apart
    x = np.asarray(values, float).reshape(-1, per_set)
    within = float(x.var(axis=1, ddof=1).mean())
    between = float(x.mean(axis=1).var(ddof=1)) if len(x) > 1 else 0.0
    parameter = max(0.0, between - within / per_set)
    total = parameter + within
    share = parameter / total if total > 0 else 0.0
    return {"parameters": share, "chance": 1.0 - share}


def ensemble_sensitivity(reps: list[dict], members: list[dict], per_set: int) -> dict:
    """Spearman's rank correlation between each calibrated parameter and each of the catalogue's ranked measures (``RANKED``), over runs.

    Parameters tied to one value (the crisis spells' lengths) are shown once, under the first key. ``null_95`` is the
    correlation chance alone reaches with 95% probability at this many runs (1.96 / sqrt(runs - 1)).
    """
    from scipy.stats import spearmanr

    keys: list[str] = []
    seen: set[tuple] = set()
    for key in members[0]:
        column = tuple(m[key] for m in members)
        if column not in seen and len(set(column)) > 1:
            seen.add(column)
            keys.append(key)
    out: dict = {"null_95": 1.96 / math.sqrt(max(len(reps) - 1, 1)), "measures": {}}
    for measure in (m.key for m in used_in(RANKED)):
        if not has(reps[0]["summary"], measure):
            continue
        y = np.array([float(get(r["summary"], measure)) for r in reps])
        if np.ptp(y) == 0 or not np.isfinite(y).all():
            continue
        rho = {}
        for key in keys:
            x = np.array([members[i // per_set][key] for i in range(len(reps))])
            rho[key] = float(spearmanr(x, y).statistic)
        out["measures"][measure] = dict(sorted(rho.items(), key=lambda kv: -abs(kv[1])))
    return out


def summarise_ensemble(
    reps: list[dict], per_set: int, drawn_from: int, path: str, members: list[dict] | None = None
) -> dict:
    """:func:`summarise` over an ensemble's runs, with each measure's interval over the runs themselves.

    Every summarised measure's ``lo`` and ``hi`` are the 2.5th and 97.5th percentiles over all runs (parameter and
    chance together), not an interval for the mean; each says so (``"over": "runs"``), as does ``ensemble``, which
    also splits each measure's variance.
    """
    out = summarise(reps)
    split = {}
    for m in used_in(SUMMARY):
        if not has(reps[0]["summary"], m.key):
            continue
        x = np.array([get(r["summary"], m.key) for r in reps], float)
        if not np.isfinite(x).all():
            continue
        lo, hi = np.quantile(x, [0.025, 0.975])
        node = get(out, m.key)
        if isinstance(node, dict) and "mean" in node:
            node["lo"], node["hi"], node["over"] = float(lo), float(hi), "runs"
        split[m.key] = variance_split(x, per_set)
    out["ensemble"] = {
        "path": path,
        "members": drawn_from,
        "sets": len(reps) // per_set,
        "replications_per_set": per_set,
        "intervals": "2.5th to 97.5th percentile over every run: parameter uncertainty and chance together",
        "variance_share": split,
    }
    if members:
        out["ensemble"]["sensitivity"] = ensemble_sensitivity(reps, members, per_set)
    out["headline"] = ensemble_headline(out)
    return out


def ensemble_headline(summ: dict) -> str:
    """'Target (...): met in 12 of 100 runs over the ensemble (probability 0.12, 0.07–0.20) — 27,186 turned around ...'"""
    e = summ["ensemble"]
    count = summ["target"]["count"]
    p = count["probability_met"]
    ta = count["turned_around"]
    n = summ["replications"]
    goal_text = summ["headline"].split(":")[0]
    share = e["variance_share"].get("target.count.turned_around", {}).get("parameters")
    split = f"; {share:.0%} of its variance from the parameters, the rest chance" if share is not None else ""
    return (
        f"{goal_text}: probability {p['mean']:.2f} (95% interval {p['lo']:.2f}–{p['hi']:.2f}; met in "
        f"{int(round(p['mean'] * n))} of {n} runs over an ensemble of {e['sets']} parameter sets drawn from "
        f"{e['members']}, {e['replications_per_set']} replications each) — {ta['mean']:,.0f} turned around by the "
        f"deadline on average (95% of runs {ta['lo']:,.0f}–{ta['hi']:,.0f}{split})"
    )
