"""Compare two scenarios with common random numbers: B - A paired by replication, with 95% intervals."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from flowsim import __version__, structures
from flowsim.charts import ChartMeta, save
from flowsim.charts.compare import compare as compare_chart
from flowsim.ensemble import EnsemblePlan
from flowsim.errors import FlowsimError
from flowsim.files import atomic_write
from flowsim.measures import BY_KEY, get, has
from flowsim.plan import count
from flowsim.replications import run_ensemble, run_point_fit, run_replications, run_replications_shared
from flowsim.scenario import Scenario
from flowsim.structures import StructuresPlan
from flowsim.summary import (
    STRUCTURE_MEASURES,
    paired_differences,
    structure_split,
    summarise,
    summarise_ensemble,
    summarise_structures,
)
from flowsim.text import SHORT_NAMES

#: What sets the size of the simulated population: two scenarios compared must agree on each, or B - A is partly
#: a difference in size, not in policy.
SIZE_KEYS = ("population.scale", "population.sample_weight")
#: Bootstrap resamples of replication pairs for the interval of the cost per additional family, and their seed.
BOOTSTRAP, BOOTSTRAP_SEED = 2000, 0


def check_comparable(a: Scenario, b: Scenario) -> None:
    """Refuse two scenarios whose simulated populations differ in size (:data:`SIZE_KEYS`), naming both values.

    Raises:
        FlowsimError: naming the key, each scenario and its value.
    """
    for key in SIZE_KEYS:
        va, vb = (sc.value(key) for sc in (a, b))
        if va != vb:
            raise FlowsimError(
                f"{key} is {va:g} in {a.name} and {vb:g} in {b.name}: a comparison of populations of different sizes "
                f"would report the difference in size as an effect of policy; set the same {key} for both "
                f"(--set {key}=...)"
            )


def compare(
    a: Scenario,
    b: Scenario,
    replications: int,
    seed: int = 1,
    jobs: int | None = None,
    progress: Callable[[str, int], None] | None = None,
    share: bool = True,
    ensemble: tuple[EnsemblePlan, EnsemblePlan] | tuple[StructuresPlan, StructuresPlan] | None = None,
) -> dict:
    """Run ``replications`` of A and of B with the same seeds; return the comparison document.

    Replication ``i`` of both uses the same random numbers, so B - A is paired. Model v2
    scenarios that differ only from some date on share the past before it: each
    replication simulates it once and forks (bit for bit the separate runs); ``share=False`` runs them apart.
    ``progress(name, done)`` is called as each scenario's replications finish.
    The document has ``a`` and ``b`` (name, hash), ``seed``, ``replications``,
    ``differences`` (each measure's means, paired and unpaired B - A) and both
    ``summaries``. ``ensemble``: A's and B's plans over one ensemble (:func:`_compare_over_ensemble`) or over the
    shipped structures (:func:`_compare_over_structures`).
    """
    check_comparable(a, b)
    if ensemble is not None and isinstance(ensemble[0], StructuresPlan):
        return _compare_over_structures(a, b, seed, jobs, progress, ensemble)
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
        "scale": a.value("population.scale"),
        "differences": paired_differences(*runs),
        "cost_per_additional_family": cost_per_additional_family(*runs, a.value("population.scale")),
        "summaries": {"a": summarise(runs[0]), "b": summarise(runs[1])},
    }


def cost_per_additional_family(a: list, b: list, scale: float) -> dict | None:
    """B's extra cost over A for each additional family B's programmes turn around, in England's £.

    The ratio of the mean paired differences (cost over families turned around because of the programmes, both
    scaled back to England), with a 95% percentile interval from :data:`BOOTSTRAP` resamples of the replication
    pairs. No interval (``lo``, ``hi`` None) when the additional families' difference is zero or below in more
    than 2.5% of resamples: the ratio is then unbounded. None without a counterfactual (no additional families).
    """
    if not all(has(r.summary, "additional.turned_around") for r in (*a, *b)):
        return None
    cost = np.array([get(rb.summary, "cost.england_gbp") - get(ra.summary, "cost.england_gbp") for ra, rb in zip(a, b)])
    extra = (
        np.array(
            [
                get(rb.summary, "additional.turned_around") - get(ra.summary, "additional.turned_around")
                for ra, rb in zip(a, b)
            ]
        )
        / scale
    )
    out = {
        "mean": float(cost.mean() / extra.mean()) if extra.mean() > 0 else None,
        "lo": None,
        "hi": None,
        "method": f"ratio of the mean paired differences; 95% percentile interval over {BOOTSTRAP:,} bootstrap "
        f"resamples of the {cost.size} replication pairs (seed {BOOTSTRAP_SEED})",
    }
    idx = np.random.default_rng(BOOTSTRAP_SEED).integers(0, cost.size, (BOOTSTRAP, cost.size))
    num, den = cost[idx].mean(axis=1), extra[idx].mean(axis=1)
    if out["mean"] is not None and (den <= 0).mean() <= 0.025:
        ratio = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.inf)
        out["lo"], out["hi"] = (float(v) for v in np.quantile(ratio, [0.025, 0.975]))
    return out


def _ensemble_runs(a: Scenario, b: Scenario, plans, per_set: int, seed: int, jobs, progress, first: int = 0):
    """A's and B's runs over their plans' parameter sets on the streams from ``first`` on (``progress(name, k)``
    counts each scenario's runs from ``first``)."""
    runs = []
    for sc, plan in zip((a, b), plans, strict=True):
        step = (lambda k, name=sc.name: progress(name, first + k)) if progress else None
        runs.append(run_ensemble(sc, list(plan.members), per_set, seed, jobs, step, first=first))
    return runs


def _point_fit_differences(a: Scenario, b: Scenario, plans, done: int, seed: int, jobs, progress) -> dict | None:
    """A and B at the point fit alone on the first streams (a plain compare's replications), when both plans have
    one: their paired differences, chance only."""
    if not all(plan.point_fit is not None for plan in plans):
        return None
    at_point = []
    for sc, values in zip((a, b), (plan.point_fit for plan in plans), strict=True):
        step = (lambda i, name=sc.name: progress(name, done + i)) if progress else None
        at_point.append(run_point_fit(sc, values, done, seed, jobs, step))
    return {
        "replications": len(at_point[0]),
        "intervals": "paired 95% interval of the mean difference over the point fit's replications: chance only",
        "differences": paired_differences(*at_point),
        "probability_met": {key: summarise(r)["target"]["count"]["probability_met"] for key, r in zip("ab", at_point)},
    }


def _over_runs(differences: dict, a: list, b: list) -> dict:
    """Each difference with ``over_runs``: the 2.5th and 97.5th percentiles of B - A over the paired runs
    (parameter uncertainty, chance and, over several structures, the structure together)."""
    for key, d in differences.items():
        diff = np.array([get(rb.summary, key) - get(ra.summary, key) for ra, rb in zip(a, b)], float)
        lo, hi = np.quantile(diff, [0.025, 0.975])
        d["over_runs"] = {"lo": float(lo), "hi": float(hi)}
    return differences


def _compare_over_ensemble(
    a: Scenario, b: Scenario, seed: int, jobs, progress, ensemble: tuple[EnsemblePlan, EnsemblePlan]
) -> dict:
    """A and B over the same parameter sets of the ensemble and the same streams: B - A paired by run.

    ``ensemble`` is A's plan and B's: the same sets (less what each scenario sets itself) and streams. Each
    difference also gets ``over_runs`` (:func:`_over_runs`). With ``point_fit`` (A's and B's values at the point
    fit), both also run at the point fit alone, and ``point_fit`` in the document holds their paired differences:
    the answer without the ensemble.
    """
    per_set = ensemble[0].per_set
    runs = _ensemble_runs(a, b, ensemble, per_set, seed, jobs, progress)
    point_fit = _point_fit_differences(a, b, ensemble, len(runs[0]), seed, jobs, progress)
    summaries = [
        summarise_ensemble(r, per_set, plan.drawn_from, plan.path, plan.members)
        for r, plan in zip(runs, ensemble, strict=True)
    ]
    return _ensemble_document(a, b, seed, runs, summaries, point_fit)


def _ensemble_document(a: Scenario, b: Scenario, seed: int, runs: list, summaries: list, point_fit) -> dict:
    return {
        "a": {"name": a.name, "scenario_sha256": a.sha256},
        "b": {"name": b.name, "scenario_sha256": b.sha256},
        "seed": seed,
        "replications": len(runs[0]),
        "scale": a.value("population.scale"),
        "cost_per_additional_family": cost_per_additional_family(*runs, a.value("population.scale")),
        "ensemble": {k: v for k, v in summaries[0]["ensemble"].items() if k not in ("variance_share", "sensitivity")},
        "differences": _over_runs(paired_differences(*runs), *runs),
        "summaries": {"a": summaries[0], "b": summaries[1]},
        **({"point_fit": point_fit} if point_fit is not None else {}),
    }


def _compare_over_structures(
    a: Scenario, b: Scenario, seed: int, jobs, progress, plans: tuple[StructuresPlan, StructuresPlan]
) -> dict:
    """A and B under each shipped structure over its own ensemble's sets, each structure on the streams after the
    one before's, B - A paired by run; the pool is the mixture of the structures' runs.

    ``plans``: A's and B's, over the same structures (A's own first) and sets. Beside the pooled document of
    :func:`_compare_over_ensemble`, ``structures`` holds each structure's B - A (mean and 95% of its runs) and each
    difference's variance split into the parameters, the structure and chance (:func:`structure_split`); the point
    fit alone is the scenarios' own structure's.

    Raises:
        FlowsimError: if the two plans do not run the same structures.
    """
    pa, pb = plans
    names = [c.structure.name for c in pa.components]
    if names != [c.structure.name for c in pb.components]:
        raise FlowsimError(
            f"{a.name} and {b.name} do not run under the same structures ({', '.join(names)} against "
            f"{', '.join(c.structure.name for c in pb.components)}): compare them with --structures own"
        )
    per_set, first = pa.per_set, 0
    parts = {"a": [], "b": []}
    for ca, cb in zip(pa.components, pb.components, strict=True):
        ra, rb = _ensemble_runs(ca.scenario, cb.scenario, (ca.plan, cb.plan), per_set, seed, jobs, progress, first)
        first += len(ra)
        parts["a"].append(structures.part(ca, ra, pa.missing))
        parts["b"].append(structures.part(cb, rb, pa.missing))
    runs = [[r for p in parts[key] for r in p["records"]] for key in "ab"]
    point_fit = _point_fit_differences(a, b, (pa.home.plan, pb.home.plan), first, seed, jobs, progress)
    if point_fit is not None:
        point_fit["structure"] = pa.home.structure.name
    summaries = [summarise_structures(parts[key], per_set) for key in "ab"]
    doc = _ensemble_document(a, b, seed, runs, summaries, point_fit)
    keys = [k for k in STRUCTURE_MEASURES if k in doc["differences"]]
    rows, diffs = [], {}
    for pa_, pb_ in zip(parts["a"], parts["b"], strict=True):
        diff = {  # B - A run by run under this structure: its mean and 95% of its runs, and its variance split
            k: np.array([get(y.summary, k) - get(x.summary, k) for x, y in zip(pa_["records"], pb_["records"])])
            for k in keys
        }
        diffs[pa_["name"]] = diff
        rows.append(
            {
                "name": pa_["name"],
                "label": pa_["label"],
                "share": pa_["share"],
                "sets": len(pa_["records"]) // per_set,
                "members": pa_["drawn_from"],
                "method": pa_["method"],
                "differences": {
                    k: {"mean": float(v.mean()), **dict(zip(("lo", "hi"), map(float, np.quantile(v, [0.025, 0.975]))))}
                    for k, v in diff.items()
                },
            }
        )
    doc["structures"] = {
        "weights": summaries[0]["structures"]["weights"],
        "components": rows,
        "missing": summaries[0]["structures"]["missing"],
        "variance_share": {
            k: structure_split([(diffs[p["name"]][k], p["share"]) for p in parts["a"]], per_set) for k in keys
        },
    }
    return doc


def point_fit_line(doc: dict) -> str | None:
    """Beside a comparison over the ensemble: the same difference at the point fit alone (chance only)."""
    pf = doc.get("point_fit")
    if pf is None:
        return None
    key = (
        "additional.turned_around" if "additional.turned_around" in pf["differences"] else "target.count.turned_around"
    )
    d = pf["differences"][key]["paired"]
    what = "families turned around because of the programmes" if key.startswith("additional") else "turned around"
    p = pf["probability_met"]
    whose = f"the {pf['structure']} structure's point fit" if "structure" in pf else "the point fit"
    return (
        f"  {whose} alone ({pf['replications']} replications, chance only): {d['mean']:+,.0f} {what} "
        f"(paired 95% interval {d['lo']:+,.0f} to {d['hi']:+,.0f}); probability the target is met "
        f"{p['a']['mean']:.2f} -> {p['b']['mean']:.2f}"
    )


def structure_lines(doc: dict) -> list[str]:
    """Over several structures: B - A under each (over its own ensemble), and each difference's variance split
    into the parameters, the structure and chance. Empty for a comparison over one structure."""
    st = doc.get("structures")
    if not st:
        return []
    if len(st["components"]) < 2:  # one structure with an ensemble: nothing pooled, only what was left out
        return [f"  left out of the pool: {m['name']}, {m['why']}" for m in st["missing"]]
    lines = ["  B - A by structure (each over its own ensemble; 95% of its runs; the pool above is their mixture):"]
    for c in st["components"]:
        parts = []
        for key, d in c["differences"].items():
            fmt = (lambda v: _signed_millions(v)) if BY_KEY[key].unit == "gbp" else (lambda v: f"{v:+,.0f}")
            parts.append(f"{SHORT_NAMES[key]} {fmt(d['mean'])} ({fmt(d['lo'])} to {fmt(d['hi'])})")
        drawn = f"{count(c['sets'], 'set')} from a {c['method'] or 'ensemble'} of {c['members']}"
        lines.append(f"    {c['name']} ({c['label']}; {drawn}): " + "; ".join(parts))
    split = [
        f"{SHORT_NAMES[k]} {v['parameters']:.0%} / {v['structure']:.0%} / {v['chance']:.0%}"
        for k, v in st["variance_share"].items()
        if v.get("parameters") is not None
    ]
    why = [v["why"] for v in st["variance_share"].values() if v.get("why")]
    if split:
        lines.append("  variance of B - A from the parameters / the structure / chance: " + "; ".join(split))
    elif why:
        lines.append(f"  variance of B - A from the parameters / the structure / chance: not split: {why[0]}")
    for m in st["missing"]:
        lines.append(f"  left out of the pool: {m['name']}, {m['why']}")
    return lines


def _difference(doc: dict, key: str, noun: str = "") -> str:
    """B - A for one measure, then ``noun``, then its interval: paired by replication, or over an ensemble's runs."""
    d = doc["differences"][key]
    spread, words = (d["over_runs"], "95% of runs") if "ensemble" in doc else (d["paired"], "paired 95% interval")
    return f"{d['paired']['mean']:+,.0f}{noun} ({words} {spread['lo']:+,.0f} to {spread['hi']:+,.0f})"


def _signed_millions(v: float) -> str:
    return f"{'+' if v >= 0 else '-'}£{abs(v) / 1e6:,.0f}m"


def _money(doc: dict) -> str:
    """The extra cost (England's £, start date to deadline) and the cost per additional family turned around."""
    d = doc["differences"].get("cost.england_gbp")
    if d is None:
        return ""
    spread = d["over_runs"] if "ensemble" in doc else d["paired"]
    words = "95% of runs" if "ensemble" in doc else "paired 95% interval"
    text = (
        f"; extra cost {_signed_millions(d['paired']['mean'])} in England ({words} "
        f"{_signed_millions(spread['lo'])} to {_signed_millions(spread['hi'])})"
    )
    each = doc.get("cost_per_additional_family")
    if each and each["mean"] is not None:
        interval = (
            f"95% interval £{each['lo']:,.0f} to £{each['hi']:,.0f}"
            if each["lo"] is not None
            else "no finite interval: the additional families' difference may be zero"
        )
        text += f", £{each['mean']:,.0f} per additional family turned around ({interval})"
    elif each:
        text += ", with no more families turned around because of the programmes to divide it by"
    return text


def headline(doc: dict) -> str:
    """One line, leading with what B's policy causes against A's: the additional families turned around (B's
    programmes against their effects switched off, less the same for A), the stock at the deadline, the extra cost
    and the cost per additional family, each paired by replication."""
    head = f"{doc['b']['name']} vs {doc['a']['name']}: "
    if "additional.turned_around" not in doc["differences"]:  # no counterfactual: the count is all there is
        return head + _difference(doc, "target.count.turned_around", " families turned around by the deadline")
    return (
        head
        + _difference(doc, "additional.turned_around", " families turned around because of the programmes")
        + f", stock at the deadline {_difference(doc, 'target.prevalence.stock_end')}"
        + _money(doc)
    )


def counted_line(doc: dict) -> str:
    """Beside the headline: the count as the target counts it (with the families who would have left anyway),
    each scenario's chance of meeting the target, and what the comparison ran."""
    count = doc["differences"]["target.count.turned_around"]["paired"]["mean"]
    anyway = ""
    if "additional.turned_around" in doc["differences"]:
        extra = doc["differences"]["additional.turned_around"]["paired"]["mean"]
        anyway = f", of which {count - extra:+,.0f} would have left the stock anyway"
    p = [doc["summaries"][k]["target"]["count"]["probability_met"]["mean"] for k in ("a", "b")]
    if len(doc.get("structures", {}).get("components", [])) > 1:
        e, rows = doc["ensemble"], doc["structures"]["components"]
        sets = ", ".join(f"{c['name']} {c['sets']}" for c in rows)
        ran = (
            f"{e['sets']} parameter sets over {len(rows)} structures' ensembles ({sets}), "
            f"{e['replications_per_set']} replications each, common to both"
        )
    elif "ensemble" in doc:
        e = doc["ensemble"]
        ran = (
            f"an ensemble of {e['sets']} parameter sets drawn from {e['members']}, {e['replications_per_set']} "
            "replications each, common to both"
        )
    else:
        ran = f"{doc['replications']} replications with common random numbers"
    return (
        "  as the target counts them: "
        + _difference(doc, "target.count.turned_around", " families turned around by the deadline")
        + f"{anyway}; probability the target is met {p[0]:.2f} -> {p[1]:.2f} ({ran})"
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
    meta = ChartMeta(
        f"{a['name']} vs {b['name']}", a["scenario_sha256"], doc["replications"], __version__, doc.get("scale", 1.0)
    )
    return [path, *save(compare_chart(doc, meta), out_dir / "compare")]
