"""The run's answer as plain text: the headline with what the reader must know, and the lines under it."""

from __future__ import annotations

import datetime as dt

from flowsim.measures import BY_KEY, get, interval_label
from flowsim.measures import format_inline as _fmt
from flowsim.plan import count
from flowsim.scenario.registry import PARAMETERS, parameter_label

#: The words a reader meets in every output, each with what it means in flowsim (the report's glossary; the
#: README's Glossary repeats it, and tests/test_small_lies.py checks that it does).
GLOSSARY: dict[str, str] = {
    "at risk": "at risk of social exclusion: at least five of the ten household and family-functioning problems "
    "(seed 000: about 290,000 families at any time, 51% still at risk a year later)",
    "stock": "families at risk with a child problem (youth crime or ASB, exclusion or persistent absence, a child in "
    "need or on a protection plan): the 40-50,000 families with multiple problems and child problems of seed 000",
    "flow group": "families at risk without a child problem yet but with two drivers of child problems, from whom "
    "the stock is fed",
    "turned around": "a family in the target population (the stock by default) when its key-worker intervention "
    "began, out of it when the intervention ended, and still out six months later; counted by the deadline",
    "because of the programmes (additional)": "a measure less its value in the paired counterfactual: the same "
    "families, seed and past, with every programme's effect switched off from the start date (places, queues and "
    "attendance as they were); what the programmes caused, not what would have happened anyway",
    "would have left anyway (deadweight)": "families counted as turned around, or results claimed, that the "
    "counterfactual turns around or claims too",
    "coverage": "the share of the families in the stock at the start date who received key-worker intervention "
    "by the deadline",
    "prevalence": "the stock at the deadline, set against the stock at the start date",
    "cost": "families starting each programme from the start date to the deadline, times its cost per family, "
    "scaled back to England",
    "scale": "population.scale: the share of England's families simulated; counts of families are for that share, "
    "money is scaled back to England",
    "replication": "one run of the scenario on its own random numbers; replication i of two scenarios uses the same "
    "numbers (common random numbers), so their difference is paired",
    "95% interval": "over replications, an interval for the mean (chance only); over an ensemble's runs, 95% of the "
    "runs (parameter uncertainty and chance together)",
}

#: A target of fewer simulated families than this is small numbers: chance alone moves the
#: count by about 1/sqrt(n) of itself, more than 10% below 100 families.
SMALL_TARGET = 100


def run_notes(scenario) -> list[str]:
    """What a reader must know alongside a run's answer, each as a short phrase.

    - below full scale, the scale (counts are simulated families, not England's);
    - small numbers: a simulated target under :data:`SMALL_TARGET` families;
    - uncalibrated registry defaults: a scenario that sets none of the
      ``calibrated`` parameters (an empty file does this) runs the registry's
      uncalibrated defaults.
    """
    p = scenario.params
    notes = []
    scale = p.population.scale
    if scale != 1:
        notes.append(f"population.scale {scale:g}: counts are for the simulated share of England")
    target = p.target.count_families * scale
    if target < SMALL_TARGET:
        notes.append(
            f"small numbers: a target of only {target:,.1f} simulated families, so the answer is mostly chance"
        )
    calibrated = [k for k, param in PARAMETERS.items() if param.source.startswith("calibrated")]
    if not any(k in scenario.origins for k in calibrated):
        notes.append(
            f"uncalibrated registry defaults: the scenario sets none of the {len(calibrated)} calibrated parameters "
            "(extend calibration/fitted.toml, as scenarios/baseline.toml does)"
        )
    return notes


def with_notes(line: str, notes: list[str]) -> str:
    """A headline followed by its notes in brackets, so that no headline is read without them."""
    return f"{line} [{'; '.join(notes)}]" if notes else line


def headline(summary: dict, notes: list[str]) -> str:
    """The run's headline as the terminal, the report and the brief show it: with its notes."""
    return with_notes(summary["headline"], notes)


def _waves(m: dict) -> str:
    """' (waves Oct 2003 - Oct 2008)' from the moments' wave dates, or nothing."""
    if not m.get("waves"):
        return ""
    first, last = (dt.date.fromisoformat(d) for d in (m["waves"][0], m["waves"][-1]))
    return f" (waves {first:%b %Y} - {last:%b %Y})"


def _readings_range(m: dict) -> str:
    """' (13% of those at risk at a wave, 4.1% of those ever at risk)': the main reading's two shares."""
    readings = m.get("readings", {})
    cs, ever = (readings.get(f"at_least_4.unbalanced.{d}", {}).get("share") for d in ("cross_section", "ever_at_risk"))
    if cs is None or ever is None:
        return ""
    return f" ({_fmt(cs, '.0%')} of those at risk at a wave, {_fmt(ever, '.1%')} of those ever at risk; seed: 7%)"


def details(summary: dict) -> list[str]:
    """Coverage, prevalence, survey moments and payment by results, one line each (the scale is in the headline)."""
    t, m = summary["target"], summary["moments"]
    lines = [
        f"  coverage: {_fmt(t['coverage']['share'], '.0%')} of the families in the stock at the start "
        "received key-worker intervention",
        f"  prevalence: stock {_fmt(t['prevalence']['stock_start'], ',.0f')} at the start, "
        f"{_fmt(t['prevalence']['stock_end'], ',.0f')} at the deadline",
        f"  survey moments{_waves(m)}: {_fmt(m['at_risk'], ',.0f')} at risk, {_fmt(m['persistence_1y'], '.0%')} "
        f"of those re-interviewed still at risk a year on, {_fmt(m['persistent_4_of_6'], ',.0f')} at risk in 4+ of "
        f"{len(m.get('waves') or []) or 6} waves{_readings_range(m)}, stock {_fmt(m['stock'], ',.0f')} "
        f"({_fmt(m.get('stock_persistence_1y'), '.0%')} still in it a year on), flow group {_fmt(m['flow_group'], ',.0f')}",
    ]
    if "additional" in summary:
        a = summary["additional"]
        without = a.get("counterfactual", {}).get("stock_end")
        lines.append(
            f"  because of the programmes: {_fmt(a['turned_around'], '+,.0f')} of those turned around (the rest "
            f"would have left the stock anyway), stock at the deadline {_fmt(a['stock_end'], '+,.0f')}"
            + (f" ({_fmt(without, ',.0f')} with their effects off from the start date)" if without is not None else "")
        )
    if "cost" in summary:
        lines += cost_lines(summary)
    if "results" in summary:
        r = summary["results"]
        paid = sum((row["attachment_paid_gbp"] or 0) + (row["results_paid_gbp"] or 0) for row in summary["finance"])
        lines.append(
            f"  payment by results: {_fmt(r['attached'], ',.0f')} families attached, "
            f"{_fmt(r['claimed'], ',.0f')} results claimed by the deadline, of which "
            f"{_fmt(r['additional'], ',.0f')} additional (deadweight {_fmt(r['deadweight_share'], '.0%')}); "
            f"£{paid:,.0f} paid"
        )
    if "ensemble" in summary:
        lines += structure_lines(summary)
        lines += ensemble_lines(summary["ensemble"])
    return lines


def _mean(value) -> float:
    return value["mean"] if isinstance(value, dict) else value


def millions_value(value) -> tuple[str, str | None]:
    """England's £ in millions as text (``£1,148m``) and, when summarised over replications, its interval as text."""
    if not (isinstance(value, dict) and "mean" in value):
        return f"£{value / 1e6:,.0f}m", None
    mean, lo, hi = (f"£{value[k] / 1e6:,.0f}m" for k in ("mean", "lo", "hi"))
    return mean, (None if lo == hi else f"{interval_label(value)} {lo}–{hi}")


def millions(value) -> str:
    """England's £ in millions: ``£1,148m``, with its 95% interval when summarised over replications."""
    text, interval = millions_value(value)
    return f"{text} ({interval})" if interval else text


def cost_per_additional(summary: dict) -> float | None:
    """England's £ the programmes cost for each family turned around because of them (ratio of means); None when
    the programmes turned none around (or the run has no counterfactual)."""
    extra = summary.get("additional", {}).get("turned_around")
    if extra is None or _mean(extra) <= 0:
        return None
    return _mean(summary["cost"]["england_gbp"]) / (_mean(extra) / summary["scale"])


def cost_lines(summary: dict) -> list[str]:
    """What the programmes cost, in all and by financial year (England's £), and per family they turned around."""
    c = summary["cost"]
    years = ", ".join(f"{fy} {millions(_mean(v))}" for fy, v in c["by_financial_year_england_gbp"].items())
    each = cost_per_additional(summary)
    per = f"; £{each:,.0f} for each family turned around because of them" if each is not None else ""
    scaled = " (scaled back to England from the simulated share)" if summary["scale"] != 1 else ""
    return [
        f"  cost: {millions(c['england_gbp'])} for the programmes from the start to the deadline{scaled}{per}",
        f"    by financial year: {years}",
    ]


def _spread(v: dict, m) -> str:
    """'23,730 (95% of runs 22,100 to 25,300)' for measure ``m``; money in millions."""
    fmt = m.fmt
    if m.unit == "gbp":
        mean, lo, hi = (millions_value(v[k])[0] for k in ("mean", "lo", "hi"))
        return f"{mean} (95% of runs {lo} to {hi})"
    return f"{format(v['mean'], fmt)} (95% of runs {format(v['lo'], fmt)} to {format(v['hi'], fmt)})"


#: Short names of the measures each structure's answer is given for (flowsim.summary.STRUCTURE_MEASURES).
SHORT_NAMES = {
    "target.count.turned_around": "turned around",
    "target.prevalence.stock_end": "stock at the deadline",
    "additional.turned_around": "turned around because of the programmes",
    "programme_2012.claimed": "results claimed",
    "programme_2012.additional": "additional results claimed",
    "cost.england_gbp": "cost",
}


def structure_lines(summary: dict) -> list[str]:
    """Over several structures: each structure's answer, the pool's, and each measure's variance split three ways."""
    st = summary.get("structures")
    if not st:
        return []
    e = summary["ensemble"]
    keys = [k for k in st["components"][0]["measures"]]
    lines = ["  by structure (each over its own ensemble; the pool is their mixture, by their shares of the sets):"]
    rows = [
        (
            f"{c['name']} ({c['label']}; {count(c['sets'], 'set')} from a {c['method'] or 'ensemble'} of {c['members']})",
            c["probability_met"],
            c["measures"],
        )
        for c in st["components"]
    ]
    shares = ", ".join(f"{c['name']} {c['share']:.0%}" for c in st["components"])
    pooled = {k: get(summary, k) for k in keys}
    rows.append((f"pooled ({shares})", summary["target"]["count"]["probability_met"], pooled))
    for name, p, measures in rows:
        parts = [f"target met with probability {p['mean']:.2f}"]
        parts += [
            f"{SHORT_NAMES.get(k, BY_KEY[k].label)} {_spread(measures[k], BY_KEY[k])}" for k in keys if k in measures
        ]
        lines.append(f"    {name}: " + "; ".join(parts))
    split = []
    for k in keys:
        v = e["variance_share"].get(k)
        if v is None or v.get("parameters") is None:
            continue
        split.append(
            f"{SHORT_NAMES.get(k, BY_KEY[k].label)} {v['parameters']:.0%} / {v['structure']:.0%} / {v['chance']:.0%}"
        )
    if split:
        lines.append("  variance from the parameters / the structure / chance: " + "; ".join(split))
    else:
        why = next((v["why"] for v in e["variance_share"].values() if v and v.get("why")), None)
        if why:
            lines.append(f"  variance from the parameters / the structure / chance: not split: {why}")
    for m in st.get("missing", []):
        lines.append(f"  left out of the pool: {m['name']}, {m['why']}")
    return lines


def ensemble_lines(e: dict, top: int = 3) -> list[str]:
    """Over an ensemble: what the point fit alone answers, and the parameters that move the families turned around."""

    lines = []
    point = e.get("point_fit")
    if point is not None:
        lines.append(f"  the point fit alone ({point['replications']} replications, chance only): {point['headline']}")
    sens = e.get("sensitivity", {})
    rho = sens.get("measures", {}).get("target.count.turned_around")
    if rho:
        moves = [f"{parameter_label(k)} ({v:+.2f})" for k, v in list(rho.items())[:top] if abs(v) > sens["null_95"]]
        lines.append(
            "  what moves the families turned around over the ensemble (Spearman's rho): "
            + (", ".join(moves) if moves else "no parameter beyond chance")
        )
    return lines
