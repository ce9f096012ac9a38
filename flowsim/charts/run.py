"""The charts of a run directory: one function per chart, each taking tidy tables and returning a Figure.

(a) population: stock, flow group and families at risk over time.
(b) turned_around: cumulative families turned around against the target.
(c) programmes: capacity, occupancy and waiting list per programme.
(d) waterfall: flows in and out of the stock per financial year, by cause.
(e) waiting: families waiting and the median wait, per programme.
(f) money: payment by results by financial year.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

from flowsim.charts.common import OKABE_ITO, ChartMeta, band, chart, finish, save, subplots
from flowsim.timeline import financial_year


def _deadline_line(ax, deadline: dt.date) -> None:
    ax.axvline(deadline, color="#333333", linestyle=":", linewidth=1)
    ax.annotate(
        f"deadline {deadline:%b %Y}",
        (deadline, 1),
        xycoords=("data", "axes fraction"),
        xytext=(-4, -4),
        textcoords="offset points",
        ha="right",
        va="top",
        fontsize=8,
        color="#333333",
    )


@chart
def population(states, meta: ChartMeta, start: dt.date, deadline: dt.date, ax=None):
    """(a) Families at risk, in the flow group and in the stock, by month, with the start stock and the deadline."""
    fig, ax = subplots() if ax is None else (ax.figure, ax)
    s = states[states["date"] >= start]
    at_risk = s[s["state"].isin(["R", "H", "S"])].groupby(["replication", "date"], as_index=False)["families"].sum()
    band(ax, "date", at_risk, "families", colour=OKABE_ITO[5], label="at risk of social exclusion (R, H, S)")
    band(ax, "date", s[s["state"] == "H"], "families", colour=OKABE_ITO[4], label="flow group: at greatest risk (H)")
    stock = band(
        ax,
        "date",
        s[s["state"] == "S"],
        "families",
        colour=OKABE_ITO[1],
        label="stock: multiple and child/youth problems (S)",
    )
    start_stock = float(stock.iloc[0])
    ax.axhline(start_stock, color=OKABE_ITO[1], linestyle="--", linewidth=1)
    ax.annotate(
        f"stock at the start: {start_stock:,.0f}",
        (s["date"].min(), start_stock),
        xytext=(4, 4),
        textcoords="offset points",
        fontsize=8,
        color=OKABE_ITO[1],
    )
    _deadline_line(ax, deadline)
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:,.0f}")
    ax.set_title("Families at risk, in the flow group and in the stock")
    ax.set_xlabel("Month")
    ax.set_ylabel("Families")
    ax.legend(loc="center right")
    finish(fig, meta, "Lines: mean over replications; bands: 95% of replications.")
    return fig


@chart
def turned_around(targets, meta: ChartMeta, deadline: dt.date, ax=None):
    """(b) Cumulative families turned around against the target, with the replication band."""
    fig, ax = subplots() if ax is None else (ax.figure, ax)
    cum = targets[targets["measure"] == "turned_around_cumulative"]
    band(ax, "date", cum, "value", colour=OKABE_ITO[0], label="families turned around (cumulative)")
    goal = float(targets.loc[targets["measure"] == "target", "value"].iloc[0])
    ax.axhline(goal, color=OKABE_ITO[1], linestyle="--", linewidth=1.2, label=f"target: {goal:,.0f} families")
    _deadline_line(ax, deadline)
    ax.set_ylim(0, max(goal, float(cum["value"].max())) * 1.08)
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:,.0f}")
    ax.set_title("Families turned around since April 2010, against the target")
    ax.set_xlabel("Month")
    ax.set_ylabel("Families (cumulative)")
    ax.legend(loc="upper left")
    finish(fig, meta, "Line: mean over replications; band: 95% of replications.")
    return fig


def _programme_grid(names):
    n = len(names)
    cols = 3 if n > 4 else max(n, 1)
    rows = int(np.ceil(n / cols))
    fig, axes = subplots(rows, cols, figsize=(4 * cols, 2.8 * rows), squeeze=False, sharex=True)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, axes.flat


@chart
def programmes(table, meta: ChartMeta, titles: dict[str, str] | None = None):
    """(c) Each programme's places, families in a place and families waiting, by month."""
    names = list(dict.fromkeys(table["programme"]))
    fig, axes = _programme_grid(names)
    for ax, name in zip(axes, names, strict=False):
        mine = table[table["programme"] == name]
        for measure, colour, label in (
            ("capacity", "#000000", "places"),
            ("occupied", OKABE_ITO[0], "in a place"),
            ("waiting", OKABE_ITO[1], "waiting"),
        ):
            band(ax, "date", mine[mine["measure"] == measure], "value", colour=colour, label=label)
        ax.set_title((titles or {}).get(name, name.replace("_", " ")), fontsize=10)
        ax.yaxis.set_major_formatter(lambda v, _: f"{v:,.0f}")
        ax.set_ylim(bottom=0)
    axes[0].set_ylabel("Families")
    axes[0].legend(loc="upper left", fontsize=8)
    fig.suptitle("Programme capacity, occupancy and waiting lists", x=0.01, ha="left", fontweight="bold")
    fig.supxlabel("Month", fontsize=10)
    fig.tight_layout()
    finish(fig, meta, "Mean over replications by month; bands: 95% of replications.")
    return fig


@chart
def waterfall(flows, states, meta: ChartMeta, start: dt.date, state: str = "S"):
    """(d) For each financial year: the stock at its start, entries and exits by cause, and the stock at its end."""
    n_reps = states["replication"].nunique()
    f = flows[flows["month"] >= start].copy()
    f["fy"] = [financial_year(d) for d in f["month"]]
    years = sorted(f["fy"].unique())
    s = states[(states["state"] == state) & (states["date"] >= start)]
    fig, axes = subplots(1, len(years), figsize=(2.6 * len(years) + 1, 4.5), sharey=True, squeeze=False)
    for ax, fy in zip(axes[0], years, strict=True):
        first = dt.date(int(fy[:4]), 4, 1)
        level = float(s.loc[s["date"] == first, "families"].sum()) / n_reps if (s["date"] == first).any() else 0.0
        mine = f[f["fy"] == fy]
        ins = mine[mine["to_state"] == state].groupby("cause")["families"].sum() / n_reps
        outs = mine[mine["from_state"] == state].groupby("cause")["families"].sum() / n_reps
        bars = [("start", level, level, "#777777")]
        running = level
        for cause, v in ins.items():
            bars.append((f"+ {cause}", v, running + v, OKABE_ITO[2]))
            running += v
        for cause, v in outs.items():
            bars.append((f"− {cause}", -v, running - v, OKABE_ITO[1]))
            running -= v
        bars.append(("end", running, running, "#333333"))
        for i, (label, delta, top, colour) in enumerate(bars):
            bottom = 0 if label in ("start", "end") else top - delta if delta > 0 else top
            height = top if label in ("start", "end") else abs(delta)
            ax.bar(i, height, bottom=bottom, color=colour, width=0.75)
        ax.set_xticks(range(len(bars)), [b[0] for b in bars], rotation=90, fontsize=7.5)
        ax.set_title(fy, fontsize=10)
        ax.yaxis.set_major_formatter(lambda v, _: f"{v:,.0f}")
    axes[0][0].set_ylabel("Families in the stock")
    fig.suptitle("Flows in and out of the stock by financial year and cause", x=0.01, ha="left", fontweight="bold")
    fig.tight_layout()
    finish(
        fig,
        meta,
        "Start + entries − exits = end; mean over replications. A year cut short by the run's end shows part-year flows.",
    )
    return fig


@chart
def waiting(table, meta: ChartMeta):
    """(e) Families waiting for each programme, and the median wait of those starting each month (weeks)."""
    fig, (top, bottom) = subplots(2, 1, figsize=(8, 6.5), sharex=True)
    names = list(dict.fromkeys(table["programme"]))
    for colour, name in zip(OKABE_ITO, names, strict=False):
        mine = table[table["programme"] == name]
        band(top, "date", mine[mine["measure"] == "waiting"], "value", colour=colour, label=name.replace("_", " "))
        wait = mine[mine["measure"] == "median_wait_years"].copy()
        wait["weeks"] = wait["value"] * 52.18
        band(bottom, "date", wait, "weeks", colour=colour)
    top.set_title("Families waiting, and how long they wait")
    top.set_ylabel("Families waiting")
    top.yaxis.set_major_formatter(lambda v, _: f"{v:,.0f}")
    top.legend(loc="upper left", fontsize=8, ncol=2)
    bottom.set_ylabel("Median wait (weeks)")
    bottom.set_xlabel("Month")
    fig.tight_layout()
    finish(fig, meta, "Median wait of the families starting in each month; mean over replications.")
    return fig


@chart
def money(finance, meta: ChartMeta):
    """(g) Payment by results by financial year: attachment fees and results paid, and money still at risk."""
    by_year = finance.groupby("financial_year", sort=True)[
        ["attachment_paid_gbp", "results_paid_gbp", "money_at_risk_gbp"]
    ].mean()
    fig, ax = subplots()
    x = np.arange(len(by_year))
    ax.bar(x - 0.2, by_year["attachment_paid_gbp"] / 1e6, width=0.4, color=OKABE_ITO[0], label="attachment fees paid")
    ax.bar(x + 0.2, by_year["results_paid_gbp"] / 1e6, width=0.4, color=OKABE_ITO[2], label="results payments")
    ax.plot(
        x,
        by_year["money_at_risk_gbp"] / 1e6,
        color=OKABE_ITO[1],
        marker="o",
        label="results money not yet earned (at the year's end)",
    )
    ax.set_xticks(x, by_year.index)
    ax.set_xlabel("Financial year")
    ax.set_ylabel("£ million")
    ax.set_title("Payment by results: money paid and money at risk")
    ax.legend(loc="upper right")
    finish(
        fig, meta, "Mean over replications. Only the funded share (5/6) of attached families is paid for (seed 004)."
    )
    return fig


CHARTS = {
    "population": "Families at risk, in the flow group and in the stock",
    "turned_around": "Families turned around against the target",
    "programmes": "Programme capacity, occupancy and waiting lists",
    "waterfall": "Flows in and out of the stock by year and cause",
    "waiting": "Families waiting and the median wait",
    "money": "Payment by results: money paid and money at risk",
}


def run_meta(run) -> ChartMeta:
    """The footnote's provenance of a :class:`~flowsim.rundir.RunDirectory`."""
    m = run.manifest
    return ChartMeta(m["scenario_name"], m["scenario_sha256"], m["replications"], m["flowsim_version"])


def draw_run_charts(run) -> dict[str, list[Path]]:
    """Draw every chart of a run directory into its ``charts/`` (PNG and SVG); return each chart's files.

    Args:
        run: a :class:`~flowsim.rundir.RunDirectory` (or its path).
    """
    from flowsim.rundir import RunDirectory

    run = run if isinstance(run, RunDirectory) else RunDirectory(run)
    meta = run_meta(run)
    made = {
        "population": population(run.table("states"), meta, run.start, run.deadline),
        "turned_around": turned_around(run.table("targets"), meta, run.deadline),
        "programmes": programmes(run.table("programmes"), meta),
        "waterfall": waterfall(run.table("flows"), run.table("states"), meta, run.start),
        "waiting": waiting(run.table("programmes"), meta),
    }
    if run.has("finance"):
        made["money"] = money(run.table("finance"), meta)
    return {name: save(fig, run.path / "charts" / name) for name, fig in made.items()}
