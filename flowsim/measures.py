"""The catalogue of measures, and computing them from a replication's Results.

Every measure flowsim reports is declared once in :data:`MEASURES`: where it
sits in a run's summary, its short name (a sweep table's column, a
calibration target's name), a label in plain words, its unit, whether it
counts simulated families (so it scales with ``population.scale``) and how
it is formatted. Summaries, replications, sweeps, calibration, the report,
the brief and the command line all read it.

The target is measured three ways: the count of families turned around by
the deadline, the coverage of the start stock by key-worker intervention,
and the prevalence (the stock at the deadline against the stock at the
start). Survey moments are measured the way the Families and Children Study
measured them: the population observed at yearly waves before the start,
with no new policy.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from flowsim.engine.codes import (
    CLAIM_CRIME_EDUCATION,
    CLAIM_EMPLOYMENT,
    OUT,
    OUTSIDE,
    PROGRAMME_EVENT_NAMES,
    STARTED,
    G,
    H,
    R,
    S,
)
from flowsim.results import Results
from flowsim.scenario.registry_problems import CHILD
from flowsim.survey import Panel
from flowsim.survey import observe as observe_panel
from flowsim.timeline import financial_year_starts, to_date, uk_date

SUMMARY, SWEEP, CALIBRATION = "summary", "sweep", "calibration"
#: Roles of a measure beyond where it is stored: the report's "How sure is this?" table, the ensemble's tornado
#: panels, the compare chart, the ensemble's Spearman ranking of parameters, the sweep's sensitivity indices.
HOW_SURE, TORNADO, COMPARE, RANKED, INDICES = "how_sure", "tornado", "compare", "ranked", "indices"


@dataclass(frozen=True)
class Measure:
    """One measure.

    Attributes:
        key: its dotted place in a replication's summary (``target.count.turned_around``);
            for calibration-only measures, its place in :func:`calibration_measures`.
        column: short name: a sweep table's column, a calibration target's name.
        label: what it is, in plain words.
        unit: ``families``, ``share``, ``flag``, ``ratio`` or ``gbp``.
        scales: it counts simulated families, so it grows with ``population.scale``.
        fmt: a format spec for one value (``,.0f``, ``.0%``).
        uses: where it appears: ``summary`` (a mean and interval over replications),
            ``sweep`` (a column per run), ``calibration`` (a target can name it); and its roles
            (:data:`HOW_SURE`, :data:`TORNADO`, :data:`COMPARE`, :data:`RANKED`, :data:`INDICES`).
        same_as: the key of a measure that is this one under another name (the 2012 programme's claims are the
            results claimed): shown once where both would be.
    """

    key: str
    column: str
    label: str
    unit: str
    scales: bool
    fmt: str
    uses: frozenset[str]
    same_as: str = ""


def _m(key: str, column: str, label: str, unit: str, fmt: str, *uses: str, same_as: str = "") -> Measure:
    return Measure(key, column, label, unit, unit == "families", fmt, frozenset(uses), same_as)


MEASURES: tuple[Measure, ...] = (
    _m("target.count.turned_around", "turned_around", "families turned around by the deadline", "families", ",.0f", SUMMARY, SWEEP, HOW_SURE, COMPARE, RANKED, INDICES),
    _m("target.count.target", "target", "families to turn around (the target)", "families", ",.0f", SWEEP),
    _m("target.count.met", "count_met", "the count target is met", "flag", "", SWEEP, TORNADO, RANKED, INDICES),
    _m("target.count.shortfall", "shortfall", "shortfall against the target", "families", ",.0f", SUMMARY, HOW_SURE),
    _m("target.coverage.share", "coverage_share", "share of the start stock reached", "share", ".0%", SUMMARY, SWEEP, COMPARE, INDICES),
    _m("target.coverage.met", "coverage_met", "the coverage target is met", "flag", "", SWEEP),
    _m("target.coverage.families_reached", "families_reached", "families of the start stock reached", "families", ",.0f", SUMMARY),
    _m("target.coverage.start_stock", "start_stock", "families in the stock at the start", "families", ",.0f", SUMMARY),
    _m("target.prevalence.stock_start", "stock_start", "stock at the start", "families", ",.0f", SUMMARY, SWEEP),
    _m("target.prevalence.stock_end", "stock_end", "stock at the deadline", "families", ",.0f", SUMMARY, SWEEP, HOW_SURE, TORNADO, COMPARE, RANKED, INDICES),
    _m("target.prevalence.met", "prevalence_met", "the prevalence target is met", "flag", "", SWEEP),
    _m("target.prevalence.change", "stock_change", "change in the stock", "families", "+,.0f", SUMMARY),
    _m("moments.at_risk", "at_risk", "families at risk of social exclusion", "families", ",.0f", SUMMARY, SWEEP, CALIBRATION),
    _m("moments.persistence_1y", "persistence_1y", "share still at risk a year on (families re-interviewed)", "share", ".0%", SUMMARY, SWEEP, CALIBRATION),
    _m("moments.persistence_1y_all", "persistence_1y_all", "share still at risk a year on (families who left count as not)", "share", ".0%", SUMMARY),
    _m("moments.persistent_4_of_6", "persistent_4_of_6", "families at risk in 4+ of 6 waves", "families", ",.0f", SUMMARY, SWEEP, CALIBRATION),
    _m("moments.stock_persistence_1y", "stock_persistence_1y", "share of the stock still in it a year on", "share", ".0%", SUMMARY, SWEEP, CALIBRATION),
    _m("moments.duration_child_in_need", "duration_child_in_need", "child-in-need episode length, as the census reads it (years)", "years", ".2f", SUMMARY, CALIBRATION),
    _m("moments.stock", "stock", "stock at the survey waves", "families", ",.0f", SUMMARY, CALIBRATION),
    _m("moments.flow_group", "flow_group", "flow group at the survey waves", "families", ",.0f", SUMMARY, CALIBRATION),
    _m("moments.stock_entries.per_year", "stock_entries", "families entering the stock a year, survey window", "families", ",.0f", SUMMARY),
    _m("moments.stock_entries.from_flow_group", "stock_entries_from_flow_group", "share of entries to the stock from the flow group", "share", ".0%", SUMMARY),
    _m("moments.stock_entries.from_not_at_risk", "stock_entries_from_not_at_risk", "share of entries to the stock from families not at risk", "share", ".0%", SUMMARY),
    _m("moments.ever_at_risk", "ever_at_risk", "families at risk in any wave", "families", ",.0f", SUMMARY),
    _m("calibration.at_risk_drift", "at_risk_drift", "change in the number at risk, first to last wave", "ratio", "+.1%", CALIBRATION),
    _m("calibration.key_worker_started_by_2010", "key_worker_started_by_2010", "key-worker interventions started by the start", "families", ",.0f", CALIBRATION),
    _m("calibration.turned_around_by_2010", "turned_around_by_2010", "families turned around before the start", "families", ",.0f", CALIBRATION),
    _m("results.attached", "attached", "families attached to the 2012 programme", "families", ",.0f", SUMMARY, SWEEP),
    _m("results.claimed", "claimed", "results claimed by the deadline", "families", ",.0f", SUMMARY, SWEEP, HOW_SURE, RANKED, INDICES),
    _m("results.crime_education", "claimed_crime_education", "crime/ASB and education results claimed", "families", ",.0f", SUMMARY),
    _m("results.employment", "claimed_employment", "employment results claimed", "families", ",.0f", SUMMARY),
    _m("results.progress_to_work", "claimed_progress", "progress-to-work payments claimed", "families", ",.0f", SUMMARY),
    _m("results.counterfactual_claimed", "counterfactual_claimed", "results claimed in the counterfactual", "families", ",.0f", SUMMARY, SWEEP),
    _m("results.additional", "additional", "additional results (claimed less counterfactual)", "families", "+,.0f", SUMMARY, SWEEP, HOW_SURE, TORNADO, RANKED, INDICES),
    _m("cost.england_gbp", "cost_gbp", "what the programmes cost, start date to deadline, England (£)", "gbp", ",.0f", SUMMARY, SWEEP, COMPARE, INDICES),
    _m("results.paid_gbp", "paid_gbp", "money paid by the deadline: attachment fees and results (£)", "gbp", ",.0f", SUMMARY, SWEEP, INDICES),
    _m("results.deadweight_share", "deadweight_share", "share of claimed results that would have happened anyway", "share", ".0%", SUMMARY),
    _m("target.count.framework_results", "framework_results", "families with a 2012 framework result by the deadline", "families", ",.0f", SUMMARY, SWEEP),
    _m("additional.turned_around", "additional_turned_around", "families turned around because of the programmes", "families", "+,.0f", SUMMARY, SWEEP, HOW_SURE, TORNADO, COMPARE, RANKED, INDICES),
    _m("additional.framework_results", "additional_framework_results", "framework results because of the programmes", "families", "+,.0f", SUMMARY, SWEEP),
    _m("additional.stock_end", "additional_stock_end", "change in the stock at the deadline because of the programmes", "families", "+,.0f", SUMMARY, SWEEP, HOW_SURE),
    _m("programme_2012.identified", "p2012_identified", "families councils identified for the 2012 programme", "families", ",.0f", SUMMARY, SWEEP),
    _m("programme_2012.eligible", "p2012_eligible", "identified families eligible for payment by results", "families", ",.0f", SUMMARY, SWEEP),
    _m("programme_2012.attached", "p2012_attached", "families councils attached to the 2012 programme", "families", ",.0f", SUMMARY, SWEEP),
    _m("programme_2012.claimed", "p2012_claimed", "results councils claimed by the deadline", "families", ",.0f", SUMMARY, SWEEP, HOW_SURE, RANKED, INDICES, same_as="results.claimed"),
    _m("programme_2012.additional", "p2012_additional", "claimed results that are additional", "families", "+,.0f", SUMMARY, SWEEP, HOW_SURE, TORNADO, RANKED, INDICES, same_as="results.additional"),
    _m("programme_2012.claimed_not_true", "p2012_not_true", "claimed results recorded but not true", "families", ",.0f", SUMMARY, SWEEP),
    _m("additional.at_risk_end", "additional_at_risk_end", "change in families at risk at the deadline because of the programmes", "families", "+,.0f", SUMMARY),
)  # fmt: skip

BY_KEY = {m.key: m for m in MEASURES}
BY_COLUMN = {m.column: m for m in MEASURES}


#: Measures of what the programmes cause that are not under ``additional.``: each needs its run's counterfactual.
_CAUSED = frozenset({"results.counterfactual_claimed", "results.additional", "programme_2012.additional"})


def needs_counterfactual(m: Measure) -> bool:
    """Whether ``m`` compares a run with its counterfactual (every programme's effect off), so a run that reports it
    must simulate that too: what the programmes add, and the claims that would have been made anyway."""
    return m.key.startswith("additional.") or m.key in _CAUSED


def used_in(use: str) -> tuple[Measure, ...]:
    """The measures with ``use`` (``summary``, ``sweep`` or ``calibration``), in catalogue order."""
    return tuple(m for m in MEASURES if use in m.uses)


def get(summary: dict, dotted: str):
    """The value at a dotted key of a summary (KeyError if absent)."""
    for part in dotted.split("."):
        summary = summary[part]
    return summary


def has(summary: dict, dotted: str) -> bool:
    try:
        get(summary, dotted)
    except (KeyError, TypeError):
        return False
    return True


def interval_label(value: dict) -> str:
    """What a summarised ``{mean, lo, hi}``'s interval is: '95% of runs' over an ensemble's runs, else '95% interval'."""
    return "95% of runs" if value.get("over") == "runs" else "95% interval"


def format_value(value, fmt: str) -> tuple[str, str | None]:
    """A value as text, and its 95% interval as text if it is a summarised ``{mean, lo, hi}``.

    ``(12,345, "95% interval 11,900–12,800")``; ``("—", None)`` for a missing value. A value summarised over an
    ensemble's runs (``"over": "runs"``: its lo and hi are percentiles of the runs) says ``95% of runs``.
    """
    if isinstance(value, dict) and "mean" in value:
        lo, hi = format(value["lo"], fmt), format(value["hi"], fmt)
        if lo == hi:  # an interval too narrow to show at this precision says nothing
            return format(value["mean"], fmt), None
        return format(value["mean"], fmt), f"{interval_label(value)} {lo}–{hi}"
    if value is None:
        return "—", None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return format(value, fmt), None
    return str(value), None


def format_inline(value, fmt: str) -> str:
    """``12,345 (95% interval 11,900–12,800)``, or the plain value."""
    text, interval = format_value(value, fmt)
    return f"{text} ({interval})" if interval else text


# --- computing the measures --------------------------------------------------------------------
def _state_at(res: Results, t: float) -> np.ndarray:
    i = int(np.searchsorted(res.boundary_t, t, side="right")) - 1
    return res.boundary_states[max(i, 0)]


def family_weights(res: Results) -> np.ndarray:
    """How many families each entry of the per-family arrays stands for (families not at risk are a sample)."""
    return res.family_weight


def turned_around_times(res: Results) -> np.ndarray:
    """Sorted times of every family turned around from the start (t >= 0)."""
    times = res.successes[0]
    return np.sort(times[times >= 0])


def target_measures(res: Results) -> dict:
    """The three target measures at the deadline."""
    times = turned_around_times(res)
    by_deadline = int(np.searchsorted(times, res.t_deadline, side="left"))
    goal = res.target_count
    need = int(np.ceil(goal))
    date_met = to_date(float(times[need - 1]), res.start).isoformat() if need <= times.size and need > 0 else None
    if date_met is not None and times[need - 1] >= res.t_deadline:
        date_met = None
    stock_start = int(_state_at(res, 0.0)[S])
    stock_end = int(_state_at(res, res.t_deadline)[S])
    start_stock = int(res.in_start_stock.sum())
    covered = int((res.in_start_stock & res.key_worker_received).sum())
    return {
        "count": {
            "turned_around": by_deadline,
            "target": goal,
            "met": bool(by_deadline >= goal),
            "date_met": date_met,
            "shortfall": max(goal - by_deadline, 0),
        },
        "coverage": {
            "share": covered / start_stock if start_stock else 0.0,
            "families_reached": covered,
            "start_stock": start_stock,
            # Seed 000 slide 6: "every one of the stock ... could receive" an intervention.
            "met": bool(start_stock > 0 and covered == start_stock),
        },
        "prevalence": {
            "stock_start": stock_start,
            "stock_end": stock_end,
            "change": stock_end - stock_start,
            "met": bool(stock_end == 0),
        },
    }


#: The reading of "20,000 or 7% ... at risk for 4 years out of the 6" that ``moments.persistent_4_of_6`` gives.
MAIN_READING = "at_least_4.unbalanced.cross_section"


def survey_panel(res: Results) -> Panel:
    """The survey waves as the FACS panel observed them (:mod:`flowsim.survey`): every reading of its statistics."""
    return observe_panel(
        res.waves, res.present_waves, family_weights(res), res.wave_count, res.attrition[0], res.attrition[1]
    )


def stock_persistence(res: Results) -> float:
    """Share of the families in the stock at a survey wave, and present at the next, who are in it at the next."""
    bits, present, fw = res.stock_waves.astype(np.int64), res.present_waves.astype(np.int64), family_weights(res)
    stay = there = 0
    for w in range(res.wave_count - 1):
        base = ((bits >> w) & (present >> (w + 1)) & 1) * fw
        stay += int((base * ((bits >> (w + 1)) & 1)).sum())
        there += int(base.sum())
    return stay / there if there else float("nan")


def census_duration(res: Results, problem: str) -> float:
    """Mean length of a child problem's spells (years) as a census of episodes reads it: the families with the
    problem (the mean over the survey window's months) divided by the spells begun a year (Little's law)."""
    inside = (res.boundary_t >= res.wave_t[0]) & (res.boundary_t <= res.wave_t[-1])
    having = float(res.boundary_problems[inside][:, res.problem_names.index(problem)].mean())
    per_year = res.survey_onsets[CHILD.index(problem)] / (res.wave_t[-1] - res.wave_t[0])
    return having / per_year if per_year > 0 else float("nan")


def stock_entries(res: Results) -> dict:
    """Families entering the stock over the survey window: how many a year, and the shares that came from each
    classification (not at risk, at risk outside the flow group, the flow group) and that came by a crisis.

    Two counts: every entry the model makes (``flows``: a family whose count of problems flickers across the
    at-risk threshold within days enters each time), and ``census``, entries as a monthly census sees them (in
    the stock at a month's end and not at its start, by where the family was at its start), with each
    classification's yearly rate of entering (its census entries over its mean size).
    """
    t, src, dst, cause, w = res.flows
    sel = (dst == S) & (t >= res.wave_t[0]) & (t < res.wave_t[-1])
    years = res.wave_t[-1] - res.wave_t[0]
    total = float(w[sel].sum())
    share = (lambda mask: float(w[sel & mask].sum()) / total) if total else (lambda mask: float("nan"))
    crisis = res.cause_names.index("crisis") if "crisis" in res.cause_names else -1
    by = res.census_entries.astype(float)
    n = float(by.sum())
    part = (lambda *codes: float(by[list(codes)].sum()) / n) if n else (lambda *codes: float("nan"))
    # Each classification's hazard of entering the stock: its entries a year over its mean size (month boundaries).
    window = (res.boundary_t >= res.wave_t[0]) & (res.boundary_t < res.wave_t[-1])
    size = res.boundary_states[window].mean(axis=0) if window.any() else np.zeros(by.size)
    rate = lambda code: float(by[code]) / years / float(size[code]) if size[code] > 0 else float("nan")  # noqa: E731
    return {
        "per_year": total / years,
        "from_not_at_risk": share(src == G),
        "from_at_risk": share(src == R),
        "from_flow_group": share(src == H),
        "by_crisis": share(cause == crisis),
        "census": {
            "per_year": n / years,
            "from_not_at_risk": part(G),
            "from_at_risk": part(R),
            "from_flow_group": part(H),
            "from_outside": part(OUT, OUTSIDE),
            "rate_not_at_risk": rate(G),
            "rate_at_risk": rate(R),
            "rate_flow_group": rate(H),
        },
    }


def survey_moments(res: Results) -> dict:
    """Moments at the yearly survey waves, measured as the FACS panel measured them.

    ``persistence_1y`` is over families present at both waves (a panel re-interviews only those);
    ``persistence_1y_all`` counts families who left the population as not persisting. ``persistent_4_of_6``
    is one reading of the 4-of-6 statistic (at risk in at least 4 of the 6 waves, every family observed,
    as a count); ``readings`` gives every reading (:data:`flowsim.survey.READINGS`) as a count and a share.
    """
    panel = survey_panel(res)
    states = res.boundary_states[np.searchsorted(res.boundary_t, res.wave_t)]
    ever = (res.waves != 0) * family_weights(res)
    return {
        "at_risk": float(panel.at_risk_per_wave.mean()),
        "persistence_1y": panel.persistence,
        "persistence_1y_all": panel.persistence_all,
        "persistent_4_of_6": panel.count(MAIN_READING),
        "stock": float(states[:, S].mean()),
        "flow_group": float(states[:, H].mean()),
        "ever_at_risk": int(ever.sum()),
        "stock_persistence_1y": stock_persistence(res),
        "duration_child_in_need": census_duration(res, "child_in_need"),
        "stock_entries": stock_entries(res),
        "waves": [to_date(float(t), res.start).isoformat() for t in res.wave_t],
        "attrition": list(res.attrition),
        "readings": {r: {"count": v["count"], "share": v["share"]} for r, v in panel.readings().items()},
    }


def headline(res: Results, targets: dict | None = None) -> str:
    """One line answering the question, e.g. 'Target (46,000 turned around by 31 May 2015): not met — 31,250 by the deadline, 14,750 short'."""
    m = (targets or target_measures(res))["count"]
    deadline_text = uk_date(res.deadline)
    goal = f"{m['target']:,.0f}"
    if m["met"]:
        met_on = uk_date(dt.date.fromisoformat(m["date_met"])) if m["date_met"] else "the deadline"
        return f"Target ({goal} turned around by {deadline_text}): met on {met_on} — {m['turned_around']:,} by the deadline"
    return (
        f"Target ({goal} turned around by {deadline_text}): not met — {m['turned_around']:,} by the deadline, "
        f"{m['shortfall']:,.0f} short"
    )


def calibration_measures(res: Results) -> dict[str, float]:
    """What ``calibration/targets.toml`` compares against, in England's families (counts divided by the scale).

    The survey moments, the change in the number at risk between the first
    and last wave (``at_risk_drift``), and the key-worker programme's record
    before the start: families who started an intervention, and families
    turned around (seed 000 slide 5; OSR21/2010).
    """
    m = survey_moments(res)
    per = 1.0 / res.scale
    bits = res.waves.astype(np.int64)
    fw = family_weights(res)
    first = int(fw[(bits & 1) == 1].sum())
    last = int(fw[((bits >> (res.wave_count - 1)) & 1) == 1].sum())
    successes = res.successes[0]
    out = {
        "at_risk": m["at_risk"] * per,
        "persistence_1y": m["persistence_1y"],
        "persistent_4_of_6": m["persistent_4_of_6"] * per,
        "stock": m["stock"] * per,
        "flow_group": m["flow_group"] * per,
        "stock_persistence_1y": m["stock_persistence_1y"],
        "duration_child_in_need": m["duration_child_in_need"],
        "at_risk_drift": (last - first) / first if first else 0.0,
        "turned_around_by_2010": float((successes < 0).sum()) * per,
    }
    prog, _, started = res.waits
    if "key_worker" in res.programme_names:
        kw = prog == res.programme_names.index("key_worker")
        out["key_worker_started_by_2010"] = float((started[kw] < 0).sum()) * per
    return out


ORIGIN_NAMES = {G: "not at risk", R: "at risk", H: "flow group", S: "stock"}


def framework_results(res: Results) -> int:
    """Families with a 2012 financial framework result (crime/ASB and education, or employment) by the deadline."""
    t, route, _, _ = res.claims
    result = (route == CLAIM_CRIME_EDUCATION) | (route == CLAIM_EMPLOYMENT)
    return int((result & (t < res.t_deadline)).sum())


def problems_summary(res: Results) -> dict:
    """Model v2: successes by where the family stood at the start, framework results, classifications and problems."""
    t, origin = res.successes[0], res.successes[1]
    counted = (t >= 0) & (t < res.t_deadline)
    by_origin = {name: int((counted & (origin == code)).sum()) for code, name in ORIGIN_NAMES.items()}
    i0 = int(np.searchsorted(res.boundary_t, 0.0, side="right")) - 1
    i1 = int(np.searchsorted(res.boundary_t, res.t_deadline, side="right")) - 1
    per = max(res.scale, 1e-12) * 5.8e6
    return {
        "by_origin": by_origin,
        "framework_results": framework_results(res),
        "classifications": {
            name: {"start": int(res.boundary_classes[i0, k]), "deadline": int(res.boundary_classes[i1, k])}
            for k, name in enumerate(res.class_names)
        },
        "problem_prevalence": {
            name: {
                "start": float(res.boundary_problems[i0, k] / per),
                "deadline": float(res.boundary_problems[i1, k] / per),
            }
            for k, name in enumerate(res.problem_names)
        },
    }


#: What the programmes' cost is, wherever it is shown.
COST_DEFINITION = (
    "families starting each programme from the start date to the deadline, times its cost per family "
    "(programmes.NAME.cost_per_family_gbp), scaled back to England (divided by population.scale)"
)


def programme_costs(res: Results, scenario) -> dict:
    """What the programmes cost (:data:`COST_DEFINITION`): in all, by programme and by financial year, England's £.

    The programmes' counts in the summary cover the same window (the start date to the deadline), so the cost of a
    programme is its ``started`` count times its cost per family, over the scale.
    """
    prog, t, kind = res.programme_events
    started = (kind == STARTED) & (t >= 0) & (t < res.t_deadline)
    unit = np.array([getattr(scenario.params.programmes, n).cost_per_family_gbp for n in res.programme_names], float)
    gbp = unit[prog[started]] / res.scale
    first, last = (int(y) for y in financial_year_starts([0.0, max(res.t_deadline - 1e-9, 0.0)], res.start))
    fy = financial_year_starts(t[started], res.start)
    by_year = (
        np.bincount(fy - first, weights=gbp, minlength=last - first + 1) if gbp.size else np.zeros(last - first + 1)
    )
    by_programme = np.bincount(prog[started], weights=gbp, minlength=len(res.programme_names))
    return {
        "england_gbp": float(gbp.sum()),
        "by_programme_england_gbp": {n: float(v) for n, v in zip(res.programme_names, by_programme, strict=True)},
        "by_financial_year_england_gbp": {
            f"{y}-{(y + 1) % 100:02d}": float(by_year[y - first]) for y in range(first, last + 1)
        },
        "definition": COST_DEFINITION,
    }


def summary(res: Results, scenario) -> dict:
    """The run's answers: headline, target measures, moments, programme totals and what they cost.

    Programme totals count events from the start date to the deadline (the window the headline counts), and the
    median wait is over families starting in it.
    """
    targets = target_measures(res)
    prog_i, t_event, kind = res.programme_events
    in_window = (t_event >= 0) & (t_event < res.t_deadline)
    programmes = {}
    w_prog, w_arr, w_start = res.waits
    waited = (w_start >= 0) & (w_start < res.t_deadline)
    for i, name in enumerate(res.programme_names):
        mine = kind[(prog_i == i) & in_window]
        waits = (w_start - w_arr)[(w_prog == i) & waited]
        programmes[name] = {
            **{
                PROGRAMME_EVENT_NAMES[k].replace(" ", "_"): int((mine == k).sum())
                for k in range(len(PROGRAMME_EVENT_NAMES))
            },
            "median_wait_years": float(np.median(waits)) if waits.size else None,
        }
    out = {
        "headline": headline(res, targets),
        "scenario": scenario.name,
        "scenario_sha256": scenario.sha256,
        "seed": res.seed,
        "scale": res.scale,
        "target": targets,
        "moments": survey_moments(res),
        "programmes": programmes,
        "cost": programme_costs(res, scenario),
        "families_tracked": res.families_tracked,
        "events": res.events,
    }
    extra = problems_summary(res)
    out["target"]["population"] = res.target_population
    out["target"]["count"]["by_origin"] = extra.pop("by_origin")
    out["target"]["count"]["framework_results"] = extra.pop("framework_results")
    out.update(extra)
    return out
