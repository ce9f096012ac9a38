"""What several of a run's figures draw: plain names, the deadline and the target's lines."""

from __future__ import annotations

import datetime as dt

from flowsim.charts.common import OKABE_ITO
from flowsim.scenario.registry import PROGRAMME_TITLES
from flowsim.timeline import uk_month

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
