"""brief.pdf: one page for a minister: the headline answer, chart (b) and four key numbers (what the programmes
caused, coverage, prevalence and cost), as selectable text."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

from flowsim.charts.common import figure, styled
from flowsim.charts.run import run_meta, turned_around
from flowsim.files import save_figure
from flowsim.measures import format_value
from flowsim.rundir import RunDirectory
from flowsim.text import cost_per_additional, millions_value
from flowsim.timeline import uk_date

#: The height of a line of text as a share of the A4 page's height: 1.2 x the font size in points, over 72 x 11.69.
_LINE_12 = 12.5 * 1.2 / 72 / 11.69
_LINE_11 = 11 * 1.2 / 72 / 11.69


def _num(v, pattern: str) -> tuple[str, str]:
    text, interval = format_value(v, pattern)
    return text, interval or ""


def write_brief(run: RunDirectory | Path) -> Path:
    """Write the run directory's ``brief.pdf`` (A4, one page)."""
    with styled():
        return _write_brief(run if isinstance(run, RunDirectory) else RunDirectory(run))


def _write_brief(run: RunDirectory) -> Path:
    from matplotlib.transforms import Bbox  # import time: matplotlib loads only when drawing

    summary, manifest = run.summary, run.manifest
    meta = run_meta(run)
    deadline = run.deadline
    fig = figure(figsize=(8.27, 11.69))
    fig.text(0.07, 0.95, "Troubled families: can the target be met?", fontsize=18, fontweight="bold", va="top")
    fig.text(
        0.07,
        0.915,
        f"Brief from flowsim, scenario '{meta.scenario}', {uk_date(dt.date.fromisoformat(manifest['started_at'][:10]))}",
        fontsize=10,
        color="#555555",
        va="top",
    )
    headline = textwrap.wrap(run.headline, 62)
    fig.text(0.07, 0.87, "\n".join(headline), fontsize=12.5, fontweight="bold", va="top", color="#0072B2")
    # The chart starts below the headline's last line (12.5 pt lines, 0.018 of the page each) and its own labels.
    top = min(0.78, 0.87 - len(headline) * _LINE_12 - 0.045)
    ax = fig.add_axes([0.16, 0.46, 0.7, top - 0.46])  # tick labels, y label and end labels stay inside the margins
    turned_around.draw(run, meta, ax=ax)
    t = summary["target"]
    goal = t["count"]["target"]
    add = summary.get("additional", {})
    numbers = [
        (
            _num(t["count"]["turned_around"], ",.0f"),
            f"families turned around by {uk_date(deadline)}, against a target of {goal:,.0f}",
        )
    ]
    if "turned_around" in add:  # what the programmes caused leads, with the count as the target counts it
        numbers = [
            (
                _num(add["turned_around"], "+,.0f"),
                f"families turned around because of the programmes by {uk_date(deadline)}; "
                f"{_num(t['count']['turned_around'], ',.0f')[0]} in all (the rest would have left the stock anyway), "
                f"against a target of {goal:,.0f}",
            )
        ]
    numbers += [
        (
            _num(t["coverage"]["share"], ".0%"),
            f"of the families in the stock on {uk_date(run.start)} received key-worker intervention",
        ),
        (
            _num(t["prevalence"]["stock_end"], ",.0f"),
            f"families in the stock at the deadline, against {_num(t['prevalence']['stock_start'], ',.0f')[0]} at the start",
        ),
    ]
    if "cost" in summary:
        each = cost_per_additional(summary)
        numbers.append(
            (
                millions_value(summary["cost"]["england_gbp"]),
                f"what the programmes cost in England from {uk_date(run.start)} to {uk_date(deadline)}"
                + (f": £{each:,.0f} for each family turned around because of them" if each is not None else ""),
            )
        )
    y = 0.37
    for (big, interval), words in numbers:
        lines = textwrap.wrap(words, 55)
        below = y - 0.004 - len(lines) * _LINE_11 - 0.003  # the interval goes under the words' last line
        fig.text(0.07, y, big, fontsize=24, fontweight="bold", va="top", color="#D55E00")
        fig.text(0.32, y - 0.004, "\n".join(lines), fontsize=11, va="top")
        if interval:
            fig.text(0.32, below, interval, fontsize=9, va="top", color="#555555")
        y -= max(0.072, y - below + 0.025)
    fig.text(
        0.07,
        0.04,
        "\n".join(
            textwrap.wrap(
                meta.footnote()
                + " Every parameter, its source and the full results are in report.html beside this file.",
                110,
            )
        ),
        fontsize=8,
        color="#555555",
        va="bottom",
    )
    path = run.path / "brief.pdf"
    return save_figure(fig, path, bbox_inches=Bbox([[0, 0], [8.27, 11.69]]))  # the whole A4 page
