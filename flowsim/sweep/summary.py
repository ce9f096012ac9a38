"""What a sweep's runs say: the chance the target is met at each design point, as a document and a chart."""

from __future__ import annotations

from pathlib import Path

from flowsim import __version__
from flowsim.statistics import wilson
from flowsim.sweep.spec import SweepSpec
from flowsim.sweep.store import sweep_table

#: Outcomes averaged at each design point (sweep table columns).
POINT_MEANS = ("turned_around", "stock_end", "coverage_share")


def by_point(table, params: list[str]):
    """One row per design point: parameter values, mean of each outcome, and P(count met) with a Wilson interval."""
    g = table.groupby("design_point")
    out = g[params].first()
    for col in POINT_MEANS:
        out[col] = g[col].mean()
    met = g["count_met"].agg(["sum", "count"])
    p = [wilson(int(s), int(n)) for s, n in zip(met["sum"], met["count"], strict=True)]
    out["p_met"] = [x["mean"] for x in p]
    out["p_met_lo"] = [x["lo"] for x in p]
    out["p_met_hi"] = [x["hi"] for x in p]
    out["replications"] = met["count"]
    return out.reset_index()


def summarise_sweep(spec: SweepSpec, out_dir: Path) -> dict:
    """The sweep's answer from its store: each design point, the best one, and ``sweep.png`` drawn beside it.

    Returns a document: ``name``, ``parameters``, ``runs``, ``points`` (one dict per
    design point, sorted by design point) and ``best`` (the point most likely to meet the target).
    """
    from flowsim.charts import ChartMeta, save
    from flowsim.charts.sweep import probability_met

    table = sweep_table(out_dir)
    params = [p.key for p in spec.parameters]
    points = by_point(table, params)
    meta = ChartMeta(spec.name, str(table["scenario_sha256"].iloc[0]), spec.replications, __version__)
    scale = float(spec.scenario.value("population.scale"))
    save(probability_met(points, params, meta, scale), out_dir / "sweep")
    rows = points.to_dict(orient="records")
    best = max(rows, key=lambda r: r["p_met"])
    return {"name": spec.name, "parameters": params, "runs": len(table), "points": rows, "best": best}


def headline(spec: SweepSpec, counts: dict, doc: dict, seconds: float) -> str:
    """'Sweep key_worker_capacity: 8 runs (8 run now, 0 already done) in 41.0 s; the target is met with ...'."""
    return (
        f"Sweep {spec.name}: {counts['total']} runs ({counts['run']} run now, {counts['skipped']} already done) "
        f"in {seconds:.1f} s; the target is met with probability up to "
        f"{doc['best']['p_met']:.2f} across {len(doc['points'])} design points"
    )


def point_lines(doc: dict) -> list[str]:
    """The design points as an aligned table for the terminal: parameters, families turned around, P(met)."""
    cols = [*doc["parameters"], "turned_around", "p_met", "p_met_lo", "p_met_hi"]
    widths = [max(len(c), 9) for c in cols]
    lines = ["  ".join(f"{c:>{w}}" for c, w in zip(cols, widths, strict=True))]
    for row in doc["points"]:
        cells = (f"{row[c]:,.0f}" if abs(row[c]) >= 100 else f"{row[c]:.3g}" for c in cols)
        lines.append("  ".join(f"{v:>{w}}" for v, w in zip(cells, widths, strict=True)))
    return lines
