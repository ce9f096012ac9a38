"""The run's figure 'programme_2012': (j) The 2012 programme in England: families identified, eligible, attached and results claimed, cumulative,"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
from importlib import resources

import numpy as np

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

#: England's total allocation (DCLG 2012): published counts are scaled by the run's share of it.
NATIONAL_ALLOCATION = 117_910


def published_points() -> dict[str, list[tuple[dt.date, float]]]:
    """DCLG's published England counts (``flowsim/data/progress_2012_validation.csv``), never fitted to claims:
    families identified, worked with (attached) and turned around (results claimed), each at the end of its month
    ('2013-06/07': identified and worked with to June, turned around to July)."""
    text = resources.files("flowsim.data").joinpath("progress_2012_validation.csv").read_text(encoding="utf-8")
    out: dict[str, list[tuple[dt.date, float]]] = {"identified": [], "attached": [], "claimed": []}
    for row in csv.DictReader(text.splitlines()):
        if row["council"] != "ENGLAND":
            continue
        year, _, months = row["date"].partition("-")
        first, _, second = months.partition("/")

        def end(month: str, year: int = int(year)) -> dt.date:
            return dt.date(year, int(month), calendar.monthrange(year, int(month))[1])

        for column, quantity, month in (
            ("identified", "identified", first),
            ("worked_with", "attached", first),
            ("turned_around", "claimed", second or first),
        ):
            if row[column]:
                out[quantity].append((end(month), float(row[column])))
    return out


#: The figure as the report lists it.
TITLE = "The 2012 programme: identified, attached and claimed against the allocations"


@chart
def figure(table, summary: dict, meta: ChartMeta, deadline: dt.date):
    """(j) The 2012 programme in England: families identified, eligible, attached and results claimed, cumulative,
    against the allocations."""
    england = table[(table["council"] == "England") & (table["route"].isin(["all", "results"]))]
    fig, ax = subplots(figsize=(8, 4.5))
    allocation = float(england.loc[england["quantity"] == "allocation", "value"].max())
    lines = (
        ("identified", "identified", "#777777"),
        ("eligible", "eligible for payment by results", OKABE_ITO[0]),
        ("attached", "attached", OKABE_ITO[2]),
        ("claimed", "results claimed", OKABE_ITO[5]),
    )
    ends = []
    every_council = table["council"].nunique() > 2  # England's published counts compare with England's councils only
    share = allocation / NATIONAL_ALLOCATION
    points = published_points() if every_council else {}
    for quantity, label, colour in lines:
        rows = england[
            (england["quantity"] == quantity) & (england["route"] == ("results" if quantity == "claimed" else "all"))
        ]
        mean = band(ax, "date", rows, "value", colour=colour)
        ends.append((float(mean.iloc[-1]), label, colour, mean.index[-1]))
        for day, value in points.get(quantity, []):
            ax.plot(
                [np.datetime64(day)], [value * share], marker="o", markersize=5, color=colour, markeredgecolor="white"
            )
    ends.sort()
    last_y = -np.inf
    span = max(allocation, max(e[0] for e in ends)) * 1.18
    for y, label, colour, x in ends:  # labels at the lines' ends, nudged apart where they would overlap
        shown = max(y, last_y + 0.06 * span)
        end_label(ax, x, shown, f"{label}: {y:,.0f}", colour)
        last_y = shown
    goal_line(ax, allocation, f"allocations: {allocation:,.0f} families", england["date"].min())
    deadline_line(ax, deadline)
    ax.set_ylim(0, span)
    thousands(ax)
    ax.set_ylabel("Families (cumulative)")
    years_axis(ax)
    block = summary["programme_2012"]
    attached, claimed = mean_of(block["attached"]), mean_of(block["claimed"])
    additional = block.get("additional")
    message = (
        f"Councils attach {attached:,.0f} of {allocation:,.0f} allocated families and claim {claimed:,.0f} results"
    )
    if additional is not None:
        message += f", {mean_of(additional):,.0f} of them additional"
    titled(
        fig,
        message,
        "The 2012 programme in England: families identified, eligible, attached and results claimed by "
        f"{uk_month(deadline)}\n(crime/ASB and education, or employment), cumulative, against the councils' allocations",
    )
    note = meta.spread("Lines") + " Additional: claimed less claimed with every programme's effect off (same seed)."
    if points:
        note += (
            "\nDots: DCLG's published counts (identified, worked with, turned around), scaled to the run's allocation;"
            " the model is set from identification and attachment, never from claims."
        )
    finish(fig, meta, note)
    return fig


def draw(run, meta: ChartMeta, ax=None):
    """From a run directory; None without the 2012 programme's councils."""
    if not run.has("programme_2012"):
        return None
    return figure(run.table("programme_2012"), run.summary, meta, run.deadline)
