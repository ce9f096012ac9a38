"""The parameter registry: every scenario parameter declared once.

Each :class:`Param` has a dotted path, a default, a unit, an allowed range
and a source. A source is a seed reference (``seed 000 slide 4``), a
published figure (``ref: <name>`` from REFERENCE_FIGURES.md), an
``assumption: <reason>`` or ``calibrated``. The pydantic scenario models are
built from this registry, so a parameter cannot exist without a source.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from flowsim.scenario.registry_problems import FACTOR_NAMES, PROBLEM_NAMES, problem_params
from flowsim.scenario.registry_programme_2012 import programme_2012_params

D = dt.date

#: A piecewise-constant schedule: ``[[date, value], ...]`` sorted by date.
Schedule = list[tuple[dt.date, float]]


@dataclass(frozen=True)
class Param:
    """One scenario parameter.

    Attributes:
        path: dotted key, e.g. ``programmes.key_worker.caseload``.
        default: value used when no scenario file sets it; its type is the
            parameter's type (a list of ``(date, number)`` pairs is a schedule).
        unit: unit in plain words, e.g. ``families per key worker``.
        source: ``seed NNN ...``, ``ref: ...``, ``assumption: ...`` or ``calibrated``.
        lo, hi: inclusive bounds for numbers (and for schedule values).
        choices: allowed values for a string or list-of-strings parameter.
        doc: one line saying what the parameter does.
    """

    path: str
    default: Any
    unit: str
    source: str
    doc: str
    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] | None = None
    is_schedule: bool = False

    @property
    def label(self) -> str:
        """How a chart or a line of text names the parameter (:func:`parameter_label`)."""
        return parameter_label(self.path)

    def __post_init__(self) -> None:
        ok = self.source.startswith(("seed ", "ref: ", "assumption: ")) or (
            self.source == "calibrated" or self.source.startswith("calibrated ")
        )
        if not ok:
            raise ValueError(f"{self.path}: source {self.source!r} is not a seed, ref, assumption or calibrated")


def _p(path: str, default: Any, unit: str, source: str, doc: str, lo=None, hi=None, choices=None) -> Param:
    return Param(path, default, unit, source, doc, lo, hi, choices)


def _sched(path: str, default: Schedule, unit: str, source: str, doc: str, lo=0.0, hi=None) -> Param:
    return Param(path, default, unit, source, doc, lo, hi, None, True)


_CORE: list[Param] = [
    # --- time -------------------------------------------------------------
    _p(
        "time.start",
        D(2010, 4, 1),
        "date",
        "seed 000 slide 2",
        "Policy start: the campaign is measured from April 2010, the start of the Parliament's first full financial year.",
    ),
    _p(
        "time.end",
        D(2015, 5, 31),
        "date",
        "seed 000 slide 2",
        "Last simulated day: the end of the Parliament (May 2015); may run on to 2020.",
    ),
    _p(
        "time.deadline",
        D(2015, 5, 31),
        "date",
        "seed 000 slide 2",
        "The day by which every troubled family should be turned around.",
    ),
    # --- survey -------------------------------------------------------------
    _p(
        "survey.waves",
        6,
        "yearly waves",
        "seed 000 slide 4",
        "Families and Children Study waves observed before the start, yearly, with no new policy.",
        lo=2,
        hi=8,
    ),
    _p(
        "survey.last_wave",
        D(2008, 10, 1),
        "date",
        "assumption: FACS covered all families with children from wave 3 (2001) to its last wave (2008; UK Data "
        "Service SN 4427); no source found says which six-year window the DfE's 2011 analysis used, so the latest "
        "(2003-2008) is taken, the one a 2011 analysis could use and the nearest the policy period (2001-2006 is the "
        "alternative: calibration/sources/survey_and_persistence.md); fieldwork months not found: October assumed",
        "Date of the last survey wave observed (the others a year apart before it); before time.start.",
    ),
    _p(
        "survey.attrition",
        0.12,
        "share a year",
        "assumption: FACS's own year-on-year panel response was not found (DWP RR486 section 1.1.5 reports it); "
        "12% a year is the one-year loss of the Three-City Study's low-income families, the only panel figure "
        "found; a plausible range is 8-20%",
        "Panel attrition: the chance a family interviewed at one wave is not interviewed at the next although still "
        "in the population (only the readings of the survey statistics 'with attrition' use it).",
        lo=0,
        hi=0.5,
    ),
    _p(
        "survey.attrition_at_risk",
        0.12,
        "share a year",
        "assumption: no source found on whether FACS lost disadvantaged families faster; the same as "
        "survey.attrition unless set (panels usually lose poorer families faster)",
        "Panel attrition of a family at risk at the wave it was last interviewed (survey.attrition's value unless "
        "set).",
        lo=0,
        hi=0.5,
    ),
    # --- target -------------------------------------------------------------
    _p(
        "target.count_families",
        46_000,
        "families",
        "seed 000 slide 8",
        "Families to turn around by the deadline: the stock of 40-50,000, central 46k.",
        lo=0,
        hi=2e7,
    ),
    _p(
        "target.population",
        "stock",
        "classification",
        "seed 000 slide 2 (the stock of families with multiple problems and child/youth problems is to be turned "
        "around)",
        "Model v2: the population whose families count as turned around when they leave it (and stay out six months).",
        choices=("stock", "at_risk", "flow_group", "troubled", "multiply_disadvantaged"),
    ),
    # --- population -----------------------------------------------------------
    _p(
        "population.families_with_children",
        5_800_000,
        "families",
        "seed 000 slide 4",
        "Families with dependent children in England (290k is 5%).",
        lo=1,
        hi=2e7,
    ),
    _p(
        "population.scale",
        1.0,
        "multiple of England",
        "assumption: 1.0 simulates all of England; smaller values give quick runs, larger ones "
        "(up to 10) an imaginary larger country for scaling benchmarks",
        "Every count and capacity is multiplied by this; results are in simulated families.",
        lo=1e-4,
        hi=10.0,
    ),
    # --- identification -----------------------------------------------------------
    _p(
        "identification.fip_rate_per_year",
        0.30,
        "per family-year",
        "assumption: FIP referrals (12,850 in 4 years, ref: NatCen 2011) found stock families everywhere at a low rate",
        "Hazard that a family in S is referred to key-worker intervention outside the new approach.",
        lo=0,
        hi=50,
    ),
    _p(
        "identification.new_approach_rate_per_year",
        1.5,
        "per family-year",
        "assumption: the new approach identifies stock families actively; mean time to be found ~8 months",
        "Extra hazard of referral for a family in S in a council where the new approach operates.",
        lo=0,
        hi=50,
    ),
    _p(
        "identification.councils",
        152,
        "upper-tier councils",
        "ref: DCLG 2012",
        "Councils in England; families are spread evenly among them.",
        lo=1,
        hi=500,
    ),
    _sched(
        "identification.rollout",
        [(D(2011, 4, 1), 0.20), (D(2012, 4, 1), 0.50), (D(2013, 4, 1), 0.90)],
        "share of councils",
        "seed 000 slides 5 and 13",
        "Share of councils where the new approach operates, from each date.",
        lo=0.0,
        hi=1.0,
    ),
]


@dataclass(frozen=True)
class RiskFactor:
    name: str
    prevalence: float
    entry_hr: float
    source: str


# Seed 000 slide 4 (risk of social exclusion) and seed 001 (parent-based drivers
# of poor child outcomes) name the factors; neither gives prevalences or hazard
# ratios in a usable form, so every number here is an assumption with a reason.
# Parental problems the seeds also name (worklessness, mental health, conflict and
# violence, substance misuse, offending, homelessness) are problems, not factors
# (registry_problems.PROBLEMS).
RISK_FACTORS: tuple[RiskFactor, ...] = (
    RiskFactor("lone_parent", 0.25, 2.5, "seed 000 slide 4"),
    RiskFactor("four_plus_children", 0.04, 2.0, "seed 000 slide 4"),
    RiskFactor("child_under_5", 0.40, 1.4, "seed 000 slide 4"),
    RiskFactor("young_mother", 0.05, 2.0, "seed 000 slide 4"),
    RiskFactor("low_maternal_education", 0.15, 2.0, "seed 000 slide 4"),
    RiskFactor("social_tenant", 0.17, 2.0, "seed 000 slide 4"),
    RiskFactor("urban", 0.80, 1.3, "seed 000 slide 4"),
    RiskFactor("poor_home_learning", 0.15, 1.2, "seed 000 slide 4"),
    # protective factors (seed 001): hazard ratios below 1
    RiskFactor("authoritative_parenting", 0.50, 0.8, "seed 001 (protective)"),
    RiskFactor("strong_family_relationships", 0.60, 0.8, "seed 001 (protective)"),
    RiskFactor("extended_family_support", 0.50, 0.9, "seed 001 (protective)"),
)
assert tuple(f.name for f in RISK_FACTORS) == FACTOR_NAMES, (
    "risk factors are the bits of registry_problems.FACTOR_NAMES"
)


def _risk_factor_params() -> list[Param]:
    out = []
    for f in RISK_FACTORS:
        why = f"named in {f.source}; no prevalence or effect size given, so"
        out += [
            _p(
                f"risk_factors.{f.name}.prevalence",
                f.prevalence,
                "share of families with children",
                f"assumption: {why} a round figure for England's families with children",
                f"Share of families with children who have {f.name.replace('_', ' ')}.",
                lo=0,
                hi=1,
            ),
            _p(
                f"risk_factors.{f.name}.entry_hr",
                f.entry_hr,
                "hazard ratio",
                f"assumption: {why} a moderate hazard ratio on the risk of problems beginning",
                "The factor's hazard ratio in the family's risk index, which scales every problem's onset hazard "
                "(by the problem's risk_index_loading) and the trigger events' rates.",
                lo=0.01,
                hi=100,
            ),
        ]
    return out


@dataclass(frozen=True)
class ProgrammeDefaults:
    """Defaults of one programme; every field becomes ``programmes.<name>.<field>``."""

    name: str
    title: str
    enabled: bool
    eligible_states: list[str]
    requires: list[str]
    referral: str  # "identification" (key worker) or "rate"
    referral_rate_per_year: float
    staff: Schedule
    caseload: float
    places_per_year: Schedule
    p_accept: float
    duration_mean_years: float
    duration_shape: float
    p_dropout: float
    effect_years_after: float
    sources: dict[str, str]
    cost_per_family_gbp: float = 0.0
    requires_programmes: list[str] = field(default_factory=list)
    requires_domains: list[str] = field(default_factory=list)
    exclusive_group: str = ""
    # Model v2: effects on problems while the family attends and for effect_years_after (sparse).
    turns_around: bool = False
    resolution_hr: dict[str, float] = field(default_factory=dict)
    onset_hr: dict[str, float] = field(default_factory=dict)
    # Model v2: a share of the key worker's log hazard ratios on ending problems, beside its own (lead workers).
    key_worker_effect_share: float = 0.0


_ONE_WORKER = "assumption: a family has one key or lead worker at a time (seed 000 slide 5: a single key worker)"
_ONE_EARLY_HELP = (
    "assumption: a family is offered one earlier intervention at a time (seed 000 slide 2: an intervention "
    "appropriate to their need)"
)
_SLIDE7 = "seed 000 slide 7 (early estimate of high-risk families supported each year)"
_FLOW_REFERRAL = (
    "assumption: services 'spot and offer help' (seed 000 slide 5); offers to eligible families are spread "
    "over the programmes in proportion to their places (seed 000 slide 7), about 0.8 offers a year in all"
)

_PLAN_PROGRAMMES: tuple[ProgrammeDefaults, ...] = (
    ProgrammeDefaults(
        "key_worker",
        "Key-worker intensive family intervention",
        True,
        ["S"],
        [],
        "identification",
        0.0,
        staff=[
            (D(2006, 4, 1), 100),
            (D(2007, 4, 1), 130),
            (D(2008, 4, 1), 165),
            (D(2009, 4, 1), 200),
            (D(2010, 4, 1), 450),
            (D(2011, 4, 1), 900),
            (D(2012, 4, 1), 1400),
            (D(2013, 4, 1), 1700),
        ],
        caseload=6.0,
        places_per_year=[(D(2011, 4, 1), 6000), (D(2015, 4, 1), 0)],
        p_accept=0.78,
        duration_mean_years=1.0,
        duration_shape=4.0,
        p_dropout=0.15,
        effect_years_after=0.0,
        cost_per_family_gbp=14000.0,
        exclusive_group="family_support",
        sources={
            "exclusive_group": _ONE_WORKER,
            "cost_per_family_gbp": "ref: DCSF 2009 (£8,000-£20,000 a family a year; mid-point, about a year)",
            "staff": (
                "assumption: FIP key workers from April 2006, sized by hand so that 4,870 families had started "
                "by 31 March 2010 (ref: OSR21/2010), then growing to the planned provision of seed 000 slide 6, "
                "enough for the whole stock to be reached by 2015"
            ),
            "caseload": "ref: NatCen 2011",
            "referral_rate_per_year": "assumption: unused here; key-worker referral follows identification (identification.*)",
            "places_per_year": "seed 000 slides 6 and 10 (extra 6,000 families a year through DWP ESF, 2011-14)",
            "p_accept": "ref: NatCen 2008 (78% of referrals meet the criteria and agree to take part)",
            "duration_mean_years": "ref: NatCen 2011",
            "duration_shape": "assumption: most interventions last 6-18 months around the one-year mean",
            "p_dropout": "assumption: NatCen reports planned and unplanned exits; 15% leave early",
            "effect_years_after": "assumption: the key worker acts while the family is supported; what lasts is the problems that ended then (no study measures a lasting change of hazards)",
        },
    ),
    ProgrammeDefaults(
        "edge_of_care",
        "Evidence-based programme for children on the edge of care",
        True,
        ["H", "S"],
        [],
        "rate",
        0.02,
        staff=[],
        caseload=1.0,
        places_per_year=[(D(2011, 4, 1), 500)],
        p_accept=0.8,
        duration_mean_years=0.5,
        duration_shape=4.0,
        p_dropout=0.15,
        effect_years_after=1.0,
        cost_per_family_gbp=10000.0,
        exclusive_group="early_help",
        sources={
            "exclusive_group": _ONE_EARLY_HELP,
            "places_per_year": _SLIDE7,
            "cost_per_family_gbp": "assumption: an evidence-based edge-of-care programme costs about as much as intensive family work",
        },
    ),
    ProgrammeDefaults(
        "family_nurse_partnership",
        "Family Nurse Partnership",
        True,
        ["R", "H"],
        ["young_mother", "child_under_5"],
        "rate",
        1.0,
        staff=[],
        caseload=1.0,
        places_per_year=[(D(2011, 4, 1), 2000)],
        p_accept=0.8,
        duration_mean_years=2.5,
        duration_shape=8.0,
        p_dropout=0.4,
        effect_years_after=0.0,
        cost_per_family_gbp=7500.0,
        exclusive_group="early_help",
        sources={
            "exclusive_group": _ONE_EARLY_HELP,
            "cost_per_family_gbp": "assumption: about £3,000 a year over 2.5 years",
            "places_per_year": _SLIDE7,
            "duration_mean_years": "ref: Robling et al. 2016 (pregnancy to the child's 2nd birthday)",
            "p_dropout": "ref: FNP licence (attrition standard 40% cumulative)",
            "effect_years_after": "ref: Building Blocks, Robling et al. 2016 (no lasting effect found)",
        },
    ),
    ProgrammeDefaults(
        "early_intervention",
        "Early intervention services and places",
        True,
        ["H"],
        [],
        "rate",
        0.45,
        staff=[],
        caseload=1.0,
        places_per_year=[(D(2011, 4, 1), 20_000)],
        p_accept=0.8,
        duration_mean_years=0.5,
        duration_shape=4.0,
        p_dropout=0.2,
        effect_years_after=1.0,
        cost_per_family_gbp=1500.0,
        exclusive_group="early_help",
        sources={
            "exclusive_group": _ONE_EARLY_HELP,
            "places_per_year": _SLIDE7,
            "cost_per_family_gbp": "assumption: a targeted early-help package",
        },
    ),
    ProgrammeDefaults(
        "childrens_centres",
        "Children's centre targeted programmes",
        True,
        ["H"],
        ["child_under_5"],
        "rate",
        1.0,
        staff=[],
        caseload=1.0,
        places_per_year=[(D(2011, 4, 1), 56_000)],
        p_accept=0.8,
        duration_mean_years=0.25,
        duration_shape=4.0,
        p_dropout=0.25,
        effect_years_after=1.0,
        cost_per_family_gbp=500.0,
        exclusive_group="early_help",
        sources={
            "exclusive_group": _ONE_EARLY_HELP,
            "places_per_year": _SLIDE7,
            "cost_per_family_gbp": "assumption: a children's centre targeted programme",
        },
    ),
    ProgrammeDefaults(
        "youth_offending",
        "Youth Offending Team parenting and family interventions",
        True,
        ["H", "S"],
        [],
        "rate",
        0.3,
        staff=[],
        caseload=1.0,
        places_per_year=[(D(2011, 4, 1), 13_000)],
        p_accept=0.8,
        duration_mean_years=0.5,
        duration_shape=4.0,
        p_dropout=0.2,
        effect_years_after=1.0,
        cost_per_family_gbp=2000.0,
        exclusive_group="early_help",
        sources={
            "exclusive_group": _ONE_EARLY_HELP,
            "places_per_year": _SLIDE7,
            "cost_per_family_gbp": "assumption: a YOT parenting or family intervention",
        },
    ),
)

_WORKERS = ("key_worker", "lead_worker", "enhanced_lead_worker")

# Services named in seeds 000, 001 and 003-004 beyond the six of the DfE plan. Each is off
# in the baseline (the June 2011 plan) and a scenario switches it on, sizes it and funds it.
_MORE_PROGRAMMES: tuple[ProgrammeDefaults, ...] = (
    ProgrammeDefaults(
        "iapt",
        "IAPT psychological therapy for parents",
        False,
        ["R", "H", "S"],
        [],
        "rate",
        4.0,
        staff=[],
        caseload=1.0,
        places_per_year=[(D(2012, 4, 1), 10_000)],
        p_accept=0.7,
        duration_mean_years=0.25,
        duration_shape=4.0,
        p_dropout=0.3,
        effect_years_after=1.0,
        cost_per_family_gbp=800.0,
        requires_programmes=list(_WORKERS),
        requires_domains=["maternal_mental_health"],
        sources={
            "requires_domains": "seed 003 (parents with mild to moderate mental health problems); seed 001 (maternal "
            "mental health)",
            "requires_programmes": "seed 003 (supported by their outreach or lead worker)",
            "places_per_year": (
                "calibrated by hand so that referrals from key and lead workers wait 8-18 weeks (seed 003): "
                "10th-90th percentiles 9.8-14.8 weeks from April 2013 (scale 0.1, seeds 1-3). Refitted when the "
                "key worker's effects took their priors (issue 30): fewer parents' problems end before a "
                "referral, and 8,500 places, set under the fitted effects, gave 14.5-20.6 weeks; 2,200, set under "
                "model v1, gave 47-71 weeks under v2. Waiting families whose problems resolve leave the list"
            ),
            "referral_rate_per_year": "assumption: workers identify mental health concerns within about three months",
            "p_accept": "assumption: a supported referral raises attendance (seed 003) from about half to 70%",
            "duration_mean_years": "assumption: time-limited therapy of about three months (seed 003)",
            "cost_per_family_gbp": "assumption: a course of low- or high-intensity therapy",
        },
    ),
    ProgrammeDefaults(
        "lead_worker",
        "Family CAF and lead-worker coordination",
        False,
        ["H", "S"],
        [],
        "rate",
        1.0,
        staff=[(D(2012, 4, 1), 1_064)],
        caseload=20.0,
        places_per_year=[],
        p_accept=0.6,
        duration_mean_years=0.75,
        duration_shape=4.0,
        p_dropout=0.2,
        effect_years_after=0.5,
        cost_per_family_gbp=3_000.0,
        exclusive_group="family_support",
        key_worker_effect_share=0.5,
        sources={
            "exclusive_group": _ONE_WORKER,
            "key_worker_effect_share": "assumption: coordination of existing services does about half of intensive "
            "key-worker work (seed 003): half the key worker's log hazard ratio on ending each problem",
            "staff": "seed 003 (Rotherham's seven coordinators) x 152 councils (ref: DCLG 2012)",
            "caseload": "assumption: a coordinator oversees about 20 Teams Around the Family at once",
            "p_accept": "assumption: lead workers from existing services are often reluctant to do more direct work (seed 003)",
            "cost_per_family_gbp": "assumption: coordination plus existing practitioners' time",
        },
    ),
    ProgrammeDefaults(
        "enhanced_lead_worker",
        "Enhanced lead worker (commissioned family support)",
        False,
        ["H", "S"],
        [],
        "rate",
        1.0,
        staff=[],
        caseload=1.0,
        places_per_year=[(D(2013, 6, 1), 15_000)],
        p_accept=0.78,
        duration_mean_years=0.75,
        duration_shape=4.0,
        p_dropout=0.15,
        effect_years_after=0.5,
        cost_per_family_gbp=5_000.0,
        exclusive_group="family_support",
        key_worker_effect_share=0.75,
        sources={
            "exclusive_group": _ONE_WORKER,
            "key_worker_effect_share": "assumption: commissioned family support, between lead-worker coordination and "
            "key-worker work (seed 003): three quarters of the key worker's log hazard ratio on ending each problem",
            "places_per_year": "assumption: seed 003's YWCA family support service from June 2013, ~100 families a year "
            "per council x 152",
            "p_accept": "ref: NatCen 2008 (78% agree to take part in intensive family support)",
            "cost_per_family_gbp": "assumption: a commissioned family support service",
        },
    ),
    ProgrammeDefaults(
        "cp_intensive_support",
        "Intensive family support alongside a child protection plan",
        False,
        ["S"],
        [],
        "rate",
        0.5,
        staff=[],
        caseload=1.0,
        places_per_year=[(D(2013, 5, 1), 2_000)],
        p_accept=0.8,
        duration_mean_years=0.5,
        duration_shape=4.0,
        p_dropout=0.15,
        effect_years_after=0.5,
        cost_per_family_gbp=6_000.0,
        requires_programmes=list(_WORKERS),
        sources={
            "places_per_year": "assumption: seed 003's MIND service from May 2013, ~13 families a year per council",
            "requires_programmes": "seed 003 (families subject to a plan and part of the Families for Change cohort)",
            "cost_per_family_gbp": "assumption: six months of intensive whole-family support",
        },
    ),
    ProgrammeDefaults(
        "parenting_in_schools",
        "Accredited parenting programmes in schools",
        False,
        ["R", "H", "S"],
        [],
        "rate",
        1.0,
        staff=[],
        caseload=1.0,
        places_per_year=[(D(2013, 1, 1), 10_800)],
        p_accept=0.6,
        duration_mean_years=0.25,
        duration_shape=8.0,
        p_dropout=0.25,
        effect_years_after=1.0,
        cost_per_family_gbp=400.0,
        requires_domains=["education"],
        sources={
            "places_per_year": "seed 004 (90 parents a quarter per council running them) x 30 councils (assumption)",
            "requires_domains": "seed 004 (repeat fixed-term exclusions or high unauthorised absence)",
            "cost_per_family_gbp": "assumption: a place on a group course",
        },
    ),
    ProgrammeDefaults(
        "family_group_conferencing",
        "Family Group Conferencing",
        False,
        ["H", "S"],
        [],
        "rate",
        0.3,
        staff=[],
        caseload=1.0,
        places_per_year=[(D(2011, 4, 1), 5_000)],
        p_accept=0.7,
        duration_mean_years=0.25,
        duration_shape=4.0,
        p_dropout=0.1,
        effect_years_after=1.0,
        cost_per_family_gbp=1_500.0,
        sources={
            "places_per_year": "assumption: seed 001 names FGC without numbers; a few thousand conferences a year",
            "cost_per_family_gbp": "assumption: a coordinator's time for one conference and its review",
        },
    ),
    ProgrammeDefaults(
        "multi_systemic_therapy",
        "Multi-systemic Therapy",
        False,
        ["H", "S"],
        [],
        "rate",
        0.3,
        staff=[],
        caseload=1.0,
        places_per_year=[(D(2011, 4, 1), 1_500)],
        p_accept=0.75,
        duration_mean_years=0.4,
        duration_shape=6.0,
        p_dropout=0.15,
        effect_years_after=1.0,
        cost_per_family_gbp=7_500.0,
        requires_domains=["youth_crime_asb"],
        sources={
            "places_per_year": "assumption: seed 001 names MST without numbers; ~30 teams of ~50 families a year",
            "requires_domains": "seed 001 (MST works with young people's behaviour across school, peers and community)",
            "cost_per_family_gbp": "assumption: 3-5 months of intensive therapy",
        },
    ),
    ProgrammeDefaults(
        "esf_employment",
        "DWP ESF employment provision for families with multiple problems",
        False,
        ["R", "H", "S"],
        [],
        "rate",
        1.0,
        staff=[],
        caseload=1.0,
        places_per_year=[(D(2011, 12, 1), 6_000), (D(2015, 4, 1), 0)],
        p_accept=0.7,
        duration_mean_years=0.5,
        duration_shape=4.0,
        p_dropout=0.3,
        effect_years_after=0.0,
        cost_per_family_gbp=11_000.0,
        requires_domains=["workless"],
        sources={
            "places_per_year": "seed 000 slides 6 and 10 (6,000 families a year, ESF 2011-14); if switched on, take the "
            "ESF line out of programmes.key_worker.places_per_year so the families are not counted twice",
            "cost_per_family_gbp": "seed 000 slide 10 (£200m, 2011-14) over ~18,000 families",
        },
    ),
    ProgrammeDefaults(
        "jcp_adviser",
        "Job Centre Plus seconded employment adviser",
        False,
        ["R", "H", "S"],
        [],
        "rate",
        2.0,
        staff=[(D(2013, 6, 1), 152)],
        caseload=40.0,
        places_per_year=[],
        p_accept=0.8,
        duration_mean_years=0.5,
        duration_shape=4.0,
        p_dropout=0.2,
        effect_years_after=0.0,
        cost_per_family_gbp=500.0,
        requires_programmes=list(_WORKERS),
        requires_domains=["workless"],
        sources={
            "staff": "seed 003 (one seconded adviser per council from mid-June 2013) x 152 councils",
            "caseload": "assumption: an adviser works with about 40 families at once",
            "requires_programmes": "seed 003 (for families already worked with: part of the Team Around the Family)",
            "cost_per_family_gbp": "assumption: a share of one adviser's salary",
        },
    ),
)

_KEY_WORKER_EVIDENCE = (
    "ref: the median of each prior in calibration/ensemble.toml, from controlled evidence (calibration/sources/"
    "priors.md): Day et al. 2016 (the 2012 programme against a matched comparison: no significant or systematic "
    "impact), Fonagy et al. 2018 (START: no effect on offending), MHCLG 2019 (the 2015-20 programme: juvenile "
    "convictions 3.9% against 4.6%, Jobseeker's Allowance 9.3% against 10.5%); OSR14/2011's before/after changes "
    "(no comparison group) only bound them"
)
#: Model v2: (turns around?, resolution hazard ratios, onset hazard ratios, source) of each programme.
_PROBLEM_EFFECTS: dict[str, tuple[bool, dict[str, float], dict[str, float], str]] = {
    "key_worker": (
        True,
        {
            "youth_crime_asb": 1.15,
            "education": 1.05,
            "domestic_violence": 1.2,
            "substance_misuse": 1.05,
            "maternal_mental_health": 1.05,
            "parental_illness": 1.0,
            "workless": 1.1,
        },
        {},
        _KEY_WORKER_EVIDENCE,
    ),
    # Lead workers' effects are a share of the key worker's (their key_worker_effect_share), so a scenario or an
    # ensemble member that changes the key worker's effects changes theirs too.
    "lead_worker": (True, {}, {}, "assumption: a share of the key worker's effects (key_worker_effect_share)"),
    "enhanced_lead_worker": (True, {}, {}, "assumption: a share of the key worker's effects (key_worker_effect_share)"),
    "edge_of_care": (False, {"child_in_need": 1.3}, {}, "assumption: evidence-based edge-of-care work shortens need"),
    "family_nurse_partnership": (
        False,
        {},
        {},
        "ref: Robling et al. 2016 (Building Blocks: no effect on the primary outcomes); its finding that social "
        "services were involved with 14% of FNP children against 8% is detection, which changes what councils' "
        "records see (programme_2012.records.local.fnp_detection_ratio), not the families' problems",
    ),
    "early_intervention": (
        False,
        {},
        {"youth_crime_asb": 0.8, "education": 0.8, "child_in_need": 0.8},
        "assumption: targeted early help lowers the onset of child problems by a fifth",
    ),
    "childrens_centres": (
        False,
        {"maternal_mental_health": 1.2},
        {},
        "ref: ECCE 2015 (children's centres can improve mothers' mental health; the size was not read: a modest "
        "assumption)",
    ),
    "youth_offending": (
        False,
        {"youth_crime_asb": 1.5},
        {},
        "ref: Ghate and Ramella 2002 (offending by the children fell by half after parenting work, with no comparison "
        "group: taken as a third of that)",
    ),
    "iapt": (
        False,
        {"maternal_mental_health": 1.3},
        {},
        "ref: NHS Digital IAPT (43-49% of completers recover) against natural recovery (Spijker et al. 2002: half by "
        "3 months): a modest multiplier",
    ),
    "cp_intensive_support": (
        False,
        {"child_in_need": 1.5},
        {},
        "assumption: aims to shorten the time a child spends on a plan (seed 003)",
    ),
    "parenting_in_schools": (
        False,
        {"education": 1.5, "youth_crime_asb": 1.2},
        {},
        "ref: Hutchings et al. 2007 (Incredible Years: behaviour problems -0.63 SD at 6 months); assumption: a "
        "multiplier of 1.5 on ending attendance problems",
    ),
    "family_group_conferencing": (
        False,
        {"child_in_need": 1.3},
        {},
        "ref: Coram for Foundations 2023 (fewer children in care 12 months after a conference; the size was not read)",
    ),
    "multi_systemic_therapy": (
        False,
        {"youth_crime_asb": 1.0},
        {},
        "ref: Fonagy et al. 2018 (START trial: no effect on offending or out-of-home placement)",
    ),
    "esf_employment": (
        False,
        {"workless": 1.2},
        {},
        "ref: DWP 2015 (7% of 77,230 ESF starts reached a 26-week job outcome, with no comparison group): a small "
        "multiplier",
    ),
    "jcp_adviser": (
        False,
        {"workless": 1.2},
        {},
        "assumption: integrated welfare-to-work advice, as ESF provision",
    ),
}

PROGRAMMES = tuple(
    replace(
        prog, turns_around=eff[0], resolution_hr=eff[1], onset_hr=eff[2], sources={**prog.sources, "effects": eff[3]}
    )
    for prog in _PLAN_PROGRAMMES + _MORE_PROGRAMMES
    for eff in (_PROBLEM_EFFECTS[prog.name],)
)
PROGRAMME_NAMES = tuple(p.name for p in PROGRAMMES)
#: How a reader names each programme.
PROGRAMME_TITLES = {p.name: p.title for p in PROGRAMMES}

#: Labels of the calibration's handles that no rule below names well.
_LABELS = {
    "events.crisis.rate_per_year": "crisis rate",
    "problems.household_link_scale": "household problems' links",
    "problems.child_link_scale": "child problems' links",
}


def _words(name: str) -> str:
    return name.replace("_", " ").replace("asb", "ASB")


def parameter_label(key: str) -> str:
    """A parameter (or a calibration handle that moves several) as a chart or a line of text names it: 'onset:
    workless', 'key worker's effect: education', 'crisis spells' length', 'Family Nurse Partnership: caseload'."""
    parts = key.split(".")
    if key in _LABELS:
        return _LABELS[key]
    if key.endswith("crisis_duration_years"):
        return "crisis spells' length"
    if len(parts) == 3 and parts[0] == "problems" and parts[2] == "onset_rate_per_year":
        return f"onset: {_words(parts[1])}"
    if len(parts) == 4 and parts[0] == "programmes" and parts[2] == "resolution_hr":
        return f"{_words(parts[1])}'s effect: {_words(parts[3])}"
    if parts[0] == "programmes" and len(parts) > 2:
        return f"{PROGRAMME_TITLES.get(parts[1], _words(parts[1]))}: {_words('.'.join(parts[2:]))}"
    text = _words(" ".join(parts[1:]) if len(parts) > 1 else key)
    return f"{_words(parts[0])}: {text}" if len(parts) > 1 else text


class _Field(NamedTuple):
    """What every programme's field shares: its unit, range, default source, meaning and allowed values."""

    unit: str
    lo: float | None
    hi: float | None
    source: str
    doc: str
    choices: tuple[str, ...] | None = None
    schedule: bool = False


_F = _Field

_PROGRAMME_FIELDS: dict[str, _Field] = {
    "enabled": _F("switch", None, None, "assumption: part of the plan in seed 000", "Whether the programme runs."),
    "eligible_states": _F(
        "classifications",
        None,
        None,
        "seed 000 slides 2 and 7",
        "Classifications whose families can be referred: R at risk (no child problem, not in the flow group), "
        "H the flow group, S the stock.",
        choices=("R", "H", "S"),
    ),
    "requires": _F(
        "risk factors",
        None,
        None,
        "assumption: the programme's stated target group",
        "Risk factors a family must all have to be eligible.",
        choices=FACTOR_NAMES,
    ),
    "referral": _F(
        "choice",
        None,
        None,
        "seed 000 slide 5",
        "'identification': referred when the family is identified; 'rate': offered at referral_rate_per_year.",
        choices=("identification", "rate"),
    ),
    "referral_rate_per_year": _F(
        "per family-year",
        0,
        50,
        _FLOW_REFERRAL,
        "Hazard that an eligible family is referred (for referral = 'rate').",
    ),
    "staff": _F(
        "workers from each date",
        0,
        1e6,
        "assumption: no staff-based capacity",
        "Staff in post from each date.",
        schedule=True,
    ),
    "caseload": _F(
        "families per worker",
        0.1,
        100,
        "assumption: places are counted directly",
        "Families each worker holds at once.",
    ),
    "places_per_year": _F(
        "families a year from each date",
        0,
        1e7,
        "seed 000 slide 7",
        "Families the programme can start a year, from each date; places = this x mean duration.",
        schedule=True,
    ),
    "p_accept": _F(
        "probability",
        0,
        1,
        "assumption: most families offered a place take it up",
        "Probability a referred family agrees to take part.",
    ),
    "duration_mean_years": _F(
        "years",
        0.01,
        10,
        "assumption: a typical length for this kind of programme",
        "Mean length of an intervention (gamma distributed).",
    ),
    "duration_shape": _F(
        "gamma shape",
        0.1,
        100,
        "assumption: most interventions last close to the mean",
        "Shape of the gamma distribution of durations (1 = exponential).",
    ),
    "p_dropout": _F(
        "probability",
        0,
        1,
        "assumption: a minority leave early",
        "Probability a family leaves early, at a uniform point.",
    ),
    "cost_per_family_gbp": _F(
        "GBP per family supported",
        0,
        1e6,
        "assumption: a typical cost for this kind of service",
        "What supporting one family costs (for cost per result).",
    ),
    "requires_programmes": _F(
        "programmes",
        None,
        None,
        "assumption: open to any eligible family",
        "The family must be in at least one of these programmes to be referred (empty: any family).",
        choices=PROGRAMME_NAMES,
    ),
    "requires_domains": _F(
        "problems",
        None,
        None,
        "assumption: no condition on the family's problems",
        "Problems the family must all have (as they are, not as services record them) to be referred.",
        choices=PROBLEM_NAMES,
    ),
    "exclusive_group": _F(
        "group name",
        None,
        None,
        "assumption: families can be in several programmes at once",
        "A family waits for or attends at most one programme of a group at a time ('' for none).",
    ),
    "effect_years_after": _F(
        "years",
        0,
        20,
        "assumption: effects of early help fade within about a year",
        "How long the reduction lasts after the intervention ends.",
    ),
}


def _programme_params() -> list[Param]:
    out = []
    for prog in PROGRAMMES:
        for attr, f in _PROGRAMME_FIELDS.items():
            value = getattr(prog, attr)
            source = prog.sources.get(attr, f.source)
            if attr == "places_per_year" and not value:
                source = "assumption: no places-based capacity"
            path = f"programmes.{prog.name}.{attr}"
            out.append(Param(path, value, f.unit, source, f.doc, f.lo, f.hi, f.choices, f.schedule))
        effects = prog.sources["effects"]
        out.append(
            _p(
                f"programmes.{prog.name}.turns_around",
                prog.turns_around,
                "switch",
                effects
                if prog.turns_around
                else "assumption: only whole-family key or lead work turns families around",
                "Model v2: families whose intervention ends can count as turned around.",
            )
        )
        if prog.name != "key_worker":
            out.append(
                _p(
                    f"programmes.{prog.name}.key_worker_effect_share",
                    prog.key_worker_effect_share,
                    "share of a log hazard ratio",
                    prog.sources.get("key_worker_effect_share", "assumption: the programme's effects are its own"),
                    "Model v2: the share of the key worker's log hazard ratio on ending each problem "
                    "(programmes.key_worker.resolution_hr) this programme has beside its own resolution_hr, while the "
                    "family attends and for effect_years_after: 0.5 gives the square root of the key worker's ratio. "
                    "It follows the key worker's effects whether or not the key worker runs.",
                    lo=0,
                    hi=1,
                )
            )
        for kind, table, what in (
            ("resolution_hr", prog.resolution_hr, "ending"),
            ("onset_hr", prog.onset_hr, "onset"),
        ):
            for problem, value in table.items():
                out.append(
                    _p(
                        f"programmes.{prog.name}.{kind}.{problem}",
                        value,
                        "hazard ratio",
                        effects,
                        f"Model v2: multiplies the hazard of {problem.replace('_', ' ')} {what} while the family "
                        "attends and for effect_years_after.",
                        lo=0.01,
                        hi=100,
                    )
                )
    return out


_FINANCE: list[Param] = [
    _p(
        "finance.enabled",
        False,
        "switch",
        "assumption: payment by results applies only to the 2012 programme scenarios",
        "Whether attachments, results claims and money are simulated and reported.",
    ),
    _p(
        "finance.programme_start",
        D(2012, 4, 1),
        "date",
        "ref: DCLG 2012",
        "First day a key-worker start counts as an attachment to the payment-by-results programme.",
    ),
    _p("finance.programme_end", D(2015, 3, 31), "date", "ref: DCLG 2012", "Last day a start counts as an attachment."),
    _p(
        "finance.max_per_family_gbp",
        4000.0,
        "GBP per family",
        "seed 004 section 2.7",
        "Most a council can earn for one family: attachment fee plus results payments.",
        lo=0,
        hi=1e6,
    ),
    _sched(
        "finance.attachment_share",
        [(D(2012, 4, 1), 0.8), (D(2013, 4, 1), 0.6), (D(2014, 4, 1), 0.4)],
        "share of the money paid on attachment, by programme year",
        "seed 004 section 2.3; seed 003 section 7",
        "The attachment fee's share of the £4,000 for families attached from each date; the rest is paid on results.",
        lo=0.0,
        hi=1.0,
    ),
    _p(
        "finance.funded_share",
        5 / 6,
        "share of nominated families",
        "seed 004 section 2.3",
        "Share of attached families the grant pays for (one sixth of results assumed to happen anyway).",
        lo=0,
        hi=1,
    ),
    _p(
        "finance.min_problems",
        2,
        "problems (of crime/ASB, education, worklessness)",
        "ref: DCLG Financial Framework 2012",
        "Problems a family must have when its key-worker intervention starts to be attached.",
        lo=0,
        hi=3,
    ),
    _p(
        "finance.first_claim",
        D(2013, 1, 1),
        "date",
        "seed 004 section 2.4",
        "The first results claim window; later windows follow every claim_interval_years.",
        lo=None,
        hi=None,
    ),
    _p(
        "finance.claim_interval_years",
        0.5,
        "years",
        "seed 004 section 2.4",
        "Time between results claim windows (six-monthly).",
        lo=0.05,
        hi=5,
    ),
    _p(
        "finance.evidence_years",
        0.5,
        "years",
        "ref: DCLG Financial Framework 2012",
        "How long crime/ASB and education problems must have been gone before a result can be claimed "
        "(6 months of offending and ASB; attendance over three terms is taken as the same window).",
        lo=0,
        hi=5,
    ),
    _p(
        "finance.employment_weeks",
        13.0,
        "weeks",
        "ref: DCLG Financial Framework 2012",
        "Continuous work needed for the employment result (seed 003 mentions 6 months locally).",
        lo=0,
        hi=104,
    ),
    _p(
        "finance.crime_education_share",
        0.875,
        "share of the results money",
        "seed 004 section 2.7",
        "The crime/ASB and education result's share of the results money (£700 of £800 in year one).",
        lo=0,
        hi=1,
    ),
    _p(
        "finance.progress_share",
        0.125,
        "share of the results money",
        "seed 004 section 2.7",
        "The progress-to-work payment's share of the results money (£100 of £800 in year one).",
        lo=0,
        hi=1,
    ),
]

PARAMETERS: dict[str, Param] = {
    p.path: p
    for p in (
        _CORE
        + _risk_factor_params()
        + _programme_params()
        + _FINANCE
        + problem_params(_p, _sched)
        + programme_2012_params(_p, _sched)
    )
}

#: Keys allowed at the top level of a scenario file besides the parameter sections.
META_KEYS = {
    "name": "scenario name",
    "description": "one-line description",
    "extends": "parent file",
    "calibrated_by": "the calibration run that wrote the file (calibration/fitted.toml)",
}

#: Keys of model v1 (families moving between abstract states; its git tag is in the README), refused with what replaced
#: them: a scenario written for it must not run silently without them.
RETIRED_KEYS = {
    "model.structure": "model v2 (problems that begin, last and end) is the only model; delete the key",
    "population.universe": "to track every family one by one, set population.sample_weight = 1",
    "population.initial_at_risk": "the numbers at risk, in the flow group and in the stock come from the problems' "
    "own dynamics (calibration/README.md); delete the key",
    "population.initial_flow_group": "the flow group's size comes from the problems' own dynamics; delete the key",
    "population.initial_stock": "the stock's size comes from the problems' own dynamics; delete the key",
    "population.child_age_limit_years": "families leave at population.exit_rate_per_year",
    "population.other_exit_rate_per_year": "families leave at population.exit_rate_per_year",
    "population.frailty_variance": "see problems.frailty_variance",
    "population.entry_hr_exponent": "see problems.risk_index_scale",
    "dynamics": "problems begin and end by their own hazards (problems.<name>.*)",
    "triggers": "trigger events are events.<name>.*",
    "outcomes": "the framework's problems are problems.youth_crime_asb, problems.education and problems.workless",
}
_EFFECTS_V1 = ("p_success", "escalation_effect", "deescalation_multiplier", "crime_effect", "education_effect")
for _prog in PROGRAMME_NAMES:
    for _name in (*_EFFECTS_V1, "work_effect"):
        RETIRED_KEYS[f"programmes.{_prog}.{_name}"] = (
            f"a programme's effects are hazard ratios on problems (programmes.{_prog}.resolution_hr.<problem>, "
            f"programmes.{_prog}.onset_hr.<problem>)"
        )
for _factor in FACTOR_NAMES:
    RETIRED_KEYS[f"risk_factors.{_factor}.escalation_hr"] = "see entry_hr"
for _factor, _problem in (
    ("workless", "workless"),
    ("maternal_mental_health", "maternal_mental_health"),
    ("parental_conflict", "domestic_violence"),
    ("domestic_violence", "domestic_violence"),
    ("substance_misuse", "substance_misuse"),
    ("parental_offending", "parental_offending"),
    ("homelessness", "poor_housing"),
):
    RETIRED_KEYS[f"risk_factors.{_factor}"] = f"it is a problem that begins and ends (problems.{_problem}.*)"
