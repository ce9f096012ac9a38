"""The run's figure 'turned_around': (b) Cumulative families turned around against the target: the end value and the gap labelled."""

from __future__ import annotations

import datetime as dt

from flowsim.charts.common import (
    OKABE_ITO,
    ChartMeta,
    band,
    chart,
    end_label,
    finish,
    subplots,
    thousands,
    titled,
    years_axis,
)
from flowsim.charts.run.parts import (
    deadline_line,
    goal_line,
    mean_of,
)
from flowsim.timeline import uk_month

#: The figure as the report lists it.
TITLE = "Families turned around against the target"


@chart
def figure(
    targets,
    meta: ChartMeta,
    deadline: dt.date,
    ax=None,
    additional: float | None = None,
    reached: float | None = None,
):
    """(b) Cumulative families turned around against the target: the end value and the gap labelled.

    ``reached``: the number turned around by the deadline itself (the summary's); the table is monthly.
    """
    own = ax is None
    fig, ax = subplots(figsize=(8, 4.5)) if own else (ax.figure, ax)
    cum = targets[targets["measure"] == "turned_around_cumulative"]
    mean = band(ax, "date", cum, "value", colour=OKABE_ITO[0])
    goal = float(targets.loc[targets["measure"] == "target", "value"].iloc[0])
    upto = mean[[d <= deadline for d in mean.index]]
    end_x, end_y = upto.index[-1], float(upto.iloc[-1])
    if reached is not None:
        ax.plot([end_x, deadline], [end_y, reached], color=OKABE_ITO[0])
        end_x, end_y = deadline, float(reached)
    england = f" (England's {goal / meta.scale:,.0f} at scale {meta.scale:g})" if meta.scale != 1 else ""
    goal_line(ax, goal, f"target: {goal:,.0f} families{england}", mean.index[0])
    end_label(ax, end_x, end_y, f"{end_y:,.0f}", OKABE_ITO[0], dy=-8)
    gap = goal - end_y
    if gap > 0:
        ax.annotate(
            "", (end_x, goal), xytext=(end_x, end_y), arrowprops={"arrowstyle": "<->", "color": "#333333", "lw": 1}
        )
        ax.annotate(
            f"{gap:,.0f} short",
            (end_x, (goal + end_y) / 2),
            xytext=(-6, 0),
            textcoords="offset points",
            ha="right",
            va="center",
            fontsize=9.5,
            fontweight="bold",
            color="#333333",
        )
    deadline_line(ax, deadline)
    ax.set_ylim(0, max(goal, float(cum["value"].max())) * 1.18)
    thousands(ax)
    ax.set_ylabel("Families turned around (cumulative)")
    years_axis(ax)
    if own:
        verdict = f"{gap:,.0f} short of the target" if gap > 0 else "meeting the target"
        message = f"Turned-around families reach {end_y:,.0f} by {uk_month(deadline)}, {verdict}"
        sub = "Families in the stock when their key-worker intervention began, out of it at the end and for 6 months"
        if additional is not None:
            sub += (
                f";\nof them, {additional:,.0f} because of the programmes (the rest would have left the stock anyway)"
            )
        titled(fig, message, sub)
        finish(fig, meta, meta.spread("Line"))
    return fig


def draw(run, meta: ChartMeta, ax=None):
    """From a run directory (into ``ax`` if given: the brief's)."""
    summary = run.summary
    additional = summary.get("additional", {}).get("turned_around")
    return figure(
        run.table("targets"),
        meta,
        run.deadline,
        ax=ax,
        additional=None if additional is None else mean_of(additional),
        reached=mean_of(summary["target"]["count"]["turned_around"]),
    )
