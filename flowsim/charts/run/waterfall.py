"""The run's figure 'waterfall': (d) For each financial year: entries into the stock (up) and exits (down) by cause, and the net change."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np

from flowsim.charts.common import (
    ChartMeta,
    chart,
    finish,
    subplots,
    thousands,
    titled,
)
from flowsim.charts.run.parts import year_spans
from flowsim.timeline import financial_year, uk_month

#: The figure as the report lists it.
TITLE = "Flows in and out of the stock by year and cause"


def _cause_groups(values, keep: int = 5):
    """The ``keep`` largest causes by size, the rest summed as "other causes" (no slivers)."""
    ordered = values.sort_values(ascending=False)
    top = ordered.iloc[:keep]
    rest = float(ordered.iloc[keep:].sum())
    out = list(top.items())
    if rest > 0:
        out.append(("other causes", rest))
    return out


def about(value: float) -> float:
    """``value`` to two significant figures (74,321 -> 74,000; 297 -> 300), never to a coarser unit than 1."""
    if value == 0:
        return 0.0
    return float(round(value, min(1 - math.floor(math.log10(abs(value))), 0)))


def _years_text(years: list[str]) -> str:
    return years[0] if len(years) == 1 else f"{years[0]} to {years[-1]}"


@chart
def figure(flows, states, meta: ChartMeta, start: dt.date, end: dt.date | None = None, state: str = "S"):
    """(d) For each financial year: entries into the stock (up) and exits (down) by cause, and the net change.

    ``end``: the run's last day (``time.end``); without it, the end of the last month in ``flows``.
    """
    n_reps = max(states["replication"].nunique(), 1)
    f = flows[flows["month"] >= start].copy()
    f["fy"] = [financial_year(d) for d in f["month"]]
    years = sorted(f["fy"].unique())
    if end is None:
        last = max(f["month"])
        end = dt.date(last.year + last.month // 12, last.month % 12 + 1, 1) - dt.timedelta(days=1)
    ins = f[f["to_state"] == state].groupby("cause")["families"].sum() / n_reps
    outs = f[f["from_state"] == state].groupby("cause")["families"].sum() / n_reps
    f["cause"] = f["cause"].str.replace("asb", "ASB")
    ins.index = ins.index.str.replace("asb", "ASB")
    outs.index = outs.index.str.replace("asb", "ASB")
    in_causes = [c for c, _ in _cause_groups(ins)]
    out_causes = [c for c, _ in _cause_groups(outs)]

    def by_year(direction, causes):
        sel = f[f["to_state" if direction == "in" else "from_state"] == state]
        table = sel.groupby(["fy", "cause"])["families"].sum().unstack(fill_value=0) / n_reps
        table = table.reindex(index=years, fill_value=0)
        named = [c for c in causes if c != "other causes"]
        out = table.reindex(columns=named, fill_value=0)
        out["other causes"] = table.drop(columns=named, errors="ignore").sum(axis=1)
        return out[[c for c in causes]] if "other causes" in causes else out[named]

    up, down = by_year("in", in_causes), by_year("out", out_causes)
    fig, ax = subplots(figsize=(9, 5.2))
    x = np.arange(len(years))
    greens = ["#009E73", "#56B4E9", "#0072B2", "#CC79A7", "#E69F00", "#999999"]
    reds = ["#D55E00", "#E69F00", "#CC79A7", "#F0E442", "#56B4E9", "#999999"]
    base = np.zeros(len(years))
    for colour, cause in zip(greens, up.columns, strict=False):
        ax.bar(x - 0.2, up[cause].to_numpy(), 0.38, bottom=base, color=colour, label=f"in: {cause}")
        base += up[cause].to_numpy()
    total_in = base.copy()
    base = np.zeros(len(years))
    for colour, cause in zip(reds, down.columns, strict=False):
        ax.bar(x + 0.2, -down[cause].to_numpy(), 0.38, bottom=-base, color=colour, label=f"out: {cause}", hatch="//")
        base += down[cause].to_numpy()
    total_out = base.copy()
    for xi, a, b in zip(x, total_in, total_out, strict=True):
        ax.annotate(f"+{a:,.0f}", (xi - 0.2, a), xytext=(0, 2), textcoords="offset points", ha="center", fontsize=8)
        ax.annotate(
            f"−{b:,.0f}", (xi + 0.2, -b), xytext=(0, -2), textcoords="offset points", ha="center", va="top", fontsize=8
        )
        net = a - b
        ax.annotate(
            f"net {net:+,.0f}".replace("-", "−"),
            (xi, 0),
            xytext=(0, 0),
            textcoords="offset points",
            ha="center",
            va="center",
            fontsize=8.5,
            fontweight="bold",
            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "#333333", "lw": 0.6},
        )
    spans = year_spans(years, start, end)
    ax.set_xticks(x, [label for label, _ in spans], fontsize=9)
    ax.axhline(0, color="#333333", linewidth=0.8)
    thousands(ax)
    ax.yaxis.set_major_formatter(lambda v, _: f"{abs(v):,.0f}")
    ax.set_ylabel("Families a year (in above, out below)")
    lim = max(total_in.max(), total_out.max()) * 1.2
    ax.set_ylim(-lim, lim)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7.5)
    fig.tight_layout()
    full = np.array([whole for _, whole in spans], bool)
    change = f"{float((total_in - total_out).sum()):+,.0f}".replace("-", "−")
    shown = f"it changes by {change} by {uk_month(end)}"
    since = f"change from {uk_month(start)} to {uk_month(end)}"
    if full.any():
        enter, leave = about(float(total_in[full].mean())), about(float(total_out[full].mean()))
        leaving = "as many leave" if enter == leave else f"{leave:,.0f} leave"
        message = f"About {enter:,.0f} families a year enter the stock, {leaving}; {shown}"
        whole = [y for y, keep in zip(years, full, strict=True) if keep]
        left_out = " (part years left out)" if len(whole) < len(years) else ""
        if len(whole) > 1:
            what = f"mean of the full financial years {_years_text(whole)}{left_out}"
        else:
            what = f"the one full financial year, {whole[0]}{left_out}"
    else:
        enter, leave = about(float(total_in.sum())), about(float(total_out.sum()))
        message = f"About {enter:,.0f} families enter the stock, {leave:,.0f} leave; {shown}"
        what = "totals (no financial year is complete)"
    titled(
        fig,
        message,
        "Families entering (left bars) and leaving (right bars, hatched) the stock in each financial year, by cause; "
        f"net change in the box;\ntitle: {what}; {since}",
    )
    mean = "Mean over replications; the" if meta.replications > 1 else "The"
    finish(fig, meta, f"{mean} five largest causes each way, the rest as 'other causes'.")
    return fig


def draw(run, meta: ChartMeta, ax=None):
    """From a run directory."""
    end = dt.date.fromisoformat(run.scenario["time"]["end"])
    return figure(run.table("flows"), run.table("states"), meta, run.start, end)
