"""Many replications of a scenario, one process each, and their summary with 95% intervals.

Replication ``i`` of root seed ``r`` draws its streams from
``SeedSequence(r).spawn(...)[i]``: replications are independent, and
replication ``i`` of two scenarios shares its random numbers (common random
numbers), which is what makes paired comparisons sharp.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

#: Leaf measures summarised with intervals: (dotted key in a replication's summary).
MEASURES = (
    "target.count.turned_around",
    "target.count.shortfall",
    "target.coverage.share",
    "target.coverage.families_reached",
    "target.coverage.start_stock",
    "target.prevalence.stock_start",
    "target.prevalence.stock_end",
    "target.prevalence.change",
    "moments.at_risk",
    "moments.persistence_1y",
    "moments.persistent_4_of_6",
    "moments.stock",
    "moments.flow_group",
    "moments.ever_at_risk",
)


def run_one(path: str, overrides: list[str], seed: int, replication: int | None, keep_waits: bool) -> dict:
    """Run one replication in this process; return its summary and tables (picklable)."""
    from flowsim.scenario import load_scenario

    return simulate_record(load_scenario(path, overrides), path, overrides, seed, replication, keep_waits)


def simulate_record(
    scenario, path, overrides: list[str], seed: int, replication: int | None, keep_waits: bool, progress=None
) -> dict:
    """Simulate one replication (and, under payment by results, its counterfactual) and return its record."""
    from flowsim.engine import simulate
    from flowsim.results import replication_record
    from flowsim.scenario import load_scenario

    res = simulate(scenario, seed=seed, progress=progress, replication=replication)
    counterfactual = None
    if res.finance:
        from flowsim.finance import counterfactual_overrides

        cf_scenario = load_scenario(path, [*overrides, *counterfactual_overrides(scenario)])
        counterfactual = simulate(cf_scenario, seed=seed, replication=replication)
    return replication_record(res, scenario, keep_waits, counterfactual)


def run_replications(
    path: str | Path,
    overrides: list[str],
    seed: int,
    n: int,
    jobs: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[dict]:
    """Run ``n`` replications over ``jobs`` worker processes (default: every core); return them in order."""
    jobs = max(1, min(jobs or os.cpu_count() or 1, n))
    if n == 1:
        return [run_one(str(path), overrides, seed, None, True)]
    out: list[dict | None] = [None] * n
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(run_one, str(path), overrides, seed, i, i == 0): i for i in range(n)}
        for done, future in enumerate(as_completed(futures), start=1):
            out[futures[future]] = future.result()
            if progress is not None:
                progress(done)
    return out  # type: ignore[return-value]


def get(d: dict, dotted: str):
    for part in dotted.split("."):
        d = d[part]
    return d


def mean_interval(values) -> dict:
    """Mean and 95% t-interval of the mean; a single value has no interval."""
    from scipy import stats

    x = np.asarray(values, float)
    mean = float(x.mean())
    if x.size < 2:
        return {"mean": mean, "lo": mean, "hi": mean}
    half = float(stats.t.ppf(0.975, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return {"mean": mean, "lo": mean - half, "hi": mean + half}


def wilson(successes: int, n: int) -> dict:
    """A proportion with its 95% Wilson score interval (sensible at 0 and 1)."""
    if n == 0:
        return {"mean": float("nan"), "lo": 0.0, "hi": 1.0}
    z = 1.959963984540054
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    lo = 0.0 if successes == 0 else min(p, max(0.0, centre - half))
    hi = 1.0 if successes == n else max(p, min(1.0, centre + half))
    return {"mean": p, "lo": lo, "hi": hi}


def _set(d: dict, dotted: str, value) -> None:
    *parents, leaf = dotted.split(".")
    for part in parents:
        d = d.setdefault(part, {})
    d[leaf] = value


def summarise(reps: list[dict]) -> dict:
    """One summary over replications: each measure as {mean, lo, hi}, each target with probability_met."""
    first = reps[0]["summary"]
    n = len(reps)
    out = {k: first[k] for k in ("scenario", "scenario_sha256", "seed", "scale")}
    out["replications"] = n
    for key in MEASURES:
        _set(out, key, mean_interval([get(r["summary"], key) for r in reps]))
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
        numeric = [k for k, v in first["results"].items() if isinstance(v, (int, float))]
        out["results"] = {k: mean_interval([r["summary"]["results"][k] for r in reps]) for k in numeric}
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
    out["headline"] = headline_many(out, first)
    return out


def headline_many(summ: dict, first: dict) -> str:
    """'Target (46,000 turned around by 2015-05-31): met with probability 0.23 (95% interval 0.10-0.42) ...'."""
    count = summ["target"]["count"]
    p = count["probability_met"]
    ta = count["turned_around"]
    goal_text = first["headline"].split(":")[0]
    return (
        f"{goal_text}: met with probability {p['mean']:.2f} (95% interval {p['lo']:.2f}–{p['hi']:.2f}) — "
        f"{ta['mean']:,.0f} turned around by the deadline on average (95% interval {ta['lo']:,.0f}–{ta['hi']:,.0f}), "
        f"{summ['replications']} replications"
    )


def paired_differences(a: list[dict], b: list[dict]) -> dict:
    """For each measure: B - A paired by replication (common random numbers) and, for reference, unpaired."""
    from scipy import stats

    out = {}
    for key in MEASURES:
        xa = np.array([get(r["summary"], key) for r in a], float)
        xb = np.array([get(r["summary"], key) for r in b], float)
        paired = mean_interval(xb - xa)
        n = xa.size
        se = math.sqrt(xa.var(ddof=1) / n + xb.var(ddof=1) / n) if n > 1 else 0.0
        half = float(stats.t.ppf(0.975, max(2 * n - 2, 1)) * se)
        diff = float(xb.mean() - xa.mean())
        out[key] = {
            "a": float(xa.mean()),
            "b": float(xb.mean()),
            "paired": paired,
            "unpaired": {"mean": diff, "lo": diff - half, "hi": diff + half},
        }
    return out
