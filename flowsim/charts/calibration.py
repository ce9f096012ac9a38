"""Calibration charts: each target's fit as a z-score with its interval, and the path of the objective."""

from __future__ import annotations

import numpy as np

from flowsim.charts.common import OKABE_ITO, chart, subplots


@chart
def fit(names: list[str], z: list[float], lo_z: list[float], hi_z: list[float]):
    """Each target's (simulated - target) / tolerance, with its 95% interval over replications."""
    fig, ax = subplots(figsize=(7, 0.5 * len(names) + 2.0))
    y = np.arange(len(names))[::-1]
    ax.axvspan(-1, 1, color="#dddddd", label="within tolerance")
    ax.errorbar(
        z,
        y,
        xerr=[np.subtract(z, lo_z), np.subtract(hi_z, z)],
        fmt="o",
        color=OKABE_ITO[0],
        capsize=3,
        label="simulated mean, 95% interval",
    )
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y, names)
    ax.set_xlabel("(simulated - target) / tolerance")
    ax.set_title("Calibration: simulated moments against the seed targets")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2, fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


@chart
def objective_path(objective: list[float]):
    """Every evaluation's objective (log scale) and the best so far."""
    fig, ax = subplots(figsize=(7, 3.5))
    x = np.arange(1, len(objective) + 1)
    ax.plot(x, objective, ".", ms=3, color="#999999", label="evaluation")
    ax.plot(x, np.minimum.accumulate(objective), color=OKABE_ITO[1], label="best so far")
    ax.set_yscale("log")
    ax.set_xlabel("evaluation")
    ax.set_ylabel("objective (sum of squared z-scores)")
    ax.set_title("Calibration: the path of the objective (Nelder-Mead)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
