"""Compare two scenarios with common random numbers: B - A paired by replication, with 95% intervals."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from flowsim import __version__
from flowsim.charts import ChartMeta, save
from flowsim.charts.compare import compare as compare_chart
from flowsim.ensemble import EnsemblePlan
from flowsim.files import atomic_write
from flowsim.measures import get
from flowsim.replications import run_ensemble, run_point_fit, run_replications, run_replications_shared
from flowsim.scenario import Scenario
from flowsim.summary import paired_differences, summarise, summarise_ensemble


def compare(
    a: Scenario,
    b: Scenario,
    replications: int,
    seed: int = 1,
    jobs: int | None = None,
    progress: Callable[[str, int], None] | None = None,
    share: bool = True,
    ensemble: tuple[EnsemblePlan, EnsemblePlan] | None = None,
) -> dict:
    """Run ``replications`` of A and of B with the same seeds; return the comparison document.

    Replication ``i`` of both uses the same random numbers, so B - A is paired. Model v2
    scenarios that differ only from some date on share the past before it: each
    replication simulates it once and forks (bit for bit the separate runs); ``share=False`` runs them apart.
    ``progress(name, done)`` is called as each scenario's replications finish.
    The document has ``a`` and ``b`` (name, hash), ``seed``, ``replications``,
    ``differences`` (each measure's means, paired and unpaired B - A) and both
    ``summaries``.
    """
    if ensemble is not None:
        return _compare_over_ensemble(a, b, seed, jobs, progress, ensemble)
    both = (lambda k: [progress(sc.name, k) for sc in (a, b)]) if progress else None
    runs = run_replications_shared([a, b], seed, replications, jobs, both) if share else None  # one common past
    if runs is None:
        runs = []
        for sc in (a, b):
            step = (lambda k, name=sc.name: progress(name, k)) if progress else None
            runs.append(run_replications(sc, seed, replications, jobs, step))
    return {
        "a": {"name": a.name, "scenario_sha256": a.sha256},
        "b": {"name": b.name, "scenario_sha256": b.sha256},
        "seed": seed,
        "replications": replications,
        "differences": paired_differences(*runs),
        "summaries": {"a": summarise(runs[0]), "b": summarise(runs[1])},
    }


def _compare_over_ensemble(
    a: Scenario, b: Scenario, seed: int, jobs, progress, ensemble: tuple[EnsemblePlan, EnsemblePlan]
) -> dict:
    """A and B over the same parameter sets of the ensemble and the same streams: B - A paired by run.

    ``ensemble`` is A's plan and B's: the same sets (less what each scenario sets itself) and streams. Each
    difference also gets ``over_runs``: the 2.5th and
    97.5th percentiles of B - A over the runs (parameter uncertainty and chance together). With ``point_fit`` (A's
    and B's values at the point fit), both also run at the point fit alone, and ``point_fit`` in the document holds
    their paired differences: the answer without the ensemble.
    """
    per_set = ensemble[0].per_set
    runs = []
    for sc, plan in zip((a, b), ensemble, strict=True):
        step = (lambda k, name=sc.name: progress(name, k)) if progress else None
        runs.append(run_ensemble(sc, list(plan.members), per_set, seed, jobs, step))
    point_fit = None
    if all(plan.point_fit is not None for plan in ensemble):  # A and B at the point fit alone, on the first k streams
        done = len(runs[0])
        at_point = []
        for sc, values in zip((a, b), (plan.point_fit for plan in ensemble), strict=True):
            step = (lambda i, name=sc.name: progress(name, done + i)) if progress else None
            at_point.append(run_point_fit(sc, values, done, seed, jobs, step))
        point_fit = {
            "replications": len(at_point[0]),
            "intervals": "paired 95% interval of the mean difference over the point fit's replications: chance only",
            "differences": paired_differences(*at_point),
            "probability_met": {
                key: summarise(r)["target"]["count"]["probability_met"] for key, r in zip("ab", at_point)
            },
        }
    differences = paired_differences(*runs)
    for key, d in differences.items():
        diff = np.array([get(rb.summary, key) - get(ra.summary, key) for ra, rb in zip(*runs)], float)
        lo, hi = np.quantile(diff, [0.025, 0.975])
        d["over_runs"] = {"lo": float(lo), "hi": float(hi)}
    n = len(runs[0])
    summaries = [
        summarise_ensemble(r, per_set, plan.drawn_from, plan.path, plan.members)
        for r, plan in zip(runs, ensemble, strict=True)
    ]
    return {
        "a": {"name": a.name, "scenario_sha256": a.sha256},
        "b": {"name": b.name, "scenario_sha256": b.sha256},
        "seed": seed,
        "replications": n,
        "ensemble": {k: v for k, v in summaries[0]["ensemble"].items() if k not in ("variance_share", "sensitivity")},
        "differences": differences,
        "summaries": {"a": summaries[0], "b": summaries[1]},
        **({"point_fit": point_fit} if point_fit is not None else {}),
    }


def point_fit_line(doc: dict) -> str | None:
    """Beside a comparison over the ensemble: the same difference at the point fit alone (chance only)."""
    pf = doc.get("point_fit")
    if pf is None:
        return None
    d = pf["differences"]["target.count.turned_around"]["paired"]
    p = pf["probability_met"]
    return (
        f"  the point fit alone ({pf['replications']} replications, chance only): {d['mean']:+,.0f} families turned "
        f"around (paired 95% interval {d['lo']:+,.0f} to {d['hi']:+,.0f}); probability the target is met "
        f"{p['a']['mean']:.2f} -> {p['b']['mean']:.2f}"
    )


def headline(doc: dict) -> str:
    """One line: the paired difference in families turned around, and each scenario's chance of meeting the target."""
    count = doc["differences"]["target.count.turned_around"]["paired"]
    p = [doc["summaries"][k]["target"]["count"]["probability_met"]["mean"] for k in ("a", "b")]
    if "ensemble" in doc:
        e, runs = doc["ensemble"], doc["differences"]["target.count.turned_around"]["over_runs"]
        return (
            f"{doc['b']['name']} vs {doc['a']['name']}: {count['mean']:+,.0f} families turned around by the deadline "
            f"on average (95% of runs {runs['lo']:+,.0f} to {runs['hi']:+,.0f}, over an ensemble of {e['sets']} "
            f"parameter sets drawn from {e['members']}, {e['replications_per_set']} replications each, common to both); "
            f"probability the target is met {p[0]:.2f} -> {p[1]:.2f}"
        )
    return (
        f"{doc['b']['name']} vs {doc['a']['name']}: {count['mean']:+,.0f} families turned around by the deadline "
        f"(paired 95% interval {count['lo']:+,.0f} to {count['hi']:+,.0f}, {doc['replications']} "
        f"replications with common random numbers); probability the target is met {p[0]:.2f} -> {p[1]:.2f}"
    )


def table_lines(doc: dict) -> list[str]:
    """The comparison as a table for the terminal: each measure's A, B and paired B - A with its 95% interval."""
    a, b = doc["a"]["name"], doc["b"]["name"]
    lines = [f"  {'measure':34} {a[:14]:>14} {b[:14]:>14} {'B - A (paired 95% interval)':>36}"]
    for key, d in doc["differences"].items():
        pr = d["paired"]
        lines.append(
            f"  {key:34} {d['a']:>14,.3f} {d['b']:>14,.3f} {pr['mean']:>+12,.3f} [{pr['lo']:+,.3f}, {pr['hi']:+,.3f}]"
        )
    return lines


def write_compare(doc: dict, out_dir: Path) -> list[Path]:
    """Write ``compare.json`` and the chart (``compare.png``, ``compare.svg``) into ``out_dir``."""

    out_dir.mkdir(parents=True, exist_ok=True)
    path = atomic_write(out_dir / "compare.json", json.dumps(doc, indent=2) + "\n")
    a, b = doc["a"], doc["b"]
    meta = ChartMeta(f"{a['name']} vs {b['name']}", a["scenario_sha256"], doc["replications"], __version__)
    return [path, *save(compare_chart(doc, meta), out_dir / "compare")]
