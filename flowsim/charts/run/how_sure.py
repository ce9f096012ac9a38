"""The run's figure 'how_sure': Tornado: each measure's most influential calibrated parameters over the ensemble (Spearman's rho)."""

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
from flowsim.measures import BY_KEY, TORNADO, used_in
from flowsim.scenario.registry import parameter_label

#: The figure as the report lists it.
TITLE = "What would change the answer: the calibrated parameters that move it over the ensemble"


def _finding(sens: dict, key: str, label: str) -> str:
    """The title: the parameter that moves the first panel's measure most, if it moves it beyond chance."""
    rho = sens["measures"][key]
    name, value = max(rho.items(), key=lambda kv: abs(kv[1])) if rho else ("", 0.0)
    if abs(value) <= sens["null_95"]:
        return f"No calibrated parameter moves {label} beyond chance (|rho| at most {abs(value):.2f})"
    what = parameter_label(name)
    signed = f"{value:+.2f}".replace("-", "−")
    return f"{what[:1].upper() + what[1:]} moves {label} most (rho {signed})"


@chart
def figure(summary: dict, meta: ChartMeta, top: int = 8):
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
        _finding(sens, *panels[0]),
        f"Spearman's rank correlation over {summary['replications']} runs ({e['sets']} parameter sets of the calibrated "
        f"ensemble).\nGrey: within chance (95%, |rho| < {null:.2f}). Orange raises the measure, blue lowers it.",
    )
    finish(fig, meta)
    return fig


def draw(run, meta: ChartMeta, ax=None):
    """From a run directory; None unless it answered over the ensemble."""
    if not run.summary.get("ensemble", {}).get("sensitivity", {}).get("measures"):
        return None
    return figure(run.summary, meta)
