"""What a sweep's runs say: the chance the target is met at each design point, as a document and a chart."""

from __future__ import annotations

import json
from pathlib import Path

from flowsim import __version__
from flowsim.charts import ChartMeta, save
from flowsim.charts.sweep import probability_met
from flowsim.files import atomic_write
from flowsim.statistics import wilson
from flowsim.sweep.spec import SweepSpec
from flowsim.sweep.store import sweep_table

#: Outcomes averaged at each design point (sweep table columns), what the programmes cause first; those a sweep's
#: runs did not measure (a sweep without counterfactuals has no additional families) are left out.
POINT_MEANS = ("additional_turned_around", "turned_around", "stock_end", "coverage_share", "cost_gbp")


def by_point(table, params: list[str], spread: bool = False):
    """One row per design point: parameter values, mean of each outcome, and P(count met) with a Wilson interval.

    ``spread`` (a sweep over the ensemble): also each outcome's 2.5th and 97.5th percentiles over the point's runs,
    as ``<outcome>_lo`` and ``_hi``: 95% of runs, parameter uncertainty and chance together.
    """
    g = table.groupby("design_point")
    out = g[params].first()
    for col in (c for c in POINT_MEANS if c in table.columns):
        out[col] = g[col].mean()
        if spread:
            out[f"{col}_lo"] = g[col].quantile(0.025)
            out[f"{col}_hi"] = g[col].quantile(0.975)
    met = g["count_met"].agg(["sum", "count"])
    p = [wilson(int(s), int(n)) for s, n in zip(met["sum"], met["count"], strict=True)]
    out["p_met"] = [x["mean"] for x in p]
    out["p_met_lo"] = [x["lo"] for x in p]
    out["p_met_hi"] = [x["hi"] for x in p]
    out["replications"] = met["count"]
    return out.reset_index()


def summarise_sweep(spec: SweepSpec, out_dir: Path) -> dict:
    """The sweep's answer from its store: each design point, the best one; ``summary.json`` and ``sweep.png`` beside.

    Returns a document: ``name``, ``parameters``, ``runs``, ``points`` (one dict per
    design point, sorted by design point) and ``best`` (the point most likely to meet the target).
    """
    table = sweep_table(out_dir)
    params = [p.key for p in spec.parameters]
    points = by_point(table, params, spread=bool(spec.members))
    scale = float(spec.scenario.value("population.scale"))
    meta = ChartMeta(spec.name, str(table["scenario_sha256"].iloc[0]), spec.replications, __version__, scale)
    save(probability_met(points, params, meta, scale), out_dir / "sweep")
    rows = points.to_dict(orient="records")
    best = max(rows, key=lambda r: r["p_met"])
    doc = {"name": spec.name, "parameters": params, "runs": len(table), "points": rows, "best": best}
    if spec.members:
        doc["intervals"] = (
            f"over an ensemble of {len(spec.members)} parameter sets: <outcome>_lo and _hi are the 2.5th and 97.5th "
            "percentiles of each design point's runs; p_met_lo and p_met_hi a Wilson interval"
        )
    atomic_write(out_dir / "summary.json", json.dumps(doc, indent=2, default=_plain) + "\n")
    return doc


def _plain(x):
    """A numpy number as the Python number it is (for JSON)."""
    return x.item() if hasattr(x, "item") else str(x)


def headline(spec: SweepSpec, counts: dict, doc: dict, seconds: float) -> str:
    """'Sweep key_worker_capacity: 8 runs (8 run now, 0 already done) in 41.0 s; the target is met with ...'."""
    caused = [round(p["additional_turned_around"]) for p in doc["points"] if "additional_turned_around" in p]
    lead = (
        f"{min(caused):+,.0f} to {max(caused):+,.0f} families turned around because of the programmes across "
        f"{len(doc['points'])} design points; "
        if caused
        else ""
    )
    return (
        f"Sweep {spec.name}: {lead}the target is met with probability up to {doc['best']['p_met']:.2f} across "
        f"{len(doc['points'])} design points; {counts['total']} runs ({counts['run']} run now, "
        f"{counts['skipped']} already done) in {seconds:.1f} s"
    )


def point_lines(doc: dict) -> list[str]:
    """The design points as an aligned table for the terminal: parameters, families turned around, P(met)."""
    spread = ["turned_around_lo", "turned_around_hi"] if "turned_around_lo" in doc["points"][0] else []
    cols = [*doc["parameters"], "turned_around", *spread, "p_met", "p_met_lo", "p_met_hi"]
    widths = [max(len(c), 9) for c in cols]
    lines = ["  ".join(f"{c:>{w}}" for c, w in zip(cols, widths, strict=True))]
    for row in doc["points"]:
        cells = (f"{row[c]:,.0f}" if abs(row[c]) >= 100 else f"{row[c]:.3g}" for c in cols)
        lines.append("  ".join(f"{v:>{w}}" for v, w in zip(cells, widths, strict=True)))
    return lines
