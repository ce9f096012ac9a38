"""From a validated Scenario to model v2's frozen specification: tables of log hazards, durations, links.

The only module of model v2 that reads the parameter registry. Hazard ratios
become log multipliers; the risk factors' effects become tables indexed by a
family's factor bits, so the kernel looks a family's rates up instead of
summing them.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, replace

import numpy as np

from flowsim.engine import codes
from flowsim.engine.administration import Programme2012Spec, council_cumulative, council_order
from flowsim.engine.codes import OUT, G, H, R, S
from flowsim.scenario.registry import PROGRAMMES
from flowsim.scenario.registry_problems import (
    CHILD,
    EVENT_NAMES,
    FACTOR_NAMES,
    FRAMEWORK,
    HOUSEHOLD,
    PROBLEM_NAMES,
    SETF_SEVEN,
)
from flowsim.scenario.registry_programme_2012 import RECORD_DOMAINS, council_rows
from flowsim.timeline import end_of_day_years, step_at, step_values, to_years

NP, NF, NT = len(PROBLEM_NAMES), len(FACTOR_NAMES), len(EVENT_NAMES)
#: The kernel's programme bit masks are int64.
MAX_PROGRAMMES = 62
_PI = {name: i for i, name in enumerate(PROBLEM_NAMES)}
_FI = {name: i for i, name in enumerate(FACTOR_NAMES)}
_ADULT = set(range(len(HOUSEHOLD) + 3))
_HOUSEHOLD = set(range(len(HOUSEHOLD)))
_CHILD = [_PI[n] for n in CHILD]
TARGETS = ("stock", "at_risk", "flow_group", "troubled", "multiply_disadvantaged")
#: Causes of flows between classifications, in the order of the kernel's codes.
CAUSE_NAMES = (
    *(f"began: {n.replace('_', ' ')}" for n in PROBLEM_NAMES),
    *(f"ended: {n.replace('_', ' ')}" for n in PROBLEM_NAMES),
    *(n.replace("_", " ") for n in EVENT_NAMES),
    "left",
    "new family",
)
CAUSE_LEFT, CAUSE_NEW = 2 * NP + NT, 2 * NP + NT + 1


def _mask(names, index) -> int:
    return sum(1 << index[n] for n in names)


@dataclass(frozen=True)
class ProgrammeSpec:
    """One running programme. Capacity is a step function of places (families at once, already scaled)."""

    name: str
    capacity_times: np.ndarray
    capacity_places: np.ndarray
    open_t: float  # first time with places: referrals start then (inf: never)
    duration_mean_years: float
    duration_shape: float
    p_dropout: float
    referral: str  # "identification" or "rate"
    referral_rate_per_year: float
    eligible: np.ndarray  # bool by state code
    requires_programmes: tuple[int, ...]  # running programmes, one of which the family must attend
    needs_any: bool  # requires_programmes was not empty (none running: never referred)
    exclusive_group: str
    p_accept: float
    effect_years_after: float
    cost_per_family_gbp: float


@dataclass(frozen=True)
class FinanceSpec:
    """Payment by results (seeds 003 and 004): what the engine needs to attach families and claim results."""

    enabled: bool  # switched on and a key-worker programme is running
    start_t: float
    end_t: float
    attach_t: np.ndarray  # programme years start at these times
    min_problems: int
    claim_t: tuple[float, ...]
    evidence_years: float
    employment_years: float


@dataclass(frozen=True)
class ModelSpec:
    """Everything one replication of model v2 needs, in model years from ``start``, counts already scaled."""

    start: dt.date
    deadline: dt.date
    t_start: float
    t_end: float
    t_deadline: float
    t_init: float  # the burn-in starts here
    waves: int
    wave_t: tuple[float, ...]  # the survey waves, on the month grid (the first is t_start)
    attrition: tuple[float, float]  # the panel's yearly attrition: families not at risk, at risk
    scale: float
    target_count: float
    target: str
    families: int  # families with children, scaled and rounded
    sample_weight: int
    exit_rate: float
    factor_prevalence: np.ndarray  # (NF,)
    factor_loading: np.ndarray  # (NF,)
    initial_share: np.ndarray  # (NP,)
    # Problems under way when the burn-in starts began up to this long before it (uniformly). Not a parameter: the
    # burn-in forgets it, which tests/test_measured.py checks against spells that all begin at the first instant.
    initial_elapsed_years: float
    pilot_years: float  # a pilot population this long before the burn-in starts it (0: no pilot)
    pilot_share: float  # the pilot's size as a share of ``families``
    frailty_variance: float
    councils: int
    programmes: tuple[ProgrammeSpec, ...]
    prog_onset: np.ndarray  # (P, NP) log hazard ratios
    prog_resolution: np.ndarray
    turns_around: np.ndarray  # (P,) bool
    prog_factor_bits: np.ndarray  # (P,) uint16 risk factors a family must all have to be eligible
    prog_problem_mask: np.ndarray  # (P,) uint16 problems a family must all have to be referred
    tables: dict  # the kernel's problem, event and classification constants (see kernel.Constants)
    id_fip: float
    id_new: float
    rollout_t: np.ndarray
    rollout_share: np.ndarray
    finance: object
    council_cum: np.ndarray | None = None  # (2, K + 1, C) cumulative council shares by family type and disadvantage
    programme_2012: Programme2012Spec | None = None  # the councils' administration of the 2012 programme

    @property
    def key_worker(self) -> int:
        names = [p.name for p in self.programmes]
        return names.index("key_worker") if "key_worker" in names else -1

    @property
    def referred(self) -> list[int]:
        return [i for i, p in enumerate(self.programmes) if p.referral == "rate"]

    @property
    def groups(self) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for i, p in enumerate(self.programmes):
            if p.exclusive_group:
                out.setdefault(p.exclusive_group, []).append(i)
        return out

    def change_times(self) -> list[float]:
        times = set(self.rollout_t.tolist()) | {p.open_t for p in self.programmes if np.isfinite(p.open_t)}
        return sorted(t for t in times if self.t_start < t < self.t_end)

    def changed_states(self, t: float) -> np.ndarray:
        lut = np.zeros(OUT + 1, bool)
        kw = self.key_worker
        if kw >= 0 and (t in self.rollout_t.tolist() or t == self.programmes[kw].open_t):
            lut |= self.programmes[kw].eligible
        for i in self.referred:
            if t == self.programmes[i].open_t:
                lut |= self.programmes[i].eligible
        return lut


def _weibull_scale(mean: float, shape: float) -> float:
    """The scale of a Weibull with this mean and shape."""
    return mean / math.gamma(1.0 + 1.0 / shape)


def survey_wave_times(p) -> tuple[float, ...]:
    """The survey waves in model years, a year apart up to ``survey.last_wave``, exactly on the month grid."""
    last = round(to_years(p.survey.last_wave, p.time.start) * 12)
    return tuple((last - 12 * (p.survey.waves - 1 - w)) / 12 for w in range(p.survey.waves))


def _attrition_at_risk(scenario) -> float:
    """``survey.attrition_at_risk`` where the scenario sets it, otherwise ``survey.attrition`` (as its text says)."""
    survey = scenario.params.survey
    own = survey.attrition_at_risk
    return own if "survey.attrition_at_risk" in scenario.origins else survey.attrition


def compile_spec(scenario) -> ModelSpec:
    """The model v2 specification of a validated :class:`~flowsim.scenario.Scenario`."""
    p = scenario.params
    start = p.time.start
    scale = p.population.scale
    wave_t = survey_wave_times(p)
    t_start = wave_t[0]
    t_end = end_of_day_years(p.time.end, start)
    prob = p.problems
    defs = [getattr(prob, n) for n in PROBLEM_NAMES]
    rf = p.risk_factors
    prevalence = np.array([getattr(rf, f).prevalence for f in FACTOR_NAMES])
    loading = np.array([getattr(prob.factor_loading, f) for f in FACTOR_NAMES])
    log_entry = np.array([math.log(getattr(rf, f).entry_hr) for f in FACTOR_NAMES])
    risk_index = _bits_table(log_entry)  # (2**NF,) the risk index of every combination of factors
    rs = prob.risk_index_scale
    onset_log = np.empty((1 << NF, NP))
    res_log = np.zeros((1 << NF, NP))
    for j, d in enumerate(defs):
        hr_on = np.zeros(NF)
        for f, v in _pairs(d, "onset_hr"):
            hr_on[_FI[f]] = math.log(v)
        hr_res = np.zeros(NF)
        for f, v in _pairs(d, "end_hr"):
            hr_res[_FI[f]] = math.log(v)
        base = math.log(d.onset_rate_per_year) if d.onset_rate_per_year > 0 else -np.inf
        child = 1.0 if j not in _CHILD else min(prob.child_link_scale, 1.0)
        onset_log[:, j] = base + d.risk_index_loading * rs * child * risk_index + _bits_table(hr_on)
        res_log[:, j] = _bits_table(hr_res)
    co_on, co_res = np.zeros((NP, NP)), np.zeros((NP, NP))
    link_start, link_end = np.zeros((NP, NP)), np.zeros((NP, NP))
    for j, d in enumerate(defs):
        for q, v in _pairs(d, "onset_hr_with"):
            co_on[_PI[q], j] = math.log(v) * _link_scale(_PI[q], j, prob)
        for q, v in _pairs(d, "end_hr_with"):
            co_res[_PI[q], j] = math.log(v)
        for q, v in _pairs(d, "starts"):
            link_start[j, _PI[q]] = v
        for q, v in _pairs(d, "ends"):
            link_end[j, _PI[q]] = v
    ev = [getattr(p.events, n) for n in EVENT_NAMES]
    trig_log = np.empty((1 << NF, NT))
    trig_co = np.zeros((NP, NT))
    trig_start, trig_end = np.zeros((NT, NP)), np.zeros((NT, NP))
    for k, e in enumerate(ev):
        base = math.log(e.rate_per_year) if e.rate_per_year > 0 else -np.inf
        trig_log[:, k] = base + e.risk_index_loading * risk_index
        for q, v in _pairs(e, "hr_with"):
            trig_co[_PI[q], k] = math.log(v)
        for q, v in _pairs(e, "starts"):
            trig_start[k, _PI[q]] = v
        for q, v in _pairs(e, "ends"):
            trig_end[k, _PI[q]] = v
    crisis_start = np.array([d.crisis_share for d in defs])
    crisis_start[_CHILD] *= min(prob.child_link_scale, 1.0)
    lam = np.array([_weibull_scale(d.duration_years, d.duration_shape) for d in defs])
    lam_c = np.array([_weibull_scale(d.crisis_duration_years, d.crisis_duration_shape) for d in defs])
    cl = p.classification
    programmes = _programmes(p, start, scale)
    prog_onset, prog_res = _programme_effects(p, programmes)
    names = [pr.name for pr in programmes]
    turns = np.array([getattr(p.programmes, n).turns_around for n in names], bool)
    tables = {
        "onset_log": onset_log,
        "res_log": res_log,
        "co_on": co_on,
        "co_res": co_res,
        "link_start": link_start,
        "link_end": link_end,
        "lam": lam,
        "shape": np.array([d.duration_shape for d in defs]),
        "lam_c": lam_c,
        "shape_c": np.array([d.crisis_duration_shape for d in defs]),
        "frailty_on": np.ones(NP + 1) if prob.frailty_variance > 0 else np.zeros(NP + 1),
        "frailty_res": float(prob.frailty_resolution_exponent),
        "trig_log": trig_log,
        "trig_co": trig_co,
        "trig_start": trig_start,
        "trig_end": trig_end,
        "trig_crisis": np.array([e.crisis_share for e in ev]),
        "crisis_start": crisis_start,
        "lone_bit": _FI["lone_parent"],
        "under5_bit": _FI["child_under_5"],
        "under5_years": 5.0,
        "workless": _PI["workless"],
        "exit_rate": float(p.population.exit_rate_per_year),
        "risk_mask": np.uint16(_mask(cl.at_risk_problems, _PI)),
        "risk_k": int(cl.at_risk_min_problems),
        "child_mask": np.uint16(_mask(CHILD, _PI)),
        "driver_mask": np.uint16(_mask(cl.flow_drivers, _PI)),
        "driver_factors": np.uint16(_mask(cl.flow_driver_factors, _FI)),
        "driver_k": int(cl.flow_min_drivers),
        "setf_mask": np.uint16(_mask(SETF_SEVEN, _PI)),
        "troubled_mask": np.uint16(_mask(FRAMEWORK, _PI)),
        "local_mask": np.uint16(_mask(cl.local_criteria, _PI)),
        "target": TARGETS.index(p.target.population),
        "followup_years": float(cl.followup_years),
        "prog_on": prog_onset,
        "prog_res": prog_res,
        "turns_around": turns,
    }
    rollout_t, rollout_share = step_values(p.identification.rollout, start)
    admin = _councils(p, start, scale, t_end, names)
    return ModelSpec(
        start=start,
        deadline=p.time.deadline,
        t_start=t_start,
        t_end=t_end,
        t_deadline=end_of_day_years(p.time.deadline, start),
        t_init=t_start - p.population.burn_in_years,
        waves=p.survey.waves,
        wave_t=wave_t,
        attrition=(float(p.survey.attrition), float(_attrition_at_risk(scenario))),
        scale=scale,
        target_count=p.target.count_families * scale,
        target=p.target.population,
        families=round(p.population.families_with_children * scale),
        sample_weight=int(p.population.sample_weight),
        exit_rate=float(p.population.exit_rate_per_year),
        factor_prevalence=prevalence,
        factor_loading=loading,
        initial_share=np.array([d.initial_share for d in defs]),
        initial_elapsed_years=3.0,
        pilot_years=float(p.population.pilot_years),
        pilot_share=float(p.population.pilot_share),
        frailty_variance=float(prob.frailty_variance),
        councils=admin.pop("councils", p.identification.councils),
        programmes=programmes,
        prog_onset=prog_onset,
        prog_resolution=prog_res,
        turns_around=turns,
        prog_factor_bits=np.array([_requirements(getattr(p.programmes, n))[0] for n in names], np.uint16),
        prog_problem_mask=np.array([_requirements(getattr(p.programmes, n))[1] for n in names], np.uint16),
        tables=tables,
        id_fip=p.identification.fip_rate_per_year,
        id_new=p.identification.new_approach_rate_per_year,
        rollout_t=rollout_t,
        rollout_share=rollout_share,
        finance=_framework(p, start, t_end, "key_worker" in names),
        **admin,
    )


#: The programme whose detection of children in need reaches the councils' records.
_FNP = "family_nurse_partnership"


def _councils(p, start: dt.date, scale: float, t_end: float, programmes: list[str]) -> dict:
    """The 2012 councils (their shares of families, in roll-out order) and their administration, if switched on."""
    cfg = p.programme_2012
    if not cfg.enabled:  # when it is, the scenario has checked that key workers run (scenario._check_consistency)
        return {}
    rows = council_rows()
    if cfg.council != "all":
        rows = tuple(r for r in rows if r["council"] == cfg.council)
    rows = [rows[i] for i in council_order(rows)]
    fin = _framework(p, start, t_end, True)
    published = np.array([r["allocation"] for r in rows], np.int64)
    national = sum(r["allocation"] for r in council_rows())
    rec = [getattr(cfg.records, d) for d in RECORD_DOMAINS]
    admin = Programme2012Spec(
        names=tuple(r["council"] for r in rows),
        allocation=np.round(published * scale).astype(np.int64),
        allocation_published=published,
        framework=tuple(_PI[n] for n in FRAMEWORK),
        local=tuple(_PI[n] for n in p.classification.local_criteria),
        local_wide=tuple(_PI[n] for n in p.classification.at_risk_problems if n not in FRAMEWORK),
        widen=bool(cfg.councils.widen),
        widen_after=float(cfg.councils.widen_after_years),
        front_load=bool(cfg.councils.front_load),
        attach_by=to_years(cfg.councils.attach_by, start),
        later_pace=float(cfg.councils.later_pace),
        choose_improving=bool(cfg.councils.choose_improving),
        retrospective=bool(cfg.councils.retrospective),
        lag=np.array([r.lag_years for r in rec]),
        lookback=np.array([r.lookback_years for r in rec]),
        miss=np.array([r.miss for r in rec]),
        detection=(
            (_PI["child_in_need"], programmes.index(_FNP), float(cfg.records.local.fnp_detection_ratio))
            if _FNP in programmes
            else None
        ),
        available_t=np.array([to_years(r.available_from, start) for r in rec]),
        search_rate=float(cfg.search_rate_per_year),
        identify_up_to=float(cfg.identify_up_to),
        pace=float(cfg.pace),
        year_one_share=float(cfg.year_one_share),
        assurance_share=float(cfg.assurance_share),
        assurance_t=to_years(cfg.assurance_date, start),
        evidence_years=np.array([cfg.evidence.crime_asb_years, cfg.evidence.education_years]),
        asb_fall=float(cfg.rules.asb_fall),
        offending_fall=float(cfg.rules.offending_fall),
        max_exclusions=int(cfg.rules.max_exclusions),
        max_absence=float(cfg.rules.max_unauthorised_absence),
        windows_after=bool(cfg.rules.windows_after_attachment),
        employment_weeks=(float(cfg.rules.employment_weeks_jsa), float(cfg.rules.employment_weeks_other)),
        lone_bit=_FI["lone_parent"],
        illness=_PI["parental_illness"],
        asb_per_half_year=float(cfg.intensity.asb_per_half_year),
        asb_shape=float(cfg.intensity.asb_shape),
        offences_per_half_year=float(cfg.intensity.offences_per_half_year),
        offences_shape=float(cfg.intensity.offences_shape),
        month_shape=float(cfg.intensity.month_shape),
        absence_share=float(cfg.intensity.absence_share),
        absence_spread=float(cfg.intensity.absence_spread),
        background_absence=float(cfg.intensity.background_absence),
        exclusions_per_year=float(cfg.intensity.exclusions_per_year),
        # England's places, in the share of the national allocation these councils hold at this scale
        esf_per_month=float(cfg.progress.esf_places_per_year) * scale * published.sum() / national / 12.0,
        start_t=fin.start_t,
        end_t=fin.end_t,
        attach_t=fin.attach_t,
        claim_t=fin.claim_t,
    )
    cum = council_cumulative(rows, float(cfg.councils.deprivation_power))
    return {"councils": len(rows), "council_cum": cum, "programme_2012": admin}


def _framework(p, start: dt.date, t_end: float, key_worker: bool):
    """The 2012 financial framework's attachments and claims. Model v2 applies its definition of results to every
    run with key workers (the money follows only when ``finance.enabled``): measure (b) of turned around."""
    fin = _finance(p, start, t_end, key_worker)
    if fin.enabled or not key_worker:
        return fin
    on = _finance(p.model_copy(update={"finance": p.finance.model_copy(update={"enabled": True})}), start, t_end, True)
    return replace(on, enabled=False)


def _pairs(section, name: str) -> list[tuple[str, float]]:
    """The (key, value) pairs of a sparse table of parameters, or none if the registry declares none."""
    table = getattr(section, name, None)
    return list(table) if table is not None else []


def _bits_table(log_values: np.ndarray) -> np.ndarray:
    """For every combination of factor bits (rows), the sum of ``log_values`` over the bits set."""
    n = log_values.size
    bits = (np.arange(1 << n)[:, None] >> np.arange(n)) & 1
    return bits @ log_values


def _link_scale(q: int, p: int, prob) -> float:
    """The calibration handle that scales the log hazard ratio of problem ``q`` on the onset of ``p``."""
    if p in _CHILD:
        return prob.child_link_scale
    if q in _HOUSEHOLD and p in _HOUSEHOLD:
        return prob.household_link_scale
    if q in _ADULT and p in _ADULT:
        return prob.adult_link_scale
    return 1.0


def _programme_effects(p, programmes) -> tuple[np.ndarray, np.ndarray]:
    onset = np.zeros((len(programmes), NP))
    res = np.zeros((len(programmes), NP))
    for k, prog in enumerate(programmes):
        cfg = getattr(p.programmes, prog.name)
        for problem, v in _pairs(cfg, "onset_hr"):
            onset[k, _PI[problem]] = math.log(v)
        for problem, v in _pairs(cfg, "resolution_hr"):
            res[k, _PI[problem]] = math.log(v)
        share = getattr(cfg, "key_worker_effect_share", 0.0)  # the key worker has none
        if share:
            for problem, v in _pairs(p.programmes.key_worker, "resolution_hr"):
                res[k, _PI[problem]] += share * math.log(v)
    return onset, res


def _requirements(cfg) -> tuple[int, int]:
    """(factor bits, problem bits) a programme requires: its ``requires`` and its ``requires_domains``."""
    return _mask(cfg.requires, _FI), _mask(cfg.requires_domains, _PI)


def eligible_states(names) -> np.ndarray:
    lut = np.zeros(OUT + 1, bool)
    lut[[{"G": G, "R": R, "H": H, "S": S}[s] for s in names]] = True
    return lut


def _programmes(p, start: dt.date, scale: float) -> tuple[ProgrammeSpec, ...]:
    running = [(prog.name, getattr(p.programmes, prog.name)) for prog in PROGRAMMES]
    running = [(name, cfg) for name, cfg in running if cfg.enabled]
    if len(running) > MAX_PROGRAMMES:
        raise ValueError(f"the kernel's programme bit masks hold at most {MAX_PROGRAMMES} programmes")
    index = {name: i for i, (name, _) in enumerate(running)}
    out = []
    for name, cfg in running:
        st, staff = step_values(cfg.staff, start, scale * cfg.caseload)
        pt, per_year = step_values(cfg.places_per_year, start, scale * cfg.duration_mean_years)
        times = np.union1d(st, pt)
        places = np.array([step_at(st, staff, t) + step_at(pt, per_year, t) for t in times])
        # A programme takes referrals from the first time it has places; one that never has any changes nothing.
        has = np.flatnonzero(places > 0)
        eligible = eligible_states(cfg.eligible_states)
        out.append(
            ProgrammeSpec(
                name=name,
                capacity_times=times,
                capacity_places=places,
                open_t=float(times[has[0]]) if has.size else np.inf,
                duration_mean_years=cfg.duration_mean_years,
                duration_shape=cfg.duration_shape,
                p_dropout=cfg.p_dropout,
                referral=cfg.referral,
                referral_rate_per_year=cfg.referral_rate_per_year,
                eligible=eligible,
                requires_programmes=tuple(index[n] for n in cfg.requires_programmes if n in index),
                needs_any=bool(cfg.requires_programmes),
                exclusive_group=cfg.exclusive_group,
                p_accept=cfg.p_accept,
                effect_years_after=cfg.effect_years_after,
                cost_per_family_gbp=cfg.cost_per_family_gbp,
            )
        )
    return tuple(out)


def _finance(p, start: dt.date, t_end: float, key_worker_runs: bool) -> FinanceSpec:
    fin = p.finance
    attach_t, _ = step_values(fin.attachment_share, start)
    first = to_years(fin.first_claim, start)
    step = fin.claim_interval_years
    n = int(np.floor((t_end - first) / step)) + 1 if first < t_end else 0
    t_start = survey_wave_times(p)[0]
    claims = tuple(first + k * step for k in range(max(n, 0)) if first + k * step > t_start)
    enabled = fin.enabled and key_worker_runs
    return FinanceSpec(
        enabled=enabled,
        start_t=to_years(fin.programme_start, start),
        end_t=end_of_day_years(fin.programme_end, start),
        attach_t=attach_t,
        min_problems=fin.min_problems,
        claim_t=claims if enabled else (),
        evidence_years=fin.evidence_years,
        employment_years=fin.employment_weeks / 52.18,
    )


assert codes.N_TRIGGERS == NT, "the kernel's trigger kinds follow registry_problems.EVENT_NAMES"
