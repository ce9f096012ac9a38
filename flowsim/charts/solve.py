"""The solve chart: the probability the target is met at each trial value, with its 95% interval, and the answer."""

from __future__ import annotations

from flowsim.charts.common import OKABE_ITO, ChartMeta, chart, finish, subplots, titled


@chart
def solve(doc: dict, meta: ChartMeta):
    """P(target met) against the varied parameter: a dot and Wilson interval per trial value (hollow where the
    interval still includes the probability asked for), the probability asked for, and the value found."""
    trials = doc["trials"]
    fig, ax = subplots(figsize=(8, 4.6))
    for t in trials:
        p = t["probability"]
        colour = (
            OKABE_ITO[2]
            if p["lo"] >= doc["probability"]
            else OKABE_ITO[1]
            if p["hi"] < doc["probability"]
            else "#777777"
        )
        ax.errorbar(
            [t["value"]],
            [p["mean"]],
            yerr=[[p["mean"] - p["lo"]], [p["hi"] - p["mean"]]],
            fmt="o",
            color=colour,
            mfc=colour if t["decided"] else "white",
            capsize=4,
            lw=1.6,
            ms=6,
        )
        ax.annotate(
            f"{t['replications']}",
            (t["value"], p["hi"]),
            xytext=(0, 4),
            textcoords="offset points",
            ha="center",
            fontsize=7.5,
            color="#555555",
        )
    ax.axhline(doc["probability"], color=OKABE_ITO[0], linestyle="--", linewidth=1.2)
    lo, hi = doc["range"]
    ax.annotate(
        f"asked for: P ≥ {doc['probability']:g}",
        (lo, doc["probability"]),
        xytext=(2, 4),
        textcoords="offset points",
        fontsize=8.5,
        color=OKABE_ITO[0],
    )
    if doc["answer"] is not None:
        ax.axvline(doc["answer"], color="#333333", linestyle=":", linewidth=1.2)
    ax.set_xlim(lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo))
    ax.set_ylim(-0.04, 1.08)
    ax.set_xlabel(doc["parameter"])
    ax.set_ylabel(f"P({doc['target']} target met)")
    fig.tight_layout()
    if doc["answer"] is None:
        message = f"Not reachable: even at {hi:g} the {doc['target']} target is met with P below {doc['probability']:g}"
    else:
        message = (
            f"{doc['parameter']} = {doc['answer']:.4g} meets the {doc['target']} target with P ≥ {doc['probability']:g}"
        )
        if not doc["decided"]:
            message += " (undecided)"
    titled(fig, message, "Probability the target is met at each trial value, with its 95% Wilson interval")
    finish(
        fig,
        meta,
        "Dots: share of runs meeting the target (number of runs above each); hollow: the interval still includes\n"
        "the probability asked for after the most replications the plan allows; dotted line: the value found.",
    )
    return fig
