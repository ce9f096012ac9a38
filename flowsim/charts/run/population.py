"""The run's figure 'population': (a) The stock, the flow group, the troubled families and those at risk, each on its own scale, with the"""

from __future__ import annotations

import datetime as dt

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
    CLASS_NAMES,
)
from flowsim.timeline import uk_month

#: The figure as the report lists it.
TITLE = "The stock and the other groups, with and without the programmes"


def _classification_frame(classifications, start: dt.date):
    """Families in each classification by month, with a ``programmes`` column ("on" / "effects off")."""
    c = classifications[classifications["date"] >= start].copy()
    if "programmes" not in c:
        c["programmes"] = "on"
    return c


@chart
def figure(states, meta: ChartMeta, start: dt.date, deadline: dt.date, classifications=None):
    """(a) The stock, the flow group, the troubled families and those at risk, each on its own scale, with the
    programmes and (dashed) with their effects off from the start date."""
    frame = _classification_frame(classifications, start)
    # The month boundary after the (inclusive) deadline is where the summary reads the stock at the deadline.
    names = [n for n in ("stock", "flow_group", "troubled", "at_risk") if (frame["classification"] == n).any()]
    rows = int(np.ceil(len(names) / 2))
    fig, axes = subplots(rows, 2, figsize=(9, 3.1 * rows + 0.4), sharex=True, squeeze=False)
    for ax in axes.flat[len(names) :]:
        ax.set_visible(False)
    has_cf = (frame["programmes"] == "effects off").any()
    ends = {}
    for ax, name in zip(axes.flat, names, strict=False):
        mine = frame[frame["classification"] == name]
        on = band(ax, "date", mine[mine["programmes"] == "on"], "families", colour=OKABE_ITO[0])
        upto = on[[d <= deadline + dt.timedelta(days=1) for d in on.index]]
        first, last = float(upto.iloc[0]), float(upto.iloc[-1])
        ends[name] = (first, last)
        end_label(ax, upto.index[-1], last, f"{last:,.0f}", OKABE_ITO[0])
        if has_cf:
            off = band(ax, "date", mine[mine["programmes"] == "effects off"], "families", colour=OKABE_ITO[1])
            ax.lines[-1].set_linestyle("--")
            cf_last = float(off[[d <= deadline + dt.timedelta(days=1) for d in off.index]].iloc[-1])
            end_label(ax, upto.index[-1], cf_last, f"{cf_last:,.0f}", OKABE_ITO[1], dy=9 if cf_last > last else -9)
        ax.set_title(CLASS_NAMES.get(name, name), fontsize=9.5, loc="left")
        lo, hi = ax.get_ylim()
        pad = max((hi - lo) * 0.15, hi * 0.02)
        ax.set_ylim(lo - pad, hi + pad)
        thousands(ax)
        ax.axvline(deadline, color="#333333", linestyle=":", linewidth=1)
        years_axis(ax)
    for ax in axes[:, 0]:
        ax.set_ylabel("Families")
    for k, ax in enumerate(axes.flat[: len(names)]):
        if k + 2 >= len(names):  # nothing below it: it carries the year labels
            ax.xaxis.set_tick_params(labelbottom=True)
    first, last = ends.get("stock", (0.0, 0.0))
    message = f"The stock goes from {first:,.0f} to {last:,.0f} families by {uk_month(deadline)}"
    if has_cf:
        message = f"The stock by {uk_month(deadline)}: {last:,.0f} with the programmes"
        cf = frame[(frame["classification"] == "stock") & (frame["programmes"] == "effects off")]
        cf_mean = cf.groupby("date")["families"].mean()
        cf_last = float(cf_mean[[d <= deadline + dt.timedelta(days=1) for d in cf_mean.index]].iloc[-1])
        message += f", {cf_last:,.0f} without (from {first:,.0f} at the start)"
    fig.tight_layout()
    key = (
        "solid: with the programmes; dashed: their effects off from the start date" if has_cf else "with the programmes"
    )
    titled(fig, message, f"Families in each group at the start of each month ({key}); each panel has its own scale")
    finish(fig, meta, meta.spread("Lines") + " Dotted line: the deadline.")
    return fig


def draw(run, meta: ChartMeta, ax=None):
    """From a run directory; None for a run without its classifications' table."""
    if not run.has("classifications"):
        return None
    return figure(run.table("states"), meta, run.start, run.deadline, run.table("classifications"))
