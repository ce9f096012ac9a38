"""The charts of a run directory: one function per chart, each taking tidy tables and returning a Figure.

Each chart's title states what it finds ("Turned-around families reach
27,200 by May 2015, 18,800 short of the target"); its subtitle says what it
shows. In the order a briefing argues:

(b) turned_around: families turned around against the target.
(a) population: the classifications (stock, flow group, troubled, at risk), with and without the programmes.
(h) results: what the programmes added, against what would have happened anyway.
(c) programmes: places, families in a place and families waiting, per programme.
(e) waiting: families waiting and the median wait, per programme.
(d) waterfall: flows in and out of the stock per financial year, by cause.
(i) problems: the prevalence of each problem over time.
(g) money: payment by results by financial year.
(j) programme_2012: the 2012 programme in England against the allocations.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

from flowsim.charts.common import (
    OKABE_ITO,
    ChartMeta,
    band,
    chart,
    end_label,
    finish,
    save,
    subplots,
    thousands,
    titled,
    years_axis,
)
from flowsim.measures import BY_KEY, TORNADO, used_in
from flowsim.scenario.registry import PROGRAMME_TITLES, parameter_label
from flowsim.timeline import financial_year, uk_month

#: Plain names of the classifications.
CLASS_NAMES = {
    "stock": "Stock: at risk, with a child or youth problem",
    "flow_group": "Flow group: at risk, drivers of child problems",
    "troubled": "Troubled families (2012 framework)",
    "at_risk": "At risk of social exclusion",
    "multiply_disadvantaged": "Multiply disadvantaged (5+ of 7)",
}


def problem_name(name: str) -> str:
    text = name.replace("_", " ").replace("asb", "ASB")
    return text[:1].upper() + text[1:]


def programme_name(name: str) -> str:
    return PROGRAMME_TITLES.get(name, name.replace("_", " ").capitalize())


def _mean(v) -> float:
    return float(v["mean"]) if isinstance(v, dict) else float(v)


def _deadline_line(ax, deadline: dt.date) -> None:
    ax.axvline(deadline, color="#333333", linestyle=":", linewidth=1)
    ax.annotate(
        f"deadline\n{uk_month(deadline)}",
        (deadline, 0.02),
        xycoords=("data", "axes fraction"),
        xytext=(-4, 0),
        textcoords="offset points",
        ha="right",
        va="bottom",
        fontsize=8,
        color="#333333",
    )


def _goal_line(ax, y: float, text: str, x0) -> None:
    """A dashed line at what was promised, labelled above its start."""
    ax.axhline(y, color=OKABE_ITO[1], linestyle="--", linewidth=1.2)
    ax.annotate(
        text, (x0, y), xytext=(2, 4), textcoords="offset points", fontsize=9, color=OKABE_ITO[1], fontweight="bold"
    )


@chart
def turned_around(
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
    _goal_line(ax, goal, f"target: {goal:,.0f} families", mean.index[0])
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
    _deadline_line(ax, deadline)
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


def _classification_frame(classifications, start: dt.date):
    """Families in each classification by month, with a ``programmes`` column ("on" / "effects off")."""
    c = classifications[classifications["date"] >= start].copy()
    if "programmes" not in c:
        c["programmes"] = "on"
    return c


@chart
def population(states, meta: ChartMeta, start: dt.date, deadline: dt.date, classifications=None):
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


@chart
def results(summary: dict, meta: ChartMeta):
    """(h) What the programmes added: each measure split into what would have happened anyway and the rest."""
    add = summary["additional"]
    cf = add.get("counterfactual", {})
    rows = [("Families turned around\n(stock at start, out 6 months)", "turned_around")]
    rows.append(("2012 framework results\n(crime/ASB, education, work)", "framework_results"))
    if "results" in summary and summary["results"].get("counterfactual_claimed") is not None:
        rows.append(("Results claimed by councils\n(2012 programme)", None))
    fig, ax = subplots(figsize=(8, 1.3 + 1.0 * len(rows)))
    labels, anyway_v, extra_v = [], [], []
    for label, key in rows:
        if key is None:
            r = summary["results"]
            total, anyway = _mean(r["claimed"]), _mean(r["counterfactual_claimed"])
        else:
            extra = _mean(add[key])
            anyway = _mean(cf[key]) if key in cf else _mean(summary["target"]["count"][key]) - extra
            total = anyway + extra
        labels.append(label)
        anyway_v.append(anyway)
        extra_v.append(total - anyway)
    y = np.arange(len(rows))[::-1]
    ax.barh(y, anyway_v, color="#BBBBBB", height=0.6, label="would have happened anyway")
    ax.barh(y, extra_v, left=anyway_v, color=OKABE_ITO[2], height=0.6, label="because of the programmes")
    for yi, a, e in zip(y, anyway_v, extra_v, strict=True):
        share = e / (a + e) if a + e else 0.0
        ax.annotate(
            f"{a + e:,.0f}: {e:,.0f} additional ({share:.0%})",
            (a + e, yi),
            xytext=(5, 0),
            textcoords="offset points",
            va="center",
            fontsize=9,
            fontweight="bold",
            annotation_clip=False,
        )
    ax.set_yticks(y, labels, fontsize=9)
    ax.set_xlim(0, max(1.0, *(a + e for a, e in zip(anyway_v, extra_v, strict=True))) * 1.45)
    ax.xaxis.set_major_formatter(lambda v, _: f"{v:,.0f}")
    ax.grid(axis="y", visible=False)
    ax.grid(axis="x", visible=True)
    ax.legend(loc="lower right", fontsize=8.5)
    ta_extra, ta_total = extra_v[0], anyway_v[0] + extra_v[0]
    share = ta_extra / ta_total if ta_total else 0.0
    fig.tight_layout()
    titled(
        fig,
        f"Only {share:.0%} of the families turned around were turned around by the programmes",
        "Each result split by the paired run with every programme's effect off from the start date (same families, "
        "same random numbers)",
    )
    finish(fig, meta, "Bars: mean over replications." if meta.replications > 1 else "One replication.")
    return fig


def _programme_grid(names):
    n = len(names)
    cols = 3 if n > 4 else max(min(n, 2), 1)
    rows = int(np.ceil(n / cols))
    fig, axes = subplots(rows, cols, figsize=(3.3 * cols, 2.6 * rows + 0.5), squeeze=False, sharex=True)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, axes


@chart
def programmes(table, meta: ChartMeta, start: dt.date | None = None, deadline: dt.date | None = None):
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
        ax.set_title(programme_name(name), fontsize=9.5, loc="left")
        thousands(ax)
        ax.set_ylim(bottom=0)
        years_axis(ax)
        ax.tick_params(labelsize=8)
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
        message = f"{programme_name(name)}'s waiting list peaks at {value:,.0f} families ({uk_month(when)})"
    fig.tight_layout()
    titled(
        fig,
        message,
        "Per programme, by month: places (families that can be supported at once), families in a place and "
        "families waiting;\neach panel has its own scale",
    )
    finish(fig, meta, meta.spread("Lines"))
    return fig


def _cause_groups(values, keep: int = 5):
    """The ``keep`` largest causes by size, the rest summed as "other causes" (no slivers)."""
    ordered = values.sort_values(ascending=False)
    top = ordered.iloc[:keep]
    rest = float(ordered.iloc[keep:].sum())
    out = list(top.items())
    if rest > 0:
        out.append(("other causes", rest))
    return out


@chart
def waterfall(flows, states, meta: ChartMeta, start: dt.date, end: dt.date | None = None, state: str = "S"):
    """(d) For each financial year: entries into the stock (up) and exits (down) by cause, and the net change."""
    n_reps = max(states["replication"].nunique(), 1)
    f = flows[flows["month"] >= start].copy()
    f["fy"] = [financial_year(d) for d in f["month"]]
    years = sorted(f["fy"].unique())
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
    labels = list(years)
    last_month = max(f["month"]) if len(f) else None
    if last_month is not None and (last_month.month != 3):
        labels[-1] = f"{years[-1]}\n(to {uk_month(last_month)})"
    ax.set_xticks(x, labels, fontsize=9)
    ax.axhline(0, color="#333333", linewidth=0.8)
    thousands(ax)
    ax.yaxis.set_major_formatter(lambda v, _: f"{abs(v):,.0f}")
    ax.set_ylabel("Families a year (in above, out below)")
    lim = max(total_in.max(), total_out.max()) * 1.2
    ax.set_ylim(-lim, lim)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7.5)
    s = states[(states["state"] == state) & (states["date"] >= start)].groupby("date")["families"].mean()
    fig.tight_layout()
    turnover = float(total_in.sum() + total_out.sum()) / 2 / max(len(years), 1)
    titled(
        fig,
        f"About {round(turnover, -2):,.0f} families a year enter the stock and as many leave; it changes by "
        f"{float(s.iloc[-1] - s.iloc[0]):+,.0f} in all".replace("-", "−"),
        "Families entering (left bars) and leaving (right bars, hatched) the stock in each financial year, by cause; "
        "net change in the box",
    )
    finish(fig, meta, "Mean over replications; the five largest causes each way, the rest as 'other causes'.")
    return fig


@chart
def waiting(table, meta: ChartMeta, start: dt.date | None = None):
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
    top.legend(loc="upper left", fontsize=8, ncol=2)
    bottom.set_ylabel("Median wait (weeks)")
    years_axis(bottom)
    fig.tight_layout()
    titled(
        fig,
        f"The longest queue is for {programme_name(biggest[1]).lower()}: up to {biggest[0]:,.0f} families wait",
        "Families waiting for each programme (top) and the median wait of those who started in each month (bottom)",
    )
    note = "A wait line breaks in months when nobody started."
    if never:
        note += " Nobody waited for: " + ", ".join(programme_name(n).lower() for n in never) + "."
    finish(fig, meta, f"{meta.spread('Lines')} {note}")
    return fig


@chart
def problems(table, meta: ChartMeta, start: dt.date, deadline: dt.date, families_total: float):
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
        ax.xaxis.set_major_locator(__import__("matplotlib.dates", fromlist=["YearLocator"]).YearLocator(5, month=4))
        if len(at):
            moves.append((float(at.iloc[-1] - at.iloc[0]), name))
    for k, ax in enumerate(axes.flat[: len(names)]):
        if k + cols >= len(names):  # nothing below it: it carries the year labels
            ax.xaxis.set_tick_params(labelbottom=True)
    fig.tight_layout()
    biggest = max(moves, key=lambda m: abs(m[0])) if moves else (0.0, "")
    message = f"Problems' prevalence barely moves after {uk_month(start)}"
    if abs(biggest[0]) >= 0.2:
        verb = "rises" if biggest[0] > 0 else "falls"
        change = f"{biggest[0]:+.1f}".replace("-", "−")
        message = f"{problem_name(biggest[1])} {verb} most after {uk_month(start)}: {change} percentage points"
    titled(
        fig,
        message,
        f"Share of families with children who have each problem, {uk_month(table['date'].min())} to "
        f"{uk_month(table['date'].max())}; grey line: the start date; each panel has its own scale",
    )
    finish(fig, meta, meta.spread("Lines"))
    return fig


@chart
def money(finance, meta: ChartMeta):
    """(g) Payment by results by financial year: attachment fees and results paid, and money still at risk."""
    by_year = finance.groupby("financial_year", sort=True)[
        ["attachment_paid_gbp", "results_paid_gbp", "money_at_risk_gbp"]
    ].mean()
    fig, ax = subplots(figsize=(8, 4.5))
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
    for xi, a, r in zip(x, by_year["attachment_paid_gbp"] / 1e6, by_year["results_paid_gbp"] / 1e6, strict=True):
        for dx, v in ((-0.2, a), (0.2, r)):
            if v > 0:
                text = f"{v:,.1f}" if v < 10 else f"{v:,.0f}"
                ax.annotate(text, (xi + dx, v), xytext=(0, 2), textcoords="offset points", ha="center", fontsize=8)
    ax.set_xticks(x, by_year.index)
    ax.set_ylabel("£ million")
    ax.legend(loc="upper right", fontsize=8.5)
    paid = float((by_year["attachment_paid_gbp"] + by_year["results_paid_gbp"]).sum()) / 1e6
    results_share = float(by_year["results_paid_gbp"].sum()) / 1e6 / paid if paid else 0.0
    titled(
        fig,
        f"£{paid:,.0f} million paid in all, {results_share:.0%} of it for results",
        "Payment by results by financial year: attachment fees, results payments and results money not yet earned",
    )
    finish(
        fig,
        meta,
        ("Mean over replications. " if meta.replications > 1 else "")
        + "Only the funded share (5/6) of attached families is paid for (seed 004).",
    )
    return fig


@chart
def programme_2012(table, summary: dict, meta: ChartMeta, deadline: dt.date):
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
    for quantity, label, colour in lines:
        rows = england[
            (england["quantity"] == quantity) & (england["route"] == ("results" if quantity == "claimed" else "all"))
        ]
        mean = band(ax, "date", rows, "value", colour=colour)
        ends.append((float(mean.iloc[-1]), label, colour, mean.index[-1]))
    ends.sort()
    last_y = -np.inf
    span = max(allocation, max(e[0] for e in ends)) * 1.18
    for y, label, colour, x in ends:  # labels at the lines' ends, nudged apart where they would overlap
        shown = max(y, last_y + 0.06 * span)
        end_label(ax, x, shown, f"{label}: {y:,.0f}", colour)
        last_y = shown
    _goal_line(ax, allocation, f"allocations: {allocation:,.0f} families", england["date"].min())
    _deadline_line(ax, deadline)
    ax.set_ylim(0, span)
    thousands(ax)
    ax.set_ylabel("Families (cumulative)")
    years_axis(ax)
    block = summary["programme_2012"]
    attached, claimed = _mean(block["attached"]), _mean(block["claimed"])
    additional = block.get("additional")
    message = (
        f"Councils attach {attached:,.0f} of {allocation:,.0f} allocated families and claim {claimed:,.0f} results"
    )
    if additional is not None:
        message += f", {_mean(additional):,.0f} of them additional"
    titled(
        fig,
        message,
        "The 2012 programme in England: families identified, eligible, attached and results claimed by "
        f"{uk_month(deadline)}\n(crime/ASB and education, or employment), cumulative, against the councils' allocations",
    )
    note = meta.spread("Lines") + " Additional: claimed less claimed with every programme's effect off (same seed)."
    finish(fig, meta, note)
    return fig


#: Each chart's name as the report lists it, in the order a briefing argues.
CHARTS = {
    "turned_around": "Families turned around against the target",
    "population": "The stock and the other groups, with and without the programmes",
    "results": "What the programmes added",
    "programmes": "Programme places, occupancy and waiting lists",
    "waiting": "Families waiting and the median wait",
    "waterfall": "Flows in and out of the stock by year and cause",
    "problems": "Problems' prevalence over time",
    "money": "Payment by results: money paid and money at risk",
    "programme_2012": "The 2012 programme: identified, attached and claimed against the allocations",
    "how_sure": "What would change the answer: the calibrated parameters that move it over the ensemble",
}


@chart
def how_sure(summary: dict, meta: ChartMeta, top: int = 8):
    """Tornado: each measure's most influential calibrated parameters over the ensemble (Spearman's rho)."""
    sens = summary["ensemble"]["sensitivity"]
    panels = [(m.key, m.label) for m in used_in(TORNADO) if m.key in sens["measures"]]
    if "target.count.met" not in sens["measures"] and "target.count.turned_around" in sens["measures"]:
        panels.insert(0, ("target.count.turned_around", BY_KEY["target.count.turned_around"].label))
    shown = {key for key, _ in panels}
    panels = [(key, label) for key, label in panels if BY_KEY[key].same_as not in shown]  # one name for one measure
    fig, axes = subplots(len(panels), 1, figsize=(8, (0.26 * top + 0.7) * len(panels) + 0.8), squeeze=False)
    null = sens["null_95"]
    for ax, (key, label) in zip(axes.flat, panels):
        rho = list(sens["measures"][key].items())[:top]
        y = np.arange(len(rho))[::-1]
        values = [v for _, v in rho]
        colours = [OKABE_ITO[1] if v > 0 else OKABE_ITO[0] for v in values]
        ax.barh(y, values, color=colours, height=0.65)
        ax.axvspan(-null, null, color="#e8e8e8", zorder=0, lw=0)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_yticks(y, [parameter_label(k) for k, _ in rho], fontsize=8)
        ax.set_xlim(-1, 1)
        ax.set_title(label, fontsize=9, loc="left")
        ax.grid(axis="y", visible=False)
        ax.tick_params(axis="x", labelsize=8)
    e = summary["ensemble"]
    fig.tight_layout()
    titled(
        fig,
        "What would change the answer: the calibrated parameters that move it",
        f"Spearman's rank correlation over {summary['replications']} runs ({e['sets']} parameter sets of the calibrated "
        f"ensemble).\nGrey: within chance (95%, |rho| < {null:.2f}). Orange raises the measure, blue lowers it.",
    )
    finish(fig, meta)
    return fig


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
    summary = run.summary
    additional = summary.get("additional", {}).get("turned_around")
    states = run.table("states")
    classes = run.table("classifications") if run.has("classifications") else None
    made = {
        "turned_around": turned_around(
            run.table("targets"),
            meta,
            run.deadline,
            additional=None if additional is None else _mean(additional),
            reached=_mean(summary["target"]["count"]["turned_around"]),
        ),
        "population": population(states, meta, run.start, run.deadline, classes),
    }
    if "additional" in summary:
        made["results"] = results(summary, meta)
    made["programmes"] = programmes(run.table("programmes"), meta, run.start, run.deadline)
    made["waiting"] = waiting(run.table("programmes"), meta, run.start)
    made["waterfall"] = waterfall(run.table("flows"), states, meta, run.start)
    if run.has("problems"):
        first = states[states["date"] == states["date"].min()]
        total = float(first[first["state"] != "left"]["families"].sum()) / max(first["replication"].nunique(), 1)
        made["problems"] = problems(run.table("problems"), meta, run.start, run.deadline, total)
    if run.has("finance"):
        made["money"] = money(run.table("finance"), meta)
    if run.has("programme_2012"):
        made["programme_2012"] = programme_2012(run.table("programme_2012"), summary, meta, run.deadline)
    if summary.get("ensemble", {}).get("sensitivity", {}).get("measures"):
        made["how_sure"] = how_sure(summary, meta)
    return {name: save(fig, run.path / "charts" / name) for name, fig in made.items()}
