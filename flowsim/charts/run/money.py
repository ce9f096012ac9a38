"""The run's figure 'money': (g) Payment by results by financial year: attachment fees and results paid, and money still at risk."""

from __future__ import annotations

import numpy as np

from flowsim.charts.common import (
    OKABE_ITO,
    ChartMeta,
    chart,
    finish,
    subplots,
    titled,
)

#: The figure as the report lists it.
TITLE = "Payment by results: money paid and money at risk"


@chart
def figure(finance, meta: ChartMeta):
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


def draw(run, meta: ChartMeta, ax=None):
    """From a run directory; None without payment by results."""
    return figure(run.table("finance"), meta) if run.has("finance") else None
