"""Calibration charts: each target's fit as a z-score with its interval, and the path of the objective."""

from __future__ import annotations

import numpy as np

from flowsim.charts.common import OKABE_ITO, chart, subplots


@chart
def fit(names: list[str], z: list[float], lo_z: list[float], hi_z: list[float], unfitted: tuple[str, ...] = ()):
    """Each target's (simulated - target) / tolerance, with its 95% interval over replications.

    Targets in ``unfitted`` (predictions no parameter was moved to meet) are drawn hollow, in another colour.
    """
    fig, ax = subplots(figsize=(7, 0.3 * len(names) + 1.8))
    y = np.arange(len(names))[::-1]
    ax.axvspan(-1, 1, facecolor="#e4e4e4", edgecolor="#bbbbbb", lw=0.6, label="within tolerance (1 sd)")
    z, lo_z, hi_z = (np.asarray(v, float) for v in (z, lo_z, hi_z))
    free = np.array([n in unfitted for n in names], bool)
    for mask, colour, face, label in (
        (~free, OKABE_ITO[0], OKABE_ITO[0], "fitted target: simulated mean, 95% interval"),
        (free, OKABE_ITO[1], "white", "not fitted (a prediction)"),
    ):
        if mask.any():
            ax.errorbar(
                z[mask],
                y[mask],
                xerr=[z[mask] - lo_z[mask], hi_z[mask] - z[mask]],
                fmt="o",
                color=colour,
                markerfacecolor=face,
                capsize=3,
                label=label,
            )
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y, names)
    ax.set_ylim(-0.7, len(names) - 0.3)
    ax.set_xlabel("(simulated - target) / tolerance")
    ax.set_title("Each target, on seeds the fit never saw")
    ax.legend(loc="upper center", bbox_to_anchor=(0.35, -0.8 / (0.3 * len(names) + 1.8)), fontsize=8, frameon=False)
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
