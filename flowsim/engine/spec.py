"""From a validated Scenario to the frozen model specification the engine runs.

This is the only engine module that reads the parameter registry: it turns
a scenario's parameters into times in model years, lookup tables by state
code, per-programme arrays and the population's hazard ratios. Everything
downstream (population, model, kernel, payment) reads the
:class:`ModelSpec`, never the scenario.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from flowsim.engine.codes import OUT, G, H, R, S, T
from flowsim.engine.population import PopulationModel
from flowsim.scenario.registry import DOMAINS, PROGRAMMES, RISK_FACTORS, TRIGGERS
from flowsim.timeline import end_of_day_years, step_at, step_values, to_years

_STATE_CODE = {"R": R, "H": H, "S": S}
_FACTOR_INDEX = {f.name: i for i, f in enumerate(RISK_FACTORS)}
#: The kernel's programme bit masks are int64.
MAX_PROGRAMMES = 62


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
    requires_factors: tuple[int, ...]  # risk-factor indices a family must all have
    requires_programmes: tuple[int, ...]  # running programmes, one of which the family must attend
    needs_any: bool  # requires_programmes was not empty (none running: never referred)
    requires_domains: int  # problem bits that must all be present
    exclusive_group: str
    p_accept: float
    escalation_effect: float
    deescalation_multiplier: float
    effect_years_after: float
    domain_effect: tuple[float, float, float]  # crime/ASB, education, worklessness
    p_success: float
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
    """Everything one replication needs, in model years from ``start``, counts already scaled."""

    start: dt.date
    deadline: dt.date
    t_start: float  # the first survey wave (negative)
    t_end: float
    t_deadline: float
    waves: int
    scale: float
    target_count: float
    universe: str
    families_with_children: float  # scaled
    initial_at_risk: int  # scaled and rounded
    initial_flow_group: int
    initial_stock: int
    population: PopulationModel
    other_exit_rate: float
    # ladder dynamics, per state code
    up: np.ndarray  # escalation (entry from G, relapse from T) hazard
    down: np.ndarray  # de-escalation (sustain from T) hazard
    boostable: np.ndarray  # a trigger window raises the up hazard
    boost: float
    window: float
    spell_shape: float
    spell_scale: float
    domain_share: np.ndarray  # (state, domain) chance of each problem
    birth: int  # index of the birth trigger
    # identification and programmes
    id_fip: float
    id_new: float
    councils: int
    rollout_t: np.ndarray
    rollout_share: np.ndarray
    programmes: tuple[ProgrammeSpec, ...]
    finance: FinanceSpec

    @property
    def key_worker(self) -> int:
        """Index of the key-worker programme among those running, or -1."""
        names = [p.name for p in self.programmes]
        return names.index("key_worker") if "key_worker" in names else -1

    @property
    def groups(self) -> dict[str, list[int]]:
        """Exclusive groups: name -> running programmes in it."""
        out: dict[str, list[int]] = {}
        for i, p in enumerate(self.programmes):
            if p.exclusive_group:
                out.setdefault(p.exclusive_group, []).append(i)
        return out

    @property
    def referred(self) -> list[int]:
        """Programmes whose families are referred at a rate (the rest follow identification)."""
        return [i for i, p in enumerate(self.programmes) if p.referral == "rate"]

    def change_times(self) -> list[float]:
        """Times when hazards change for many families at once: roll-out steps, programmes opening."""
        times = set(self.rollout_t.tolist()) | {p.open_t for p in self.programmes if np.isfinite(p.open_t)}
        return sorted(t for t in times if self.t_start < t < self.t_end)

    def changed_states(self, t: float) -> np.ndarray:
        """Bool per state code: whose hazards change at calendar time ``t`` (see :meth:`change_times`).

        A roll-out step or the key-worker programme opening changes the identification
        hazard of families in S; a programme opening to referrals changes the referral
        hazard of the states it takes. No other hazard depends on the calendar.
        """
        lut = np.zeros(OUT + 1, bool)
        kw = self.key_worker
        if kw >= 0 and (t in self.rollout_t.tolist() or t == self.programmes[kw].open_t):
            lut[S] = True
        for i in self.referred:
            if t == self.programmes[i].open_t:
                lut |= self.programmes[i].eligible
        return lut


def compile_spec(scenario) -> ModelSpec:
    """The model specification of a validated :class:`~flowsim.scenario.Scenario`."""
    p = scenario.params
    start = p.time.start
    scale = p.population.scale
    t_end = end_of_day_years(p.time.end, start)
    d = p.dynamics
    up = np.zeros(OUT + 1)
    up[[G, R, H, T]] = [d.entry_rate_per_year, d.escalation_R_per_year, d.escalation_H_per_year, d.relapse_per_year]
    down = np.zeros(OUT + 1)
    down[[H, S, T]] = [d.deescalation_H_per_year, d.deescalation_S_per_year, d.sustain_per_year]
    boostable = np.zeros(OUT + 1, bool)
    boostable[[G, R, H, T]] = True
    domain_share = np.zeros((OUT + 1, len(DOMAINS)))
    for j, domain in enumerate(DOMAINS):
        for name, code in (("G", G), ("R", R), ("H", H), ("S", S), ("T", T)):
            domain_share[code, j] = getattr(getattr(p.outcomes, domain), f"share_{name}")
    rollout_t, rollout_share = step_values(p.identification.rollout, start)
    programmes = _programmes(p, start, scale)
    pop = p.population
    return ModelSpec(
        start=start,
        deadline=p.time.deadline,
        t_start=-(p.survey.waves - 1),
        t_end=t_end,
        t_deadline=end_of_day_years(p.time.deadline, start),
        waves=p.survey.waves,
        scale=scale,
        target_count=p.target.count_families * scale,
        universe=pop.universe,
        families_with_children=pop.families_with_children * scale,
        initial_at_risk=round(pop.initial_at_risk * scale),
        initial_flow_group=round(pop.initial_flow_group * scale),
        initial_stock=round(pop.initial_stock * scale),
        population=_population(p),
        other_exit_rate=pop.other_exit_rate_per_year,
        up=up,
        down=down,
        boostable=boostable,
        boost=p.triggers.boost_per_year,
        window=p.triggers.window_years,
        spell_shape=d.spell_shape,
        spell_scale=d.spell_mean_years / d.spell_shape,
        domain_share=domain_share,
        birth=[t.name for t in TRIGGERS].index("birth"),
        id_fip=p.identification.fip_rate_per_year,
        id_new=p.identification.new_approach_rate_per_year,
        councils=p.identification.councils,
        rollout_t=rollout_t,
        rollout_share=rollout_share,
        programmes=programmes,
        finance=_finance(p, start, t_end, any(prog.name == "key_worker" for prog in programmes)),
    )


def _population(p) -> PopulationModel:
    rf = p.risk_factors
    prev = np.array([getattr(rf, f.name).prevalence for f in RISK_FACTORS])
    entry = np.array([getattr(rf, f.name).entry_hr for f in RISK_FACTORS]) ** p.population.entry_hr_exponent
    esc = np.array([getattr(rf, f.name).escalation_hr for f in RISK_FACTORS])
    return PopulationModel(
        prevalence=prev,
        log_entry_hr=np.log(entry),
        log_esc_hr=np.log(esc),
        # With independent factors the population mean of a product of
        # hazard ratios is the product of per-factor means.
        entry_norm=float(np.prod(1 - prev + prev * entry)),
        esc_norm=float(np.prod(1 - prev + prev * esc)),
        frailty_variance=p.population.frailty_variance,
        child_age_limit=p.population.child_age_limit_years,
        councils=p.identification.councils,
        trigger_base=np.array([getattr(p.triggers, t.name).rate_per_year for t in TRIGGERS]),
        trigger_driver=np.array([_FACTOR_INDEX[t.driver] for t in TRIGGERS]),
        trigger_driver_hr=np.array([getattr(p.triggers, t.name).driver_hr for t in TRIGGERS]),
        under5=_FACTOR_INDEX["child_under_5"],
    )


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
        eligible = np.zeros(OUT + 1, bool)
        eligible[[_STATE_CODE[s] for s in cfg.eligible_states]] = True
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
                requires_factors=tuple(_FACTOR_INDEX[r] for r in cfg.requires),
                requires_programmes=tuple(index[n] for n in cfg.requires_programmes if n in index),
                needs_any=bool(cfg.requires_programmes),
                requires_domains=sum(1 << DOMAINS.index(d) for d in cfg.requires_domains),
                exclusive_group=cfg.exclusive_group,
                p_accept=cfg.p_accept,
                escalation_effect=cfg.escalation_effect,
                deescalation_multiplier=cfg.deescalation_multiplier,
                effect_years_after=cfg.effect_years_after,
                domain_effect=(cfg.crime_effect, cfg.education_effect, cfg.work_effect),
                p_success=cfg.p_success,
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
    t_start = -(p.survey.waves - 1)
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
