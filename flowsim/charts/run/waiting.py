"""The run's figure 'waiting': (e) Families waiting for each programme, and the median wait of those starting each month (weeks)."""

from __future__ import annotations

import datetime as dt

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

#: The figure as the report lists it.
TITLE = "Families waiting and the median wait"


@chart
def figure(table, meta: ChartMeta, start: dt.date | None = None):
    """(e) Families waiting for each programme, and the median wait of those starting each month (weeks)."""
    if start is not None:
        table = table[table["date"] >= start]
    fig, (top, bottom) = subplots(2, 1, figsize=(8, 6.5), sharex=True)
    names = [
        n
        for n in dict.fromkeys(table["programme"])
        if table[(table["programme"] == n) & (table["measure"] == "waiting")]["value"].max() > 0
    ]
    never = [n for n in dict.fromkeys(table["programme"]) if n not in names]
    palette = [OKABE_ITO[i] for i in (0, 1, 2, 3, 4, 7)]
    biggest = (0.0, "")
    for colour, name in zip(palette, names, strict=False):
        mine = table[table["programme"] == name]
        m = band(top, "date", mine[mine["measure"] == "waiting"], "value", colour=colour, label=programme_name(name))
        if float(m.max()) > biggest[0]:
            biggest = (float(m.max()), name)
        wait = mine[mine["measure"] == "median_wait_years"].copy()
        wait["weeks"] = wait["value"] * 52.18
        band(bottom, "date", wait, "weeks", colour=colour)
    top.set_ylabel("Families waiting")
    thousands(top)
    rows = (len(names) + 1) // 2
    top.set_ylim(top=max(biggest[0], 1.0) * (1.12 + 0.1 * rows))  # room for the legend above the lines
    top.legend(loc="upper left", fontsize=8, ncol=2)
    bottom.set_ylabel("Median wait (weeks)")
    years_axis(bottom)
    fig.tight_layout()
    message = f"Nobody waits for a place in any of the {len(never)} programmes"
    if biggest[0] > 0:
        message = (
            f"The longest queue is for {programme_name(biggest[1]).lower()}: up to {biggest[0]:,.0f} families wait"
        )
    titled(
        fig,
        message,
        "Families waiting for each programme (top) and the median wait of those who started in each month (bottom)",
    )
    note = "A wait line breaks in months when nobody started."
    if never:
        note += " Nobody waited for: " + ", ".join(programme_name(n).lower() for n in never) + "."
    finish(fig, meta, f"{meta.spread('Lines')} {note}")
    return fig


def draw(run, meta: ChartMeta, ax=None):
    """From a run directory."""
    return figure(run.table("programmes"), meta, run.start)
