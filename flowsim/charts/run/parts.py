"""What several of a run's figures draw: plain names, the deadline and the target's lines."""

from __future__ import annotations

import datetime as dt

from flowsim.charts.common import OKABE_ITO
from flowsim.scenario.registry import PROGRAMME_TITLES
from flowsim.timeline import uk_date, uk_month

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


def mean_of(v) -> float:
    return float(v["mean"]) if isinstance(v, dict) else float(v)


def deadline_line(ax, deadline: dt.date) -> None:
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


def goal_line(ax, y: float, text: str, x0) -> None:
    """A dashed line at what was promised, labelled above its start."""
    ax.axhline(y, color=OKABE_ITO[1], linestyle="--", linewidth=1.2)
    ax.annotate(
        text, (x0, y), xytext=(2, 4), textcoords="offset points", fontsize=9, color=OKABE_ITO[1], fontweight="bold"
    )


def year_spans(years: list[str], start: dt.date, end: dt.date) -> list[tuple[str, bool]]:
    """Each financial year's axis label and whether the run covers all of it (1 April to 31 March): a part year
    is labelled with where the run starts or ends in it: "2015-16", then "(to May 2015)" on a second line."""
    out = []
    for fy in years:
        first = int(fy[:4])
        begins, ends = dt.date(first, 4, 1), dt.date(first + 1, 3, 31)
        label, full = fy, True
        if start > begins:
            label, full = f"{label}\n(from {uk_month(start) if start.day == 1 else uk_date(start)})", False
        if end < ends:
            month_end = (end + dt.timedelta(days=1)).day == 1
            label, full = f"{label}\n(to {uk_month(end) if month_end else uk_date(end)})", False
        out.append((label, full))
    return out
