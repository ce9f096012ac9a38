"""The run's answer as plain text, for the terminal: the lines under the headline."""

from __future__ import annotations

from flowsim.measures import format_inline as _fmt


def details(summary: dict) -> list[str]:
    """Coverage, prevalence, survey moments, payment by results and the scale, one line each."""
    t, m = summary["target"], summary["moments"]
    lines = [
        f"  coverage: {_fmt(t['coverage']['share'], '.0%')} of the families in the stock at the start "
        "received key-worker intervention",
        f"  prevalence: stock {_fmt(t['prevalence']['stock_start'], ',.0f')} at the start, "
        f"{_fmt(t['prevalence']['stock_end'], ',.0f')} at the deadline",
        f"  survey moments: {_fmt(m['at_risk'], ',.0f')} at risk, {_fmt(m['persistence_1y'], '.0%')} still at "
        f"risk a year on, {_fmt(m['persistent_4_of_6'], ',.0f')} at risk in 4+ of 6 waves, "
        f"stock {_fmt(m['stock'], ',.0f')}, flow group {_fmt(m['flow_group'], ',.0f')}",
    ]
    if "results" in summary:
        r = summary["results"]
        paid = sum((row["attachment_paid_gbp"] or 0) + (row["results_paid_gbp"] or 0) for row in summary["finance"])
        lines.append(
            f"  payment by results: {_fmt(r['attached'], ',.0f')} families attached, "
            f"{_fmt(r['claimed'], ',.0f')} results claimed by the deadline, of which "
            f"{_fmt(r['additional'], ',.0f')} additional (deadweight {_fmt(r['deadweight_share'], '.0%')}); "
            f"£{paid:,.0f} paid"
        )
    if summary["scale"] != 1:
        lines.append(f"  (population.scale = {summary['scale']:g}: counts are for the simulated share of England)")
    return lines
