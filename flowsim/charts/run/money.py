"""The run's figure 'money': (g) Payment by results by financial year: attachment fees and results paid, and money still at risk."""

from __future__ import annotations

import datetime as dt

import numpy as np

from flowsim.charts.common import (
    OKABE_ITO,
    ChartMeta,
    chart,
    finish,
    subplots,
    titled,
)
from flowsim.charts.run.parts import year_spans

#: The figure as the report lists it.
TITLE = "Payment by results: money paid and money at risk"


@chart
def figure(finance, meta: ChartMeta, start: dt.date | None = None, end: dt.date | None = None):
    """(g) Payment by results by financial year: attachment fees and results paid, and money still at risk.

    ``start`` and ``end``: the run's first and last days, to label a financial year the run covers only part of.
    """
    by_year = finance.groupby("financial_year", sort=True)[
        ["attachment_paid_gbp", "results_paid_gbp", "money_at_risk_gbp"]
    ].mean()
    fig, ax = subplots(figsize=(8, 4.5))
    x = np.arange(len(by_year))
    ax.bar(x - 0.2, by_year["attachment_paid_gbp"] / 1e6, width=0.4, color=OKABE_ITO[0], label="attachment fees paid")
    ax.bar(x + 0.2, by_year["results_paid_gbp"] / 1e6, width=0.4, color=OKABE_ITO[2], label="results payments")
    spans = year_spans(list(by_year.index), start, end) if start and end else [(y, True) for y in by_year.index]
    part = not all(full for _, full in spans)
    ax.plot(
        x,
        by_year["money_at_risk_gbp"] / 1e6,
        color=OKABE_ITO[1],
        marker="o",
        label="results money not yet earned (at the year's end" + (", or the run's)" if part else ")"),
    )
    for xi, a, r in zip(x, by_year["attachment_paid_gbp"] / 1e6, by_year["results_paid_gbp"] / 1e6, strict=True):
        for dx, v in ((-0.2, a), (0.2, r)):
            if v > 0:
                text = f"{v:.2g}" if v < 0.1 else f"{v:,.1f}" if v < 10 else f"{v:,.0f}"
                ax.annotate(text, (xi + dx, v), xytext=(0, 2), textcoords="offset points", ha="center", fontsize=8)
    ax.set_xticks(x, [label for label, _ in spans])
    ax.set_ylabel("£ million")
    top = float(by_year[["attachment_paid_gbp", "results_paid_gbp", "money_at_risk_gbp"]].to_numpy().max()) / 1e6
    ax.set_ylim(0, max(top, 1e-6) * 1.4)  # room for the legend above the bars and the line
    ax.legend(loc="upper left", fontsize=8.5)
    paid = float((by_year["attachment_paid_gbp"] + by_year["results_paid_gbp"]).sum()) / 1e6
    results_share = float(by_year["results_paid_gbp"].sum()) / 1e6 / paid if paid else 0.0
    share = f" (for the simulated {meta.scale * 100:.3g}% of England)" if meta.scale < 1 else ""
    titled(
        fig,
        f"£{paid:,.{1 if paid < 10 else 0}f} million paid in all{share}, {results_share:.0%} of it for results",
        "Payment by results by financial year: attachment fees, results payments and results money not yet earned",
    )
    money = (
        " £ are paid for the simulated families, like the counts: not scaled back to England."
        if meta.scale != 1
        else ""
    )
    finish(
        fig,
        meta,
        ("Mean over replications. " if meta.replications > 1 else "")
        + "Only the funded share (5/6) of attached families is paid for (seed 004)."
        + money,
    )
    return fig


def draw(run, meta: ChartMeta, ax=None):
    """From a run directory; None without payment by results."""
    if not run.has("finance"):
        return None
    return figure(run.table("finance"), meta, run.start, dt.date.fromisoformat(run.scenario["time"]["end"]))
