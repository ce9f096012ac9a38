"""Sweep and sensitivity charts: the chance the target is met across swept parameters, and a tornado of indices."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from flowsim.charts.common import OKABE_ITO, ChartMeta, chart, finish, subplots, titled
from flowsim.scenario.registry import PARAMETERS, parameter_label


def axis_label(key: str) -> str:
    """A swept parameter on an axis: its label and its unit ('Family Nurse Partnership: caseload (families per
    worker)')."""
    param = PARAMETERS.get(key)
    label = parameter_label(key)
    label = label[:1].upper() + label[1:]
    return f"{label} ({param.unit})" if param is not None and param.unit else label


def _finding(points, varying: list[str]) -> str:
    best = points.loc[points["p_met"].idxmax()]
    where = ", ".join(f"{p.split('.')[-1].replace('_', ' ')} {best[p]:g}" for p in varying)
    if best["p_met"] <= 0:
        return f"The target is met nowhere in the sweep: at best {best['turned_around']:,.0f} families ({where})"
    n = int(best["replications"])
    return f"Best point: target met in {round(best['p_met'] * n)} of {n} replications ({where})"


@chart
def probability_met(points, params: list[str], meta: ChartMeta, scale: float = 1.0):
    """The probability the count target is met across one swept parameter (line) or two (heat map).

    Args:
        points: one row per design point (``flowsim.sweep.summary.by_point``).
        params: the swept parameters' keys.
        scale: the population scale the sweep ran at, when ``meta`` does not say it (said in the footnote when
            not 1).
    """
    varying = [p for p in params if points[p].nunique() > 1][:2]
    fig, ax = subplots(figsize=(8, 4.8))
    if len(varying) <= 1:
        x = varying[0] if varying else params[0]
        pts = points.sort_values(x)
        ax.plot(pts[x], pts["p_met"], marker="o", color=OKABE_ITO[0])
        ax.fill_between(pts[x], pts["p_met_lo"], pts["p_met_hi"], color=OKABE_ITO[0], alpha=0.2, linewidth=0)
        for _, r in pts.iterrows():
            ax.annotate(
                f"{r['p_met']:.2f} (n={int(r['replications'])})",
                (r[x], r["p_met"]),
                xytext=(0, 8),
                textcoords="offset points",
                ha="center",
                fontsize=7.5,
            )
        ax.set_xlabel(axis_label(x))
        ax.set_ylabel("Probability the target is met")
        ax.set_ylim(-0.02, 1.02)
        note = "Points: share of replications meeting the target; band: 95% Wilson interval."
    else:
        xs, ys = sorted(points[varying[0]].unique()), sorted(points[varying[1]].unique())
        grid = np.full((len(ys), len(xs)), np.nan)
        ta = np.full_like(grid, np.nan)
        n_runs = np.zeros_like(grid)
        for _, r in points.iterrows():
            i, j = ys.index(r[varying[1]]), xs.index(r[varying[0]])
            grid[i, j], ta[i, j], n_runs[i, j] = r["p_met"], r["turned_around"], r["replications"]
        im = ax.imshow(grid, origin="lower", vmin=0, vmax=1, cmap="cividis", aspect="auto")
        ax.set_xticks(range(len(xs)), [f"{v:g}" for v in xs])
        ax.set_yticks(range(len(ys)), [f"{v:g}" for v in ys])
        for i in range(len(ys)):
            for j in range(len(xs)):
                if np.isfinite(grid[i, j]):
                    ax.text(
                        j,
                        i,
                        f"{grid[i, j]:.2f} (n={int(n_runs[i, j])})\n{ta[i, j]:,.0f}",
                        ha="center",
                        va="center",
                        fontsize=9,
                        color="white" if grid[i, j] < 0.6 else "black",
                    )
        fig.colorbar(im, ax=ax, label="Probability the target is met")
        ax.set_xlabel(axis_label(varying[0]))
        ax.set_ylabel(axis_label(varying[1]))
        ax.grid(False)
        note = (
            "Cells: share of the n replications meeting the count target, and mean families turned around by the\n"
            "deadline; with few replications a cell's share is rough (the Wilson intervals are in summary.json)."
        )
    fig.tight_layout()
    titled(fig, _finding(points, varying or params[:1]), "Chance of meeting the count target across the sweep")
    finish(fig, replace(meta, scale=scale) if meta.scale == 1 else meta, note)
    return fig


@chart
def tornado(indices: dict[str, dict], method: str, meta: ChartMeta, outcome: str, label: str):
    """Bars of each parameter's total-order Sobol index (or Morris mu*), largest at the top.

    Args:
        indices: outcome -> parameter -> index values (``flowsim.sweep.sensitivity.sensitivity_indices``).
        outcome: the outcome to draw; ``label`` says what it is in words.
    """
    key, conf = ("ST", "ST_conf") if method == "sobol" else ("mu_star", "mu_star_conf")
    items = sorted(indices[outcome].items(), key=lambda kv: kv[1][key])
    fig, ax = subplots(figsize=(8, 0.55 * len(items) + 1.8))
    y = np.arange(len(items))
    ax.barh(y, [v[key] for _, v in items], xerr=[v[conf] for _, v in items], color=OKABE_ITO[0], capsize=3)
    ax.set_yticks(y, [axis_label(k) for k, _ in items], fontsize=8.5)
    ax.set_xlabel("Total-order Sobol index" if method == "sobol" else "Morris mu* (families)")
    ax.set_title(f"What drives {label}")
    ax.grid(axis="x")
    finish(fig, meta, "Whiskers: 95% bootstrap confidence (SALib).")
    return fig
