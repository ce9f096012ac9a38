"""The run's figure 'results': (h) What the programmes added: each measure split into what would have happened anyway and the rest."""

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
from flowsim.charts.run.parts import (
    mean_of,
)

#: The figure as the report lists it.
TITLE = "What the programmes added"


@chart
def figure(summary: dict, meta: ChartMeta):
    """(h) What the programmes added: each measure split into what would have happened anyway and the rest."""
    add = summary["additional"]
    cf = add.get("counterfactual", {})
    rows = [("Families turned around\n(stock at start, out 6 months)", "turned_around")]
    rows.append(("2012 framework results\n(crime/ASB, education, work)", "framework_results"))
    if "results" in summary and summary["results"].get("counterfactual_claimed") is not None:
        rows.append(("Results claimed by councils\n(2012 programme)", None))
    fig, ax = subplots(figsize=(8, 1.3 + 1.0 * len(rows)))
    labels, anyway_v, extra_v = [], [], []
    for label, key in rows:
        if key is None:
            r = summary["results"]
            total, anyway = mean_of(r["claimed"]), mean_of(r["counterfactual_claimed"])
        else:
            extra = mean_of(add[key])
            anyway = mean_of(cf[key]) if key in cf else mean_of(summary["target"]["count"][key]) - extra
            total = anyway + extra
        labels.append(label)
        anyway_v.append(anyway)
        extra_v.append(total - anyway)
    y = np.arange(len(rows))[::-1]
    ax.barh(y, anyway_v, color="#BBBBBB", height=0.6, label="would have happened anyway")
    ax.barh(y, extra_v, left=anyway_v, color=OKABE_ITO[2], height=0.6, label="because of the programmes")
    for yi, a, e in zip(y, anyway_v, extra_v, strict=True):
        share = e / (a + e) if a + e else 0.0
        ax.annotate(
            f"{a + e:,.0f}: {e:,.0f} additional ({share:.0%})",
            (a + e, yi),
            xytext=(5, 0),
            textcoords="offset points",
            va="center",
            fontsize=9,
            fontweight="bold",
            annotation_clip=False,
        )
    ax.set_yticks(y, labels, fontsize=9)
    ax.set_xlim(0, max(1.0, *(a + e for a, e in zip(anyway_v, extra_v, strict=True))) * 1.45)
    ax.xaxis.set_major_formatter(lambda v, _: f"{v:,.0f}")
    ax.grid(axis="y", visible=False)
    ax.grid(axis="x", visible=True)
    ax.legend(loc="lower right", fontsize=8.5)
    ta_extra, ta_total = extra_v[0], anyway_v[0] + extra_v[0]
    share = ta_extra / ta_total if ta_total else 0.0
    if ta_extra > 0:
        only = "Only " if share < 0.5 else ""
        message = f"{only}{share:.0%} of the families turned around were turned around by the programmes"
    else:
        message = (
            f"The programmes turned around no more families than would have left the stock anyway "
            f"({ta_extra:+,.0f} of {ta_total:,.0f})".replace("-", "−")
        )
    fig.tight_layout()
    titled(
        fig,
        message,
        "Each result split by the paired run with every programme's effect off from the start date (same families, "
        "same random numbers)",
    )
    finish(fig, meta, "Bars: mean over replications." if meta.replications > 1 else "One replication.")
    return fig


def draw(run, meta: ChartMeta, ax=None):
    """From a run directory; None for a run without its counterfactual (nothing to split)."""
    return figure(run.summary, meta) if "additional" in run.summary else None
