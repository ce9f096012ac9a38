"""The run's figure 'programmes': (c) Each programme's places, families in a place and families waiting, by month, from the start date."""

from __future__ import annotations

import datetime as dt
import textwrap

import numpy as np

from flowsim.charts.common import (
    OKABE_ITO,
    ChartMeta,
    band,
    chart,
    finish,
    subplots,
    thousands,
    titled,
    years_axis,
)
from flowsim.charts.run.parts import (
    programme_name,
)
from flowsim.timeline import uk_month

#: The figure as the report lists it.
TITLE = "Programme places, occupancy and waiting lists"


def _programme_grid(names):
    n = len(names)
    cols = 3 if n > 4 else max(min(n, 2), 1)
    rows = int(np.ceil(n / cols))
    fig, axes = subplots(rows, cols, figsize=(3.3 * cols, 2.6 * rows + 0.5), squeeze=False, sharex=True)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, axes


@chart
def figure(table, meta: ChartMeta, start: dt.date | None = None, deadline: dt.date | None = None):
    """(c) Each programme's places, families in a place and families waiting, by month, from the start date."""
    if start is not None:
        table = table[table["date"] >= start]
    names = list(dict.fromkeys(table["programme"]))
    fig, axes = _programme_grid(names)
    peak = (0.0, None, None, None)
    for ax, name in zip(axes.flat, names, strict=False):
        mine = table[table["programme"] == name]
        for measure, colour, label in (
            ("capacity", "#000000", "places"),
            ("occupied", OKABE_ITO[0], "in a place"),
            ("waiting", OKABE_ITO[1], "waiting"),
        ):
            m = band(ax, "date", mine[mine["measure"] == measure], "value", colour=colour, label=label)
            if measure == "waiting" and len(m) and float(m.max()) > peak[0]:
                peak = (float(m.max()), m.idxmax(), ax, name)
        ax.set_title(textwrap.fill(programme_name(name), 40), fontsize=9.5, loc="left")
        thousands(ax)
        ax.set_ylim(bottom=0)
        ax.tick_params(labelsize=8)
        years_axis(ax)
    for ax in axes[:, 0]:
        ax.set_ylabel("Families at one time", fontsize=9)
    axes.flat[0].legend(loc="upper left", fontsize=7.5)
    message = "Programme places, families in them and families waiting"
    if peak[2] is not None and peak[0] > 0:
        value, when, ax, name = peak
        ax.annotate(
            f"{value:,.0f} waiting\n{uk_month(when)}",
            (when, value),
            xytext=(-8, -12),
            textcoords="offset points",
            ha="right",
            va="top",
            fontsize=8,
            fontweight="bold",
            color=OKABE_ITO[1],
        )
        owner = programme_name(name) + ("'" if programme_name(name).endswith("s") else "'s")
        message = f"{owner} waiting list peaks at {value:,.0f} families ({uk_month(when)})"
    fig.tight_layout()
    titled(
        fig,
        message,
        "Per programme, by month: places (families that can be supported at once), families in a place and "
        "families waiting;\neach panel has its own scale",
    )
    finish(fig, meta, meta.spread("Lines"))
    return fig


def draw(run, meta: ChartMeta, ax=None):
    """From a run directory."""
    return figure(run.table("programmes"), meta, run.start, run.deadline)
