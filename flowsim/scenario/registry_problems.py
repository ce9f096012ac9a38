"""Parameter data of model v2: problems that begin, last and end; trigger events; classifications.

Every number here has a source (``/work/research`` compiled them; the
full citations are in ``flowsim.scenario.references``). Problems are in a
fixed order: their positions are the bits of a family's problem set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

# The problems (DESIGN.md "State"): the FACS/SETF household markers, family functioning, child and youth.
HOUSEHOLD = (
    "workless",
    "low_income",
    "material_deprivation",
    "poor_housing",
    "no_qualifications",
    "maternal_mental_health",
    "parental_illness",
)
FUNCTIONING = ("domestic_violence", "substance_misuse", "parental_offending")
CHILD = ("youth_crime_asb", "education", "child_in_need")
PROBLEM_NAMES = HOUSEHOLD + FUNCTIONING + CHILD
#: The seven disadvantages of SETF 2007 (5 or more of them: multiply disadvantaged).
SETF_SEVEN = HOUSEHOLD
#: The 2012 financial framework's three criteria (DCLG 2012).
FRAMEWORK = ("youth_crime_asb", "education", "workless")

#: Risk factors of model v2 (mostly fixed; separation, repartnering and births change some).
FACTOR_NAMES = (
    "lone_parent",
    "four_plus_children",
    "child_under_5",
    "young_mother",
    "low_maternal_education",
    "social_tenant",
    "urban",
    "poor_home_learning",
    "authoritative_parenting",
    "strong_family_relationships",
    "extended_family_support",
)
#: Trigger events (kernel order). Job loss is the onset of worklessness; its profile applies then.
EVENT_NAMES = ("separation", "repartnering", "birth", "eviction", "crisis", "job_loss")

_ASSUMED_HR = "assumption: a moderate hazard ratio; no effect size found (research/v2_sources.md)"
#: Problems whose spells keep their own evidence-based length when a crisis starts them.
CRISIS_SOURCED = ("workless",)
_CRISIS_SHAPE = (
    "assumption: a crisis resolves with a chance that rises with time (Weibull 4: 90% of crisis spells between 0.5 and "
    "1.45 times the mean); meeting the number at risk in 4 or more of 6 waves would need near-clockwork spells "
    "(Weibull 8, scenarios/clockwork_crises.toml) that no source supports. No source measures how long a crisis lasts; spells of single problems end with falling "
    "hazards (calibration/README.md compares the structures)"
)


@dataclass(frozen=True)
class ProblemDefaults:
    """One problem's defaults: ``problems.<name>.<field>``; hazard ratios are sparse dictionaries."""

    name: str
    label: str
    onset_rate_per_year: float
    duration_years: float
    duration_shape: float
    risk_index_loading: float
    initial_share: float
    sources: dict[str, str]
    onset_hr: dict[str, float] = field(default_factory=dict)  # risk factor -> hazard ratio on onset
    end_hr: dict[str, float] = field(default_factory=dict)  # risk factor -> hazard ratio on resolution
    onset_hr_with: dict[str, float] = field(default_factory=dict)  # other problem present -> HR on onset
    end_hr_with: dict[str, float] = field(default_factory=dict)  # other problem present -> HR on resolution
    starts: dict[str, float] = field(default_factory=dict)  # when this begins, the other begins with this chance
    ends: dict[str, float] = field(default_factory=dict)  # when this ends, the other ends with this chance
    crisis_share: float = 0.0  # chance a crisis starts it


_L = math.log

PROBLEMS: tuple[ProblemDefaults, ...] = (
    ProblemDefaults(
        "workless",
        "no parent in work",
        0.03,
        2.0,
        0.8,
        1.0,
        0.15,
        {
            "duration_years": "ref: DWP RR217 (lone parents enter work at <=15% a year) and DWP 2017 (8 in 10 workless "
            "families long-term); couples' spells about 2 years, lone parents' longer through end_hr",
            "duration_shape": "ref: Herault et al. (state dependence: the chance of leaving falls with time)",
            "initial_share": "ref: ONS APS (13.4-13.8% of households with children workless, 2004-08)",
            "crisis_duration_years": "ref: DWP 2017 (8 in 10 workless families long-term) and DWP RR217: worklessness "
            "begun in a crisis lasts as long as any other spell",
            "crisis_duration_shape": "ref: Herault et al. (state dependence: the chance of leaving falls with time)",
        },
        onset_hr={"lone_parent": 2.0, "low_maternal_education": 1.3},
        end_hr={"lone_parent": 0.28},
        onset_hr_with={
            "maternal_mental_health": 1.5,
            "parental_illness": 2.5,
            "no_qualifications": 2.5,
            "substance_misuse": 2.0,
        },
        starts={"low_income": 0.32},
        ends={"low_income": 0.65},
        crisis_share=0.6,
    ),
    ProblemDefaults(
        "low_income",
        "household income below 60% of the median",
        0.06,
        1.2,
        0.8,
        1.0,
        0.20,
        {
            "duration_years": "ref: DWP RR487 (FACS 2001-04: a fifth poor each year, 38% at least once in 4, 12% "
            "persistently); the spell length that gives that churn",
            "duration_shape": "ref: Jenkins and Rigg 2001 (the chance of leaving poverty falls with time poor)",
            "initial_share": "ref: DWP RR487",
        },
        onset_hr={"lone_parent": 1.5, "four_plus_children": 1.5},
        end_hr={"lone_parent": 0.7},
        onset_hr_with={"workless": 5.0, "no_qualifications": 1.5},
        end_hr_with={"workless": 0.4},
        ends={"material_deprivation": 0.3},
        crisis_share=0.9,
    ),
    ProblemDefaults(
        "material_deprivation",
        "cannot afford some food or clothing",
        0.04,
        1.5,
        0.8,
        1.0,
        0.15,
        {
            "duration_years": "assumption: follows income (Tomlinson and Walker 2009: recurrent deprivation)",
            "duration_shape": "assumption: as low income",
            "initial_share": "ref: HBAI (2.1m children in low income and material deprivation, 2005-06)",
        },
        onset_hr_with={"low_income": 5.0, "workless": 2.0},
        end_hr_with={"low_income": 0.5},
        crisis_share=0.75,
    ),
    ProblemDefaults(
        "poor_housing",
        "poor or overcrowded housing",
        0.03,
        4.0,
        1.0,
        1.0,
        0.10,
        {
            "duration_years": "assumption: housing moves are infrequent (3-5 years)",
            "duration_shape": "assumption: no evidence on duration dependence",
            "initial_share": "ref: English Housing Survey (overcrowding 8.7% of renters) and DWP RR487 (bad housing "
            "33-48% of poor families)",
        },
        onset_hr={"social_tenant": 2.5, "four_plus_children": 3.0},
        onset_hr_with={"low_income": 2.0},
        crisis_share=0.6,
    ),
    ProblemDefaults(
        "no_qualifications",
        "no parent with any qualification",
        0.006,
        30.0,
        1.0,
        0.0,
        0.10,
        {
            "duration_years": "assumption: effectively permanent over 2005-15 (adults rarely gain a first "
            "qualification)",
            "initial_share": "assumption: about one family in ten (SETF 2007's marker; the prevalence was not read)",
        },
        onset_hr={"low_maternal_education": 40.0},
    ),
    ProblemDefaults(
        "maternal_mental_health",
        "mother with mental-health problems",
        0.06,
        1.0,
        0.5,
        1.0,
        0.13,
        {
            "duration_years": "ref: Spijker et al. 2002 (NEMESIS: half recover by 3 months, 76% by 12, a fifth not "
            "by 24)",
            "duration_shape": "ref: Spijker et al. 2002 (the chance of recovery falls steeply with time)",
            "initial_share": "ref: Growing Up in Scotland 2010 (12-16% of mothers at each annual sweep)",
        },
        onset_hr={"child_under_5": 1.5},
        onset_hr_with={
            "domestic_violence": 3.0,
            "substance_misuse": 2.0,
            "parental_illness": 2.0,
            "low_income": 1.5,
            "workless": 1.3,
        },
        end_hr_with={"domestic_violence": 0.6},
        crisis_share=0.9,
    ),
    ProblemDefaults(
        "parental_illness",
        "a parent with a limiting long-standing illness or disability",
        0.04,
        5.0,
        1.0,
        0.5,
        0.15,
        {
            "duration_years": "assumption: long-standing conditions (5 years or more)",
            "duration_shape": "assumption: no evidence on duration dependence",
            "risk_index_loading": "assumption: illness depends less on social position than other problems",
            "initial_share": "assumption: about one family in seven (not found for parents)",
        },
    ),
    ProblemDefaults(
        "domestic_violence",
        "domestic violence or abuse, or serious parental conflict",
        0.03,
        2.0,
        0.8,
        1.0,
        0.08,
        {
            "duration_years": "ref: SafeLives 2015 (victims live with abuse for nearly 3 years before effective "
            "help); many incidents are one-off: 2 years",
            "duration_shape": "assumption: a mixture of one-off and long coercive abuse gives a falling hazard",
            "initial_share": "ref: ONS CSEW (partner abuse 6.5% of women a year, 2014-15)",
        },
        onset_hr_with={"substance_misuse": 3.0, "parental_offending": 2.0},
        crisis_share=0.45,
    ),
    ProblemDefaults(
        "substance_misuse",
        "parental drug or alcohol dependence",
        0.01,
        2.5,
        0.5,
        1.0,
        0.045,
        {
            "duration_years": "ref: de Bruijn et al. 2006 (67% no longer dependent after a year, 74% after 3)",
            "duration_shape": "ref: de Bruijn et al. 2006 (most remit within a year; a chronic minority)",
            "initial_share": "ref: Manning et al. 2009 (6% of under-16s live with a dependent drinker); ACMD 2003 "
            "(2-3% with a problem drug user)",
        },
        onset_hr_with={"domestic_violence": 3.0, "maternal_mental_health": 1.5},
        crisis_share=0.225,
    ),
    ProblemDefaults(
        "parental_offending",
        "a parent offending or in prison",
        0.015,
        1.5,
        1.0,
        1.0,
        0.03,
        {
            "duration_years": "assumption: custodial episodes and offending spells of 1-2 years",
            "duration_shape": "assumption: no evidence on duration dependence",
            "initial_share": "ref: MoJ 2024 (about 193,000 children with a parent in prison over a year); "
            "assumption: 3% of families with any parental offending",
        },
        onset_hr_with={"substance_misuse": 3.0},
        crisis_share=0.15,
    ),
    ProblemDefaults(
        "youth_crime_asb",
        "youth crime or anti-social behaviour",
        0.012,
        1.5,
        0.8,
        1.0,
        0.025,
        {
            "duration_years": "ref: MoJ proven re-offending statistics (35-36% of young offenders re-offend within "
            "a year)",
            "duration_shape": "assumption: desistance (the remaining cohort is the persistent core)",
            "initial_share": "ref: YJB (45,910 first-time entrants 2010-11; about 75,000 young people cautioned or "
            "sentenced a year)",
        },
        onset_hr_with={"parental_offending": 3.0, "domestic_violence": 1.5, "education": 2.5},
        crisis_share=0.075,
    ),
    ProblemDefaults(
        "education",
        "a child excluded from school or persistently absent",
        0.03,
        1.0,
        0.8,
        1.0,
        0.06,
        {
            "duration_years": "assumption: about a school year (absence is measured by year)",
            "duration_shape": "assumption: persistent absentees with many spells stay absent (FFT Education Datalab)",
            "initial_share": "ref: DfE SFR09/2014 (persistent absence 5.2-7.4% of pupils, 2008-12)",
        },
        onset_hr={"poor_home_learning": 2.0},
        onset_hr_with={
            "youth_crime_asb": 2.5,
            "child_in_need": 2.0,
            "maternal_mental_health": 1.5,
            "substance_misuse": 1.5,
            "low_income": 1.3,
            "workless": 1.3,
            "no_qualifications": 1.3,
        },
        crisis_share=0.15,
    ),
    ProblemDefaults(
        "child_in_need",
        "a child in need or on a child protection plan",
        0.03,
        0.6,
        1.5,
        1.0,
        0.04,
        {
            "duration_years": "calibrated to the DfE children in need census read as a census reads it (children "
            "in need at 31 March / episodes begun in the year, about 1 year: calibration/targets.toml); the default "
            "is the old reading (a need episode about half a year; a protection plan about 0.8 years)",
            "duration_shape": "ref: DfE table D7 (plans end at reviews: the hazard rises after the first review)",
            "initial_share": "ref: DfE (375,900 children in need at 31 March 2010)",
        },
        onset_hr={"young_mother": 1.5},
        onset_hr_with={
            "domestic_violence": 4.0,
            "substance_misuse": 4.0,
            "maternal_mental_health": 2.0,
            "parental_offending": 2.0,
            "poor_housing": 1.5,
            "low_income": 1.5,
            "youth_crime_asb": 1.5,
        },
        crisis_share=0.225,
    ),
)


@dataclass(frozen=True)
class EventDefaults:
    """A trigger event: ``events.<name>.<field>``."""

    name: str
    rate_per_year: float
    risk_index_loading: float
    crisis_share: float
    sources: dict[str, str]
    hr_with: dict[str, float] = field(default_factory=dict)  # problem present -> HR on the event
    starts: dict[str, float] = field(default_factory=dict)
    ends: dict[str, float] = field(default_factory=dict)


EVENTS: tuple[EventDefaults, ...] = (
    EventDefaults(
        "separation",
        0.035,
        0.5,
        0.0,
        {
            "rate_per_year": "ref: Millennium Cohort Study via Benson (a third of couple-born children see a split by "
            "14: ~2.9% a year)",
            "starts": "ref: Brewer and Nandi 2014 (15-20% of mothers and children fall into poverty at separation)",
            "ends": "assumption: separation often ends abuse by a partner",
        },
        hr_with={"domestic_violence": 3.0, "substance_misuse": 2.0, "workless": 1.5},
        starts={"low_income": 0.175},
        ends={"domestic_violence": 0.5},
    ),
    EventDefaults(
        "repartnering",
        0.10,
        0.0,
        0.0,
        {
            "rate_per_year": "assumption: a lone parent re-partners in about ten years on average",
            "ends": "assumption: a new partner often brings work and income (poverty.org.uk: household changes drive "
            "longer-term moves out of low income)",
        },
        ends={"workless": 0.5, "low_income": 0.3},
    ),
    EventDefaults(
        "birth",
        0.10,
        0.2,
        0.0,
        {
            "rate_per_year": "ref: ONS births (about 700,000 a year in England and Wales, against 5.8m families "
            "with children plus new families)",
        },
    ),
    EventDefaults(
        "eviction",
        0.004,
        0.5,
        0.0,
        {
            "rate_per_year": "ref: DCLG homelessness statistics (40-60,000 acceptances a year, about half with "
            "children)",
            "starts": "seed 001 (homelessness raises the chance of a child protection plan from 1% to 12%); a housing "
            "problem by definition",
        },
        hr_with={"low_income": 2.0, "substance_misuse": 2.0, "parental_offending": 2.0, "material_deprivation": 2.0},
        starts={"poor_housing": 1.0, "child_in_need": 0.1},
    ),
    EventDefaults(
        "crisis",
        0.03,
        0.0,
        1.0,
        {
            "rate_per_year": "calibrated",
            "risk_index_loading": "assumption: a crisis strikes a family whatever its risk factors (a loading of 0.5 "
            "gave a worse fit to persistence; calibration/README.md)",
            "crisis_share": "seed 000 slide 4 (trigger events move families into the severely excluded group): a "
            "crisis starts several problems at once",
        },
    ),
    EventDefaults(
        "job_loss",
        0.0,
        0.0,
        0.0,
        {"rate_per_year": "assumption: job loss is the onset of worklessness; it has no clock of its own"},
    ),
)


# --- parameters ------------------------------------------------------------------------------------
#: Loadings of each risk factor on one latent disadvantage, which correlates the factors when families are
#: drawn (lone parents are more often social tenants, and so on).
FACTOR_LOADINGS = {
    "lone_parent": 0.5,
    "four_plus_children": 0.3,
    "child_under_5": 0.0,
    "young_mother": 0.4,
    "low_maternal_education": 0.6,
    "social_tenant": 0.6,
    "urban": 0.1,
    "poor_home_learning": 0.5,
    "authoritative_parenting": -0.4,
    "strong_family_relationships": -0.3,
    "extended_family_support": -0.2,
}
_LOADING_SOURCE = (
    "assumption: seed 000 slide 4 and Oroyemi et al. 2009 name these factors together as the profile of families at "
    "risk; one latent disadvantage with moderate loadings makes them co-occur (no joint distribution was found)"
)


def _sources(d: ProblemDefaults | EventDefaults, key: str, fallback: str) -> str:
    return d.sources.get(key, fallback)


def problem_params(p, sched) -> list:
    """The Param list of the problems, events and classifications (``p`` and ``sched`` build a Param, as in the registry)."""
    out = [
        p(
            "population.sample_weight",
            20,
            "families each sampled family stands for",
            "assumption: families not at risk are simulated as a 1-in-20 sample; a sampled family that comes to be at "
            "risk is copied into 20 families tracked one by one (exact in expectation; the copies part ways at once)",
            "Model v2: how many families each family of the sampled general population stands for (1 = all tracked).",
            lo=1,
            hi=1000,
        ),
        p(
            "population.burn_in_years",
            4.0,
            "years",
            "assumption: after the pilot (population.pilot_years), 4 years give the survey moments of a 24-year burn-in "
            "from the independent draw whatever the pilot's start (python -m flowsim.calibrate.burn_in, 6 seeds at 5%; "
            "calibration/README.md); 2 years do as well on average, but the number at risk spreads 45% wider over "
            "seeds (10 seeds): the families drawn from one pilot family have not yet parted",
            "Model v2: years simulated before the first survey wave, from the families drawn from the pilot (or, "
            "without one, from families with problems drawn independently).",
            lo=0,
            hi=40,
        ),
        p(
            "population.pilot_years",
            24.0,
            "years",
            "assumption: long enough to forget the independent draw: with 4 years of burn-in after it, the survey moments "
            "are those of 40 years from the draw (the 4-of-6 count 1,633 +- 6 against 1,635 +- 8 at 5%, seeds "
            "201-206) whatever the draw's problems; 24 years from the draw leave it 3% short and 8 years 10% (lone "
            "parents, drawn at 0.25, settle at 0.34); calibration/README.md",
            "Model v2: years a pilot population (population.pilot_share of the families) is simulated before the "
            "burn-in, from families with problems drawn independently; the burn-in's families are then drawn from it, "
            "so they start in the mix of family types and problems the model itself keeps. 0: no pilot, the burn-in "
            "starts from the independent draw.",
            lo=0,
            hi=80,
        ),
        p(
            "population.pilot_share",
            0.1,
            "share of the families",
            "assumption: a tenth of the families: the survey moments' spread over seeds is then that of a 24-year "
            "burn-in from the independent draw (10 seeds at 5%), at a tenth of its cost",
            "Model v2: the pilot population's size as a share of the scenario's families (at least 1,000 families, at "
            "most all of them). Each family of the pilot starts about 1 / pilot_share families of the burn-in, which "
            "part ways at once.",
            lo=0.001,
            hi=1,
        ),
        p(
            "population.exit_rate_per_year",
            0.08,
            "per family-year",
            "assumption: a family whose youngest child is over five leaves in about 12 years (the youngest grows up)",
            "Model v2: hazard of leaving the model when no child is under five; a new family replaces it.",
            lo=0,
            hi=1,
        ),
        p(
            "problems.risk_index_scale",
            0.5,
            "multiplier",
            "assumption: set in the prototype's comparison of structures; the survey moments do not pin it (refitted "
            "with 0.25 or 1 they are met as well: calibration/README.md)",
            "Scales every problem's loading on the risk index (the sum of the risk factors' log hazard ratios).",
            lo=0,
            hi=3,
        ),
        p(
            "problems.household_link_scale",
            0.5,
            "multiplier",
            "calibrated",
            "Scales the log hazard ratios by which one of the seven household markers raises another's onset.",
            lo=0,
            hi=3,
        ),
        p(
            "problems.adult_link_scale",
            0.5,
            "multiplier",
            "assumption: set in the prototype's comparison of structures; fitted to the number at risk only in the "
            "structure without crises (calibration/README.md)",
            "Scales the other log hazard ratios by which one adult problem raises another's onset.",
            lo=0,
            hi=3,
        ),
        p(
            "problems.child_link_scale",
            0.3,
            "multiplier",
            "calibrated",
            "Scales the log hazard ratios by which the family's problems raise the onset of child and youth problems.",
            lo=0,
            hi=5,
        ),
        p(
            "problems.frailty_variance",
            0.0,
            "variance of a mean-1 gamma",
            "assumption: no heterogeneity beyond the risk factors; with variance 0.5, refitted, 73,000 families are "
            "at risk in 4 or more of 6 waves and the stock is 60,000 (calibration/README.md)",
            "Family heterogeneity: variance of a multiplier on every onset and trigger hazard.",
            lo=0,
            hi=10,
        ),
        p(
            "problems.frailty_resolution_exponent",
            0.0,
            "power",
            "assumption: frailty acts on onsets only unless the fit needs otherwise",
            "Resolution hazards are multiplied by frailty to the minus this power.",
            lo=0,
            hi=3,
        ),
    ]
    for name, load in FACTOR_LOADINGS.items():
        out.append(
            p(
                f"problems.factor_loading.{name}",
                load,
                "correlation with the latent disadvantage",
                _LOADING_SOURCE,
                f"Loading of {name.replace('_', ' ')} on the latent disadvantage that correlates the risk factors.",
                lo=-0.95,
                hi=0.95,
            )
        )
    for d in PROBLEMS:
        base = f"problems.{d.name}"
        out += [
            p(
                f"{base}.onset_rate_per_year",
                d.onset_rate_per_year,
                "per family-year",
                "calibrated",
                f"Hazard that {d.label} begins, for a family with no risk factors and no other problem.",
                lo=0,
                hi=10,
            ),
            p(
                f"{base}.duration_years",
                d.duration_years,
                "years",
                _sources(d, "duration_years", "assumption"),
                f"Mean length of a spell of {d.label}, for a couple family with no other problem.",
                lo=0.01,
                hi=100,
            ),
            p(
                f"{base}.duration_shape",
                d.duration_shape,
                "Weibull shape",
                _sources(d, "duration_shape", "assumption: no evidence on duration dependence"),
                "1: the chance of ending does not depend on time so far; below 1 it falls, above 1 it rises.",
                lo=0.2,
                hi=20,
            ),
            p(
                f"{base}.crisis_duration_years",
                d.duration_years if d.name in CRISIS_SOURCED else 2.5,
                "years",
                _sources(d, "crisis_duration_years", "calibrated"),
                f"Mean length of a spell of {d.label} begun by a crisis.",
                lo=0.01,
                hi=100,
            ),
            p(
                f"{base}.crisis_duration_shape",
                d.duration_shape if d.name in CRISIS_SOURCED else 4.0,
                "Weibull shape",
                _sources(d, "crisis_duration_shape", _CRISIS_SHAPE),
                "Weibull shape of a spell begun by a crisis.",
                lo=0.2,
                hi=20,
            ),
            p(
                f"{base}.crisis_share",
                d.crisis_share,
                "probability",
                "assumption: seed 000 slide 4 names trigger events that move families into severe exclusion; a crisis "
                "starts most household problems and some of the others (the prototype's profile, scaled by 1.5)",
                f"Chance that a crisis starts {d.label} (if absent).",
                lo=0,
                hi=1,
            ),
            p(
                f"{base}.risk_index_loading",
                d.risk_index_loading,
                "loading",
                _sources(d, "risk_index_loading", "assumption: every problem is about as sensitive to social position"),
                "How strongly the risk index (the sum of the risk factors' log hazard ratios) raises the onset.",
                lo=0,
                hi=3,
            ),
            p(
                f"{base}.initial_share",
                d.initial_share,
                "share of families",
                _sources(d, "initial_share", "assumption"),
                "Share of families with the problem when the burn-in starts (the burn-in forgets it).",
                lo=0,
                hi=1,
            ),
        ]
        for kind, table, unit, what in (
            ("onset_hr", d.onset_hr, "hazard ratio", "onset"),
            ("end_hr", d.end_hr, "hazard ratio", "resolution"),
            ("onset_hr_with", d.onset_hr_with, "hazard ratio", "onset, while the other problem is present"),
            ("end_hr_with", d.end_hr_with, "hazard ratio", "resolution, while the other problem is present"),
            ("starts", d.starts, "probability", "begins when this one begins"),
            ("ends", d.ends, "probability", "ends when this one ends"),
        ):
            for other, value in table.items():
                source = d.sources.get(f"{kind}.{other}") or _linked_source(d.name, kind, other)
                lo, hi = (0.01, 100) if unit == "hazard ratio" else (0, 1)
                out.append(
                    p(f"{base}.{kind}.{other}", value, unit, source, f"{d.label}: {what} ({other}).", lo=lo, hi=hi)
                )
    for e in EVENTS:
        base = f"events.{e.name}"
        out += [
            p(
                f"{base}.rate_per_year",
                e.rate_per_year,
                "per family-year",
                _sources(e, "rate_per_year", "assumption"),
                f"Hazard of {e.name.replace('_', ' ')} for a family with no risk factors and no problem.",
                lo=0,
                hi=10,
            ),
            p(
                f"{base}.risk_index_loading",
                e.risk_index_loading,
                "loading",
                _sources(
                    e,
                    "risk_index_loading",
                    "assumption: disadvantaged families meet more of these events (seed 000 slide 4)",
                ),
                "How strongly the risk index raises the event's hazard.",
                lo=0,
                hi=3,
            ),
            p(
                f"{base}.crisis_share",
                e.crisis_share,
                "probability",
                _sources(e, "crisis_share", "assumption: an ordinary event, not a crisis, unless the fit needs it"),
                "Chance that the event is a crisis (it starts problems with their crisis shares).",
                lo=0,
                hi=1,
            ),
        ]
        for kind, table, unit in (
            ("hr_with", e.hr_with, "hazard ratio"),
            ("starts", e.starts, "probability"),
            ("ends", e.ends, "probability"),
        ):
            for other, value in table.items():
                lo, hi = (0.01, 100) if unit == "hazard ratio" else (0, 1)
                source = _sources(e, kind, "assumption: families with this problem meet the event more often")
                out.append(p(f"{base}.{kind}.{other}", value, unit, source, f"{e.name}: {kind} {other}.", lo=lo, hi=hi))
    out += _classification_params(p)
    return out


_LINK_SOURCES = {
    ("workless", "starts", "low_income"): "ref: DWP RR626 (32% of parents enter poverty when they leave work)",
    ("workless", "ends", "low_income"): "ref: DWP RR626 (65% of poor families leave poverty when a parent enters work)",
    ("low_income", "onset_hr_with", "workless"): "ref: DWP RR487 (half of persistently workless lone parents are also "
    "persistently poor)",
    ("child_in_need", "onset_hr_with", "domestic_violence"): "ref: DfE children in need 2015-16 (domestic violence "
    "a factor for 49.6%)",
    ("child_in_need", "onset_hr_with", "substance_misuse"): "ref: DfE children in need 2015-16 (drug or alcohol "
    "misuse a factor for 19-18%); seed 001 (alcohol in over half of protection cases)",
    ("youth_crime_asb", "onset_hr_with", "parental_offending"): "seed 001 (63% of boys with convicted fathers are "
    "convicted themselves)",
    ("maternal_mental_health", "onset_hr_with", "domestic_violence"): "ref: Growing Up in Scotland 2010 (maternal "
    "mental health linked with relationship difficulties)",
    ("workless", "end_hr", "lone_parent"): "ref: DWP RR217 (lone parents enter work at <=15% a year)",
    ("education", "onset_hr_with", "domestic_violence"): "ref: DCLG 2014 (62% of troubled families with domestic "
    "violence had a truanting child)",
}


def _linked_source(name: str, kind: str, other: str) -> str:
    return _LINK_SOURCES.get((name, kind, other), _ASSUMED_HR)


def _classification_params(p) -> list:
    return [
        p(
            "classification.at_risk_problems",
            list(HOUSEHOLD + FUNCTIONING),
            "problems",
            "ref: Oroyemi et al. 2009 (the severely excluded cluster is defined on household markers of resources, "
            "participation and quality of life; child problems define the stock, not the risk)",
            "Problems counted by the at-risk rule.",
            choices=PROBLEM_NAMES,
        ),
        p(
            "classification.at_risk_min_problems",
            5,
            "problems",
            "assumption: a count of problems stands for FACS's severely excluded cluster (5% of families, a mean of 9 of "
            "18 markers); 5 of the 10 was chosen when the structures were compared (calibration/README.md)",
            "A family is at risk of social exclusion with at least this many of the counted problems (an approximation "
            "of FACS's severely excluded cluster, 5% of families, mean 9 of 18 markers).",
            lo=1,
            hi=10,
        ),
        p(
            "classification.flow_drivers",
            ["maternal_mental_health", "domestic_violence"],
            "problems",
            "seed 000 slide 4 (mothers' mental health and parental conflict are associated with poor child outcomes)",
            "A family at risk with none of the child problems is in the flow group if it has one of these.",
            choices=PROBLEM_NAMES,
        ),
        p(
            "classification.flow_min_drivers",
            2,
            "drivers",
            "assumption: a family at risk is at greatest risk of child problems with two of seed 000's drivers (maternal "
            "mental health, parental conflict, poor home learning); with one, most families at risk would qualify, "
            "three times seed 000's 70,000",
            "Drivers of child problems (problems or risk factors) a family at risk needs to be in the flow group.",
            lo=1,
            hi=5,
        ),
        p(
            "classification.flow_driver_factors",
            ["poor_home_learning"],
            "risk factors",
            "seed 000 slide 4 (home learning environment and parental attitudes)",
            "Risk factors that also make a family at risk part of the flow group.",
            choices=FACTOR_NAMES,
        ),
        p(
            "classification.local_criteria",
            ["domestic_violence", "substance_misuse", "maternal_mental_health", "child_in_need", "parental_offending"],
            "problems",
            "ref: DCLG Financial Framework 2012 (two of the three criteria plus a local concern; councils named these)",
            "Problems that count as a local criterion for the 2012 definition of a troubled family.",
            choices=PROBLEM_NAMES,
        ),
        p(
            "classification.followup_years",
            0.5,
            "years",
            "assumption: the definition users argue about (issue 16): out of the target population at the end of the "
            "intervention and for six months after",
            "How long a family must stay out of the target population after its intervention to count as turned around.",
            lo=0,
            hi=5,
        ),
    ]
