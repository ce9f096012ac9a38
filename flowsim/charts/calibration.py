"""Calibration charts: each target's fit as a z-score with its interval, and the path of the objective."""

from __future__ import annotations

import numpy as np
from matplotlib.ticker import NullFormatter

from flowsim.charts.common import OKABE_ITO, chart, scale_note, subplots

#: What a calibration's counts are below full scale: England's, to compare with the targets.
SCALED_BACK = "simulated counts are scaled back to England to compare with the targets"


def _provenance(fig, scale: float, runs: str | None) -> None:
    """The scale (unless 1) and what runs the chart shows, as a grey footnote under the figure."""
    text = "\n".join(line for line in (scale_note(scale, SCALED_BACK), runs) if line)
    if text:
        fig.text(
            0.01, 0, text, ha="left", va="top", fontsize=7.5, color="#555555", transform=fig.transFigure, gid="footnote"
        )


@chart
def fit(
    names: list[str],
    z: list[float],
    lo_z: list[float],
    hi_z: list[float],
    unfitted: tuple[str, ...] = (),
    *,
    scale: float = 1.0,
    replications: int | None = None,
):
    """Each target's (simulated - target) / tolerance, with its 95% interval over replications.

    Targets in ``unfitted`` (predictions no parameter was moved to meet) are drawn hollow, in another colour.
    ``scale`` (the population scale the replications ran at) and ``replications`` (how many) are said in a
    footnote when given.
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
    runs = None
    if replications is not None:
        runs = f"Simulated: mean and 95% interval over {replications} replication{'s' if replications != 1 else ''}."
    _provenance(fig, scale, runs)
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


def _short(name: str) -> str:
    """A parameter's name as a chart label: its last two parts."""
    return ".".join(name.split(".")[-2:]) if name.count(".") > 1 else name


@chart
def ensemble_ranges(names: list[str], lo, hi, point, u, *, scale: float = 1.0):
    """Each parameter's 95% range over the ensemble on its prior's (log) scale, with the members and the point fit.

    ``scale``: the population scale the ensemble's runs simulated (said in a footnote unless 1)."""
    fig, ax = subplots(figsize=(7, 0.28 * len(names) + 1.6))
    y = np.arange(len(names))[::-1]
    ax.barh(
        y, np.ones(len(names)), left=0, height=0.7, color="#eeeeee", edgecolor="#cccccc", lw=0.5, label="prior range"
    )
    ax.barh(y, hi - lo, left=lo, height=0.7, color=OKABE_ITO[5], alpha=0.6, label="ensemble: 95% of members")
    for k in range(len(names)):
        ax.plot(u[:, k], np.full(len(u), y[k]), "|", color=OKABE_ITO[0], ms=4, alpha=0.25)
    ax.plot(point, y, "D", color=OKABE_ITO[1], ms=4, label="point fit")
    ax.set_yticks(y, [_short(n) for n in names], fontsize=7)
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.7, len(names) - 0.3)
    ax.set_xticks([0, 0.5, 1], ["low end", "middle", "high end"])
    ax.set_xlabel("where in its prior range (log scale)")
    ax.set_title("What the targets pin down:\neach parameter's range over the ensemble, within its prior", fontsize=10)
    ax.legend(
        loc="upper center", bbox_to_anchor=(0.45, -0.6 / (0.28 * len(names) + 1.6)), ncol=3, fontsize=8, frameon=False
    )
    fig.tight_layout()
    _provenance(fig, scale, f"{len(u)} ensemble members.")
    return fig


@chart
def ensemble_pairs(pairs: list[tuple], design, *, scale: float = 1.0):
    """Scatter plots of the ensemble's most correlated parameter pairs, in their own units (log axes).

    ``scale``: the population scale the ensemble's runs simulated (said in a footnote unless 1)."""
    cols = 3
    rows = max(1, (len(pairs) + cols - 1) // cols)
    fig, axes = subplots(rows, cols, figsize=(9, 3 * rows), squeeze=False)
    priors = {p.name: p for p in design.priors}
    for ax, (a, b, x, y, r) in zip(axes.flat, pairs):
        pa, pb = priors[a], priors[b]
        ax.plot([pa.value(v) for v in x], [pb.value(v) for v in y], ".", ms=3, color=OKABE_ITO[0], alpha=0.6)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(pa.lo, pa.hi)
        ax.set_ylim(pb.lo, pb.hi)
        ax.set_xlabel(_short(a), fontsize=8)
        ax.set_ylabel(_short(b), fontsize=8)
        ax.set_title(f"correlation {r:+.2f}", fontsize=9)
        ax.tick_params(labelsize=7, which="both")
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.yaxis.set_minor_formatter(NullFormatter())
    for ax in list(axes.flat)[len(pairs) :]:  # fewer pairs than panels
        ax.set_visible(False)
    fig.suptitle(
        "Parameters that trade off: the ensemble's most correlated pairs (each axis spans its prior)", fontsize=10
    )
    fig.tight_layout()
    _provenance(fig, scale, f"{len(pairs[0][2])} ensemble members." if pairs else None)
    return fig


@chart
def ensemble_fit(names: list[str], z: dict, unfitted: tuple[str, ...], cutoff: float, *, scale: float = 1.0):
    """Each target's spread over the ensemble, in total sds (sd, discrepancy and noise), against the cutoff.

    ``scale``: the population scale the ensemble's runs simulated (said in a footnote unless 1)."""
    fig, ax = subplots(figsize=(7, 0.3 * len(names) + 1.8))
    y = np.arange(len(names))[::-1]
    edge = 2.5 * cutoff  # beyond it a target's members are drawn at the edge, with their median written
    ax.axvspan(
        -cutoff,
        cutoff,
        facecolor="#eeeeee",
        edgecolor="#cccccc",
        lw=0.6,
        label=f"not ruled out (within {cutoff:g} total sds)",
    )
    ax.axvspan(-1, 1, facecolor="#dddddd", lw=0)
    for k, name in enumerate(names):
        v = np.asarray(z[name], float)
        v = v[np.isfinite(v)]
        colour = OKABE_ITO[1] if name in unfitted else OKABE_ITO[0]
        shown = np.clip(v, -edge, edge)
        ax.plot(shown, np.full(len(v), y[k]) + np.linspace(-0.25, 0.25, len(v)), ".", ms=2, color=colour, alpha=0.4)
        if len(v):
            q = np.quantile(v, [0.025, 0.5, 0.975])
            ax.plot(np.clip([q[0], q[2]], -edge, edge), [y[k], y[k]], color="black", lw=1)
            ax.plot(np.clip(q[1], -edge, edge), y[k], "o", color="black", ms=3)
            if abs(q[1]) > edge:
                ax.annotate(
                    f"median {q[1]:+.0f}",
                    (np.sign(q[1]) * edge, y[k]),
                    xytext=(-4 * np.sign(q[1]), 5),
                    textcoords="offset points",
                    ha="right" if q[1] > 0 else "left",
                    fontsize=7,
                )
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlim(-edge - 0.3, edge + 0.3)
    ax.set_yticks(y, [f"{n} (not fitted)" if n in unfitted else n for n in names], fontsize=7)
    ax.set_ylim(-0.7, len(names) - 0.3)
    ax.set_xlabel("(simulated - target) / total sd, each member on its own seed")
    ax.set_title("Every target over the ensemble: members (dots), median and 95% of members (black)", fontsize=10)
    ax.legend(loc="lower right", fontsize=7)
    fig.tight_layout()
    members = max((len(np.asarray(z[n])) for n in names), default=0)
    _provenance(fig, scale, f"{members} ensemble members, one replication each (each on its own seed).")
    return fig
