"""Draw every chart of a run directory into ``<run dir>/charts/`` (PNG and SVG)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from flowsim.charts import figures
from flowsim.charts.common import ChartMeta, save

CHARTS = {
    "population": "Families at risk, in the flow group and in the stock",
    "turned_around": "Families turned around against the target",
    "programmes": "Programme capacity, occupancy and waiting lists",
    "waterfall": "Flows in and out of the stock by year and cause",
    "waiting": "Families waiting and the median wait",
    "money": "Payment by results: money paid and money at risk",
}


def read_tables(run_dir: Path) -> dict:
    """The run's tables as pandas DataFrames (dates as datetime.date)."""
    import pyarrow.parquet as pq

    return {
        name: pq.read_table(run_dir / f"{name}.parquet").to_pandas()
        for name in ("states", "flows", "programmes", "targets", "finance")
        if (run_dir / f"{name}.parquet").exists()
    }


def draw_run_charts(run_dir: Path) -> dict[str, list[Path]]:
    """Draw charts (a)-(e) for the run in ``run_dir``; return each chart's files."""
    manifest = json.loads((run_dir / "manifest.json").read_text())
    scenario = manifest["scenario"]
    meta = ChartMeta(
        manifest["scenario_name"], manifest["scenario_sha256"], manifest["replications"], manifest["flowsim_version"]
    )
    start = dt.date.fromisoformat(scenario["time"]["start"])
    deadline = dt.date.fromisoformat(scenario["time"]["deadline"])
    t = read_tables(run_dir)
    plt = figures.pyplot()
    made = {
        "population": figures.population(t["states"], meta, start, deadline),
        "turned_around": figures.turned_around(t["targets"], meta, deadline),
        "programmes": figures.programmes(t["programmes"], meta),
        "waterfall": figures.waterfall(t["flows"], t["states"], meta, start),
        "waiting": figures.waiting(t["programmes"], meta),
    }
    if "finance" in t:
        made["money"] = figures.money(t["finance"], meta)
    out = {}
    for name, fig in made.items():
        out[name] = save(fig, run_dir / "charts" / name)
        plt.close(fig)
    return out
