"""The compare chart: two scenarios' target measures side by side."""

from __future__ import annotations

from flowsim.charts.common import OKABE_ITO, ChartMeta, chart, finish, subplots


@chart
def compare(summary_a: dict, summary_b: dict, meta: ChartMeta):
    """(f) Two scenarios' target measures side by side, with 95% intervals where there are replications."""
    fig, axes = subplots(1, 3, figsize=(10, 3.8))
    names = [summary_a["scenario"], summary_b["scenario"]]

    def val(summ, *keys):
        v = summ
        for k in keys:
            v = v[k]
        return (v["mean"], v["lo"], v["hi"]) if isinstance(v, dict) else (v, v, v)

    panels = [
        ("Families turned around\nby the deadline", ("target", "count", "turned_around"), "{:,.0f}"),
        ("Share of the start stock\nreached by key workers", ("target", "coverage", "share"), "{:.0%}"),
        ("Stock at the deadline", ("target", "prevalence", "stock_end"), "{:,.0f}"),
    ]
    for ax, (title, keys, fmt) in zip(axes, panels, strict=True):
        vals = [val(s, *keys) for s in (summary_a, summary_b)]
        means = [v[0] for v in vals]
        err = [[v[0] - v[1] for v in vals], [v[2] - v[0] for v in vals]]
        ax.bar([0, 1], means, color=OKABE_ITO[:2], yerr=err, capsize=4, width=0.6)
        for i, m in enumerate(means):
            ax.annotate(fmt.format(m), (i, m), xytext=(0, 3), textcoords="offset points", ha="center", fontsize=8)
        ax.set_xticks([0, 1], names, fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.yaxis.set_major_formatter(lambda v, _, f=fmt: f.format(v))
    goal = summary_a["target"]["count"]["target"]
    axes[0].axhline(goal, color="#333333", linestyle="--", linewidth=1)
    axes[0].annotate(f"target {goal:,.0f}", (1.4, goal), ha="right", va="bottom", fontsize=8)
    fig.suptitle("The two scenarios' target measures", x=0.01, ha="left", fontweight="bold")
    fig.tight_layout()
    finish(fig, meta, "Bars: mean over replications; whiskers: 95% intervals of the mean.")
    return fig
