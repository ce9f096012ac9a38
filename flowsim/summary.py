"""Summaries of replications: each measure's mean with its 95% interval, the probability a target is met,
paired differences between two scenarios' replications, and answers over the calibrated ensemble (each measure's
spread over runs, its variance split into parameters and chance, the parameters that move it).
"""

from __future__ import annotations

import math

import numpy as np

from flowsim.measures import RANKED, SUMMARY, get, has, used_in
from flowsim.statistics import mean_interval, paired_difference, wilson


def _set(d: dict, dotted: str, value) -> None:
    *parents, leaf = dotted.split(".")
    for part in parents:
        d = d.setdefault(part, {})
    d[leaf] = value


def summarise(reps: list[dict]) -> dict:
    """One summary of a run: a single replication's as it is; over several, each measure as {mean, lo, hi}."""
    if len(reps) == 1:
        return reps[0].summary
    first = reps[0].summary
    n = len(reps)
    out = {k: first[k] for k in ("scenario", "scenario_sha256", "seed", "scale")}
    out["replications"] = n
    for m in used_in(SUMMARY):
        if has(first, m.key):
            _set(out, m.key, mean_interval([get(r.summary, m.key) for r in reps]))
    out["target"]["count"]["target"] = first["target"]["count"]["target"]
    for name in ("count", "coverage", "prevalence"):
        met = sum(bool(r.summary["target"][name]["met"]) for r in reps)
        out["target"][name]["probability_met"] = wilson(met, n)
    dates = sorted(d for r in reps if (d := r.summary["target"]["count"]["date_met"]))
    out["target"]["count"]["date_met"] = {
        "median": dates[len(dates) // 2] if dates else None,
        "replications_met": len(dates),
    }
    out["programmes"] = {
        name: {k: mean_interval([r.summary["programmes"][name][k] or 0.0 for r in reps])["mean"] for k in prog}
        for name, prog in first["programmes"].items()
    }
    out["cost"] = _mean_tree([r.summary["cost"] for r in reps])
    if "readings" in first["moments"]:
        out["moments"]["readings"] = _mean_tree([r.summary["moments"]["readings"] for r in reps])
        out["moments"]["waves"], out["moments"]["attrition"] = first["moments"]["waves"], first["moments"]["attrition"]
        out["moments"]["stock_entries"] = _mean_tree([r.summary["moments"]["stock_entries"] for r in reps])
    out["events"] = int(sum(r.summary["events"] for r in reps))
    if "results" in first:
        out["results"]["counterfactual"] = first["results"].get("counterfactual")
        out["finance"] = [
            {
                k: (
                    v
                    if isinstance(v, str) or v is None
                    else float(np.mean([r.summary["finance"][i][k] or 0.0 for r in reps]))
                )
                for k, v in row.items()
            }
            for i, row in enumerate(first["finance"])
        ]
    if "programme_2012" in first:
        out["programme_2012"] = _mean_tree([r.summary["programme_2012"] for r in reps])
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
        m.key: paired_difference([get(r.summary, m.key) for r in a], [get(r.summary, m.key) for r in b])
        for m in used_in(SUMMARY)
        if has(a[0].summary, m.key) and has(b[0].summary, m.key)
    }


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
    from scipy.stats import spearmanr  # import time: scipy loads only where a statistic needs it

    keys: list[str] = []
    seen: set[tuple] = set()
    for key in members[0]:
        column = tuple(m[key] for m in members)
        if column not in seen and len(set(column)) > 1:
            seen.add(column)
            keys.append(key)
    out: dict = {"null_95": 1.96 / math.sqrt(max(len(reps) - 1, 1)), "measures": {}}
    for measure in (m.key for m in used_in(RANKED)):
        if not has(reps[0].summary, measure):
            continue
        y = np.array([float(get(r.summary, measure)) for r in reps])
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
        if not has(reps[0].summary, m.key):
            continue
        x = np.array([get(r.summary, m.key) for r in reps], float)
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


#: The measures each structure's answer is given for, where its runs have them: the headline's, what the
#: programmes cause, the 2012 programme's claims and the cost.
STRUCTURE_MEASURES = (
    "target.count.turned_around",
    "target.prevalence.stock_end",
    "additional.turned_around",
    "programme_2012.claimed",
    "programme_2012.additional",
    "cost.england_gbp",
)


def _components(x: np.ndarray, per_set: int) -> tuple[float, float | None, float | None, float]:
    """A structure's runs of one measure (sets of ``per_set`` in order): their mean, the parameters' and chance's
    variance (None with one run a set), and the variance of the mean of its sets' means."""
    sets = x.reshape(-1, per_set)
    means = sets.mean(axis=1)
    between = float(means.var(ddof=1)) if len(sets) > 1 else 0.0
    if per_set < 2:
        return float(x.mean()), None, None, between / len(sets)
    within = float(sets.var(axis=1, ddof=1).mean())
    return float(x.mean()), max(0.0, between - within / per_set), within, between / len(sets)


def structure_split(parts: list[tuple[np.ndarray, float]], per_set: int) -> dict:
    """How much of a measure's variance over the pooled runs comes from the parameters, the structure and chance.

    ``parts``: each structure's runs (sets of ``per_set`` replications, in order) and its share of the pool.
    Within a structure the variance splits as in :func:`variance_split`; the structure's part is the weighted
    spread of the structures' means, less what the sampling error of those means adds to it in expectation
    (sum of share x (1 - share) x the variance of each mean), so chance alone gives a structure share near 0.
    Shares of the sum of the three; with one run a set, parameters and chance are None. All three are None (with
    ``why``) when a structure has a single set (its sets' spread, and so the parameters and its mean's sampling
    error, cannot be told) or when the measure does not vary at all.
    """
    if any(len(x) // per_set < 2 for x, _ in parts):
        return _unsplit("a structure has one parameter set: the parameters and the structure cannot be told apart")
    stats = [(_components(np.asarray(x, float), per_set), w) for x, w in parts]
    grand = sum(w * m for (m, _, _, _), w in stats)
    spread = sum(w * (m - grand) ** 2 for (m, _, _, _), w in stats)
    structure = max(0.0, spread - sum(w * (1 - w) * se2 for (_, _, _, se2), w in stats))
    if per_set < 2:
        total = structure + sum(w * float(np.var(x, ddof=1)) for x, w in parts if len(x) > 1)
        return {"parameters": None, "structure": structure / total if total > 0 else 0.0, "chance": None}
    parameters = sum(w * p for (_, p, _, _), w in stats)
    chance = sum(w * c for (_, _, c, _), w in stats)
    total = parameters + structure + chance
    if total <= 0:
        return _unsplit("it does not vary")
    return {"parameters": parameters / total, "structure": structure / total, "chance": chance / total}


def _unsplit(why: str) -> dict:
    return {"parameters": None, "structure": None, "chance": None, "why": why}


def summarise_structures(parts: list[dict], per_set: int) -> dict:
    """An answer over several structures' ensembles: :func:`summarise_ensemble` over all their runs (the pool),
    each measure's variance split three ways (:func:`structure_split`), and each structure's own answer.

    ``parts``: one dict a structure (its own first) with ``name``, ``label``, ``share`` (of the pool's parameter
    sets), ``records``, ``members`` (each set's values), ``drawn_from`` and ``path`` (its ensemble), ``missing``
    structures aside. The pool is the mixture of the structures' runs: each weighs its share of the sets.
    """
    records = [r for p in parts for r in p["records"]]
    members = [m for p in parts for m in p["members"]]
    paths = ", ".join(p["path"] for p in parts)
    out = summarise_ensemble(records, per_set, sum(p["drawn_from"] for p in parts), paths, members)
    split = {}
    for key in out["ensemble"]["variance_share"]:
        xs = [np.array([get(r.summary, key) for r in p["records"]], float) for p in parts]
        split[key] = structure_split([(x, p["share"]) for x, p in zip(xs, parts)], per_set)
    out["ensemble"]["variance_share"] = split
    out["ensemble"]["intervals"] += ", over every structure's runs"
    rows = []
    for p in parts:
        s = summarise_ensemble(p["records"], per_set, p["drawn_from"], p["path"])
        rows.append(
            {
                "name": p["name"],
                "label": p["label"],
                "share": p["share"],
                "sets": len(p["records"]) // per_set,
                "members": p["drawn_from"],
                "path": p["path"],
                "method": p.get("method"),
                "probability_met": s["target"]["count"]["probability_met"],
                "measures": {k: get(s, k) for k in STRUCTURE_MEASURES if has(s, k)},
            }
        )
    out["structures"] = {
        "weights": "each structure's share of the parameter sets, by its weight in calibration/structures.toml",
        "components": rows,
        "missing": [{"name": n, "why": why} for n, why in parts[0].get("missing", ())],
    }
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
    share = e["variance_share"].get("target.count.turned_around", {})
    structures = summ.get("structures", {}).get("components")
    split = ""
    if structures and len(structures) > 1 and share.get("parameters") is not None:
        split = (
            f"; its variance {share['parameters']:.0%} from the parameters, {share['structure']:.0%} from the "
            f"structure, {share['chance']:.0%} chance"
        )
    elif share.get("parameters") is not None:
        split = f"; {share['parameters']:.0%} of its variance from the parameters, the rest chance"
    if structures and len(structures) > 1:
        over = (
            f"over {e['sets']} parameter sets from {len(structures)} structures' ensembles ("
            + ", ".join(f"{c['name']} {c['sets']}" for c in structures)
            + f"), {e['replications_per_set']} replications each"
        )
    else:
        over = (
            f"over an ensemble of {e['sets']} parameter sets drawn from {e['members']}, "
            f"{e['replications_per_set']} replications each"
        )
    return (
        f"{goal_text}: probability {p['mean']:.2f} (95% interval {p['lo']:.2f}–{p['hi']:.2f}; met in "
        f"{int(round(p['mean'] * n))} of {n} runs {over}) — {ta['mean']:,.0f} turned around by the "
        f"deadline on average (95% of runs {ta['lo']:,.0f}–{ta['hi']:,.0f}{split})"
    )
