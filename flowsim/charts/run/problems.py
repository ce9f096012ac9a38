"""The run's figure 'problems': (i) The share of families with children who have each problem, by month (survey window and policy years)."""

from __future__ import annotations

import datetime as dt

import numpy as np

from flowsim.charts.common import (
    OKABE_ITO,
    ChartMeta,
    band,
    chart,
    finish,
    subplots,
    titled,
    years_axis,
)
from flowsim.charts.run.parts import (
    problem_name,
)
from flowsim.timeline import uk_month

#: The figure as the report lists it.
TITLE = "Problems' prevalence over time"


@chart
def figure(table, meta: ChartMeta, start: dt.date, deadline: dt.date, families_total: float):
    """(i) The share of families with children who have each problem, by month (survey window and policy years)."""
    names = list(dict.fromkeys(table["problem"]))
    cols = 4
    rows = int(np.ceil(len(names) / cols))
    fig, axes = subplots(rows, cols, figsize=(9.5, 1.9 * rows + 0.6), sharex=True, squeeze=False)
    for ax in axes.flat[len(names) :]:
        ax.set_visible(False)
    moves = []
    for ax, name in zip(axes.flat, names, strict=False):
        mine = table[table["problem"] == name].copy()
        mine["share"] = mine["families"] / families_total * 100
        m = band(ax, "date", mine, "share", colour=OKABE_ITO[0])
        at = m[[d >= start for d in m.index]]
        ax.axvline(start, color="#999999", linewidth=0.8)
        ax.set_title(problem_name(name), fontsize=8.5, loc="left")
        ax.yaxis.set_major_formatter(lambda v, _: f"{v:.1f}%")
        lo, hi = ax.get_ylim()
        mid = (lo + hi) / 2
        ax.set_ylim(min(lo, mid * 0.85), max(hi, mid * 1.15))
        ax.tick_params(labelsize=7.5)
        years_axis(ax)
        if len(at):
            moves.append((float(at.iloc[-1] - at.iloc[0]), name))
    for k, ax in enumerate(axes.flat[: len(names)]):
        if k + cols >= len(names):  # nothing below it: it carries the year labels
            ax.xaxis.set_tick_params(labelbottom=True)
    fig.tight_layout()
    biggest = max(moves, key=lambda m: abs(m[0])) if moves else (0.0, "")
    end = uk_month(table["date"].max())
    message = f"No problem's prevalence changes by 0.2 percentage points or more from {uk_month(start)} to {end}"
    if abs(biggest[0]) >= 0.2:
        verb = "rises" if biggest[0] > 0 else "falls"
        change = f"{biggest[0]:+.1f}".replace("-", "−")
        message = f"{problem_name(biggest[1])} {verb} most from {uk_month(start)} to {end}: {change} percentage points"
    titled(
        fig,
        message,
        f"Share of families with children who have each problem, {uk_month(table['date'].min())} to "
        f"{uk_month(table['date'].max())}; grey line: the start date; each panel has its own scale",
    )
    finish(fig, meta, meta.spread("Lines"))
    return fig


def draw(run, meta: ChartMeta, ax=None):
    """From a run directory; None for a run without its problems' table."""
    if not run.has("problems"):
        return None
    states = run.table("states")
    first = states[states["date"] == states["date"].min()]
    total = float(first[first["state"] != "left"]["families"].sum()) / max(first["replication"].nunique(), 1)
    return figure(run.table("problems"), meta, run.start, run.deadline, total)
