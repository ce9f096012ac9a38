"""The figures of a run directory: one module per figure, one signature, chosen by one table.

Every figure module has ``TITLE`` (how the report lists it) and ``draw(run, meta, ax=None) -> Figure | None``:
it reads what it shows from the :class:`~flowsim.rundir.RunDirectory` and returns None for a run that lacks it
(no payment by results, no ensemble). Each title states what the figure finds ("Turned-around families reach
27,200 by May 2015, 18,800 short of the target"); its subtitle says what it shows. :data:`FIGURES` lists them
in the order a briefing argues.
"""

from __future__ import annotations

from pathlib import Path

from flowsim.charts.common import ChartMeta, save
from flowsim.charts.run import (
    how_sure,
    money,
    population,
    problems,
    programme_2012,
    programmes,
    results,
    turned_around,
    waiting,
    waterfall,
)
from flowsim.rundir import RunDirectory

#: Every figure of a run, by name, in the order a briefing argues.
FIGURES = {
    "turned_around": turned_around,
    "population": population,
    "results": results,
    "programmes": programmes,
    "waiting": waiting,
    "waterfall": waterfall,
    "problems": problems,
    "money": money,
    "programme_2012": programme_2012,
    "how_sure": how_sure,
}
#: Each figure's name as the report lists it.
CHARTS = {name: module.TITLE for name, module in FIGURES.items()}


def run_meta(run: RunDirectory) -> ChartMeta:
    """The footnote's provenance of a run directory: its scenario, replications and population scale."""
    m = run.manifest
    scale = float(m.get("scenario", {}).get("population", {}).get("scale", 1.0))
    return ChartMeta(m["scenario_name"], m["scenario_sha256"], m["replications"], m["flowsim_version"], scale)


def draw_run_charts(run: RunDirectory | str | Path) -> dict[str, list[Path]]:
    """Draw every figure of a run directory into its ``charts/`` (PNG and SVG); return each figure's files."""
    run = run if isinstance(run, RunDirectory) else RunDirectory(run)
    meta = run_meta(run)
    drawn = {name: module.draw(run, meta) for name, module in FIGURES.items()}
    return {name: save(fig, run.path / "charts" / name) for name, fig in drawn.items() if fig is not None}
