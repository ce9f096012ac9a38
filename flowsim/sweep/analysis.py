"""What a sweep's runs say: the chance the target is met across the swept parameters, and sensitivity indices."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from flowsim.replications import wilson
from flowsim.sweep.designs import morris_problem
from flowsim.sweep.spec import SweepSpec

OUTCOMES = {
    "count_met": "the count target is met",
    "turned_around": "families turned around by the deadline",
    "stock_end": "stock at the deadline",
    "coverage_share": "share of the start stock reached",
}


def by_point(table, params: list[str]):
    """One row per design point: parameter values, mean of each outcome, and P(count met) with a Wilson interval."""
    g = table.groupby("design_point")
    out = g[params].first()
    for col in ("turned_around", "stock_end", "coverage_share"):
        out[col] = g[col].mean()
    met = g["count_met"].agg(["sum", "count"])
    p = [wilson(int(s), int(n)) for s, n in zip(met["sum"], met["count"], strict=True)]
    out["p_met"] = [x["mean"] for x in p]
    out["p_met_lo"] = [x["lo"] for x in p]
    out["p_met_hi"] = [x["hi"] for x in p]
    out["replications"] = met["count"]
    return out.reset_index()


def sweep_chart(table, params: list[str], meta, path_base: Path):
    """The probability the count target is met across one swept parameter (line) or two (heat map)."""
    from flowsim.charts import save
    from flowsim.charts.common import OKABE_ITO, finish, pyplot

    plt = pyplot()
    pts = by_point(table, params)
    varying = [p for p in params if pts[p].nunique() > 1][:2]
    fig, ax = plt.subplots()
    if len(varying) <= 1:
        x = varying[0] if varying else params[0]
        pts = pts.sort_values(x)
        ax.plot(pts[x], pts["p_met"], marker="o", color=OKABE_ITO[0])
        ax.fill_between(pts[x], pts["p_met_lo"], pts["p_met_hi"], color=OKABE_ITO[0], alpha=0.2, linewidth=0)
        ax.set_xlabel(x)
        ax.set_ylabel("Probability the target is met")
        ax.set_ylim(-0.02, 1.02)
        note = "Points: share of replications meeting the target; band: 95% Wilson interval."
    else:
        xs, ys = sorted(pts[varying[0]].unique()), sorted(pts[varying[1]].unique())
        grid = np.full((len(ys), len(xs)), np.nan)
        ta = np.full_like(grid, np.nan)
        for _, r in pts.iterrows():
            i, j = ys.index(r[varying[1]]), xs.index(r[varying[0]])
            grid[i, j], ta[i, j] = r["p_met"], r["turned_around"]
        im = ax.imshow(grid, origin="lower", vmin=0, vmax=1, cmap="cividis", aspect="auto")
        ax.set_xticks(range(len(xs)), [f"{v:g}" for v in xs])
        ax.set_yticks(range(len(ys)), [f"{v:g}" for v in ys])
        for i in range(len(ys)):
            for j in range(len(xs)):
                if np.isfinite(grid[i, j]):
                    ax.text(
                        j,
                        i,
                        f"{grid[i, j]:.2f}\n{ta[i, j]:,.0f}",
                        ha="center",
                        va="center",
                        fontsize=8,
                        color="white" if grid[i, j] < 0.6 else "black",
                    )
        fig.colorbar(im, ax=ax, label="Probability the target is met")
        ax.set_xlabel(varying[0])
        ax.set_ylabel(varying[1])
        ax.grid(False)
        note = "Cells: probability the count target is met, and mean families turned around by the deadline."
    ax.set_title("Chance of meeting the count target across the sweep")
    finish(fig, meta, note)
    paths = save(fig, path_base)
    plt.close(fig)
    return paths


def sensitivity_indices(spec: SweepSpec, table, method: str) -> dict[str, dict]:
    """Sobol (first and total order) or Morris (mu*, sigma) indices of each outcome, from each design row's mean.

    Rows are matched to runs by run id, since identical rows share their runs.
    """
    from flowsim.sweep.run import plan

    problem = morris_problem(spec)
    by_id = table.set_index("run_id")
    tasks = plan(spec)
    n_rows = max(t["design_point"] for t in tasks) + 1
    ids: list[list[str]] = [[] for _ in range(n_rows)]
    for t in tasks:
        ids[t["design_point"]].append(t["run_id"])
    out = {}
    for outcome in OUTCOMES:
        y = np.array([by_id.loc[row_ids, outcome].astype(float).mean() for row_ids in ids])
        if method == "sobol":
            from SALib.analyze import sobol

            res = sobol.analyze(problem, y, calc_second_order=False, seed=spec.seed)
            out[outcome] = {
                k: {
                    "S1": float(res["S1"][i]),
                    "S1_conf": float(res["S1_conf"][i]),
                    "ST": float(res["ST"][i]),
                    "ST_conf": float(res["ST_conf"][i]),
                }
                for i, k in enumerate(problem["names"])
            }
        else:
            from SALib.analyze import morris
            from SALib.sample import morris as morris_sample

            x = morris_sample.sample(problem, spec.points, num_levels=spec.morris_levels, seed=spec.seed)
            res = morris.analyze(problem, x, y, num_levels=spec.morris_levels, seed=spec.seed)
            out[outcome] = {
                k: {
                    "mu_star": float(res["mu_star"][i]),
                    "mu_star_conf": float(res["mu_star_conf"][i]),
                    "sigma": float(res["sigma"][i]),
                }
                for i, k in enumerate(problem["names"])
            }
    return out


def tornado(indices: dict[str, dict], method: str, meta, path_base: Path, outcome: str = "turned_around"):
    """Bars of each parameter's total-order Sobol index (or Morris mu*), largest at the top."""
    from flowsim.charts import save
    from flowsim.charts.common import OKABE_ITO, finish, pyplot

    plt = pyplot()
    key, conf = ("ST", "ST_conf") if method == "sobol" else ("mu_star", "mu_star_conf")
    items = sorted(indices[outcome].items(), key=lambda kv: kv[1][key])
    fig, ax = plt.subplots(figsize=(8, 0.55 * len(items) + 1.8))
    y = np.arange(len(items))
    ax.barh(y, [v[key] for _, v in items], xerr=[v[conf] for _, v in items], color=OKABE_ITO[0], capsize=3)
    ax.set_yticks(y, [k for k, _ in items])
    ax.set_xlabel("Total-order Sobol index" if method == "sobol" else "Morris mu* (families)")
    ax.set_title(f"What drives {OUTCOMES[outcome]}")
    ax.grid(axis="x")
    finish(fig, meta, "Whiskers: 95% bootstrap confidence (SALib).")
    paths = save(fig, path_base)
    plt.close(fig)
    return paths
