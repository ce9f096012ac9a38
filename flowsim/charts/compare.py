"""The compare chart: B − A paired by replication, with its 95% interval (over an ensemble, 95% of its runs), for each
target measure; over several structures, each structure's mean beside the pool's."""

from __future__ import annotations

import textwrap

from matplotlib.ticker import MaxNLocator

from flowsim.charts.common import OKABE_ITO, ChartMeta, chart, finish, subplots, titled
from flowsim.measures import COMPARE, used_in

#: Each structure's marker, in the order the document lists them.
_MARKERS = ("D", "s", "^", "v", "P")


def _rows(doc: dict) -> list[tuple[str, str, str, float, str]]:
    """The catalogue's compared measures in ``doc``, what the policy causes first: key, label, format of a
    difference, its multiplier (a share's difference is in percentage points, money in £ millions) and the format
    of each scenario's level."""
    out = []
    for m in used_in(COMPARE):
        if m.key in doc["differences"]:
            label = m.label[:1].upper() + m.label[1:]
            if m.unit == "share":
                out.append((m.key, label, "{:.1f} points", 100.0, "{:.0%}"))
            elif m.unit == "gbp":
                out.append((m.key, label.replace(" (£)", ""), "£{:,.0f}m", 1e-6, "£{:,.0f}m"))
            else:
                out.append((m.key, label, "{:,.0f}", 1.0, "{:,.0f}"))
    return sorted(out, key=lambda row: not row[0].startswith("additional."))


def _signed(fmt: str, v: float) -> str:
    text = fmt.format(abs(v))
    return ("+" if v >= 0 else "−") + text


@chart
def compare(doc: dict, meta: ChartMeta):
    """(f) The paired difference B − A of each target measure, with its 95% interval, and both scenarios' levels."""
    a, b = doc["a"]["name"], doc["b"]["name"]
    rows = _rows(doc)
    over_runs = "ensemble" in doc  # the spread over parameter sets and chance, as the headline gives it
    words = "95% of runs" if over_runs else "95% interval"
    structures = doc.get("structures", {}).get("components", [])
    structures = structures if len(structures) > 1 else []  # one structure: nothing to set beside the pool
    fig, axes = subplots(len(rows), 1, figsize=(8, 1.35 * len(rows) + 0.8), squeeze=False)
    for i, (ax, (key, label, fmt, k, level)) in enumerate(zip(axes[:, 0], rows, strict=True)):
        d = doc["differences"][key]
        p = d["paired"]
        spread = d["over_runs"] if over_runs else p
        mean, lo, hi = p["mean"] * k, spread["lo"] * k, spread["hi"] * k
        colour = OKABE_ITO[2] if lo > 0 else OKABE_ITO[1] if hi < 0 else "#777777"
        ax.errorbar([mean], [0], xerr=[[mean - lo], [hi - mean]], fmt="o", color=colour, capsize=6, lw=2, ms=7)
        ends = [lo, hi]
        for j, c in enumerate(structures):
            marker = _MARKERS[j % len(_MARKERS)]
            if key in c["differences"]:
                x = c["differences"][key]["mean"] * k
                ends.append(x)
                ax.plot([x], [-0.35], marker=marker, ls="none", ms=5, mfc="white", mec="#333333", label=c["name"])
        if structures:
            ax.set_ylim(-0.8, 1.0)
            if i == 0:  # beside the panel, where it covers no marker
                ax.legend(
                    title="each structure's mean", loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7.5,
                    title_fontsize=7.5, frameon=False,
                )  # fmt: skip
        ax.axvline(0, color="#333333", linewidth=0.9)
        # At least one unit of what is shown (a family, 0.1 points, £1m) either side, so no difference is not a
        # scale of -0 to +0.
        span = max(*(abs(x) for x in ends), 0.1 if k == 100.0 else 1.0) * 1.6
        ax.set_xlim(-span, span)
        ax.set_yticks([])
        ax.spines["left"].set_visible(False)
        ax.grid(axis="x", visible=True)
        ax.grid(axis="y", visible=False)
        ax.set_title(
            f"{label}: {a} {level.format(d['a'] * (k if k != 100.0 else 1))}, "
            f"{b} {level.format(d['b'] * (k if k != 100.0 else 1))}",
            fontsize=9.5,
            loc="left",
        )
        ax.annotate(
            f"{_signed(fmt, mean)}  ({words} {_signed(fmt, lo)} to {_signed(fmt, hi)})",
            (mean, 0),
            xytext=(0, 10),
            textcoords="offset points",
            ha="center",
            fontsize=9,
            fontweight="bold",
            color=colour,
            bbox={"boxstyle": "square,pad=0.1", "fc": "white", "ec": "none"},
        )
        ax.xaxis.set_major_locator(MaxNLocator(nbins=8, integer=k != 100.0))  # whole families and £m: no "+0" at 0.5
        ax.xaxis.set_major_formatter(lambda v, _, f=fmt: _signed(f, v) if v else "0")
        ax.tick_params(labelsize=8)
    fig.tight_layout()
    causal = "additional.turned_around" in doc["differences"]
    d = doc["differences"]["additional.turned_around" if causal else "target.count.turned_around"]
    count, spread = d["paired"], d["over_runs"] if over_runs else d["paired"]
    direction = "more" if count["mean"] >= 0 else "fewer"
    if over_runs:
        sure = "" if spread["lo"] > 0 or spread["hi"] < 0 else " (its runs range across no change)"
    else:
        sure = "" if spread["lo"] > 0 or spread["hi"] < 0 else " (not distinguishable from no change)"
    because = " because of its programmes" if causal else ""
    if over_runs:
        e = doc["ensemble"]
        where = f"{len(structures)} structures' ensembles" if structures else "the calibrated ensemble"
        sub = (
            f"Difference {b} − {a}, paired run by run with common random numbers over {e['sets']} parameter sets "
            f"of {where}, and 95% of its runs ({'parameters, structure' if structures else 'parameters'} and chance)"
        )
        note = f"Dots: mean paired difference over {doc['replications']} runs; bars: 95% of runs"
        note += "; open markers: each structure's mean" if structures else ""
    else:
        sub = f"Difference {b} − {a}, paired by replication with common random numbers, and its 95% interval"
        note = f"Dots: mean paired difference over {doc['replications']} replications; bars: 95% interval"
    title = f"{b} turns around {abs(count['mean']):,.0f} {direction} families than {a}{because}{sure}"
    titled(fig, textwrap.fill(title, 85), textwrap.fill(sub, 115))  # within the figure's width, not beyond it
    hashes = f"{a} sha256 {doc['a']['scenario_sha256'][:12]}; {b} sha256 {doc['b']['scenario_sha256'][:12]}"
    finish(fig, meta, f"{note}. {hashes}.")
    return fig
