"""Parameters of the 2012 programme as councils ran it (seeds 003 and 004): records, identification, attachment, claims.

The councils' administration is a layer over each family's true problems:
a council sees those problems through its records (late, sometimes not at
all, and for a while after they end), identifies families from them,
attaches them up to its allocation and claims results when its records meet
the financial framework's evidence rules. Money follows the ``finance``
parameters. Nothing here is fitted to published claim totals.
"""

from __future__ import annotations

import csv
import datetime as dt
from functools import lru_cache
from importlib import resources

D = dt.date

#: The records a council matches, in the order the engine keeps them: the framework's three criteria, then local.
RECORD_DOMAINS = ("crime_asb", "education", "workless", "local")


@lru_cache(maxsize=1)
def council_rows() -> tuple[dict, ...]:
    """The 152 councils of 2012 with their allocations and families (``flowsim/data/councils_2012.csv``)."""
    text = resources.files("flowsim.data").joinpath("councils_2012.csv").read_text(encoding="utf-8")
    rows = []
    for r in csv.DictReader(text.splitlines()):
        rows.append(
            {
                **r,
                "allocation": int(r["allocation"]),
                "families_with_children": int(r["families_with_children"]),
                "lone_parent_families": int(r["lone_parent_families"]),
                "community_budget_phase1": r["community_budget_phase1"] == "1",
            }
        )
    return tuple(rows)


def council_names() -> tuple[str, ...]:
    return tuple(r["council"] for r in council_rows())


_RECORDS = {
    # domain: (lag, its source), (lookback, its source), (miss, its source), (available from, its source)
    "crime_asb": (
        (0.25, "assumption: police offence and ASB data are matched quarterly (Northamptonshire's EqIA lists them)"),
        (1.0, "ref: DCLG Financial Framework 2012 (a proven offence or an ASB intervention in the last 12 months)"),
        (
            0.3,
            "assumption: much offending and ASB is dealt with informally and never reaches a police or ASB record; "
            "no published match rate was found (the National Impact Study's are not in the stored sources)",
        ),
        (D(2012, 4, 1), "assumption: councils held police and ASB data from the programme's start"),
    ),
    "education": (
        (0.33, "assumption: attendance and exclusions are returned termly, so a problem shows a term late"),
        (
            0.83,
            "ref: DCLG Financial Framework 2012 (exclusions or 15% unauthorised absence over the last three school "
            "terms, about ten months)",
        ),
        (
            0.2,
            "assumption: authorised or unrecorded absence and informal exclusion leave a fifth of problems unrecorded",
        ),
        (D(2012, 4, 1), "assumption: councils hold their own schools' data from the programme's start"),
    ),
    "workless": (
        (0.1, "assumption: DWP benefit data are shared monthly"),
        (0.0, "ref: DCLG Financial Framework 2012 (an adult on out-of-work benefits now)"),
        (
            0.15,
            "assumption: a workless household not on out-of-work benefits (a partner's earnings, a sanction) is not "
            "in the DWP data",
        ),
        (
            D(2012, 7, 2),
            "ref: SI 2012/1483 (the Social Security (Information-sharing in relation to Welfare Services etc.) "
            "Regulations 2012, in force 2 July 2012)",
        ),
    ),
    "local": (
        (0.25, "assumption: social care, health and housing concerns reach the team about a quarter late"),
        (0.5, "assumption: a local concern counts for half a year after it was last recorded"),
        (0.4, "assumption: domestic abuse, mental health and substance misuse are often not known to services"),
        (D(2012, 4, 1), "assumption: councils hold their own social care records from the programme's start"),
    ),
}


def programme_2012_params(p, sched) -> list:
    """The Param list of the councils' administration of the 2012 programme."""
    names = council_names()
    out = [
        p(
            "programme_2012.enabled",
            False,
            "switch",
            "assumption: councils administer the 2012 programme only in its own scenarios (model v2)",
            "Councils identify families from records, attach them up to their allocations and claim results.",
        ),
        p(
            "programme_2012.council",
            "all",
            "council name",
            "ref: flowsim/data/councils_2012.csv (152 councils, allocations with their sources)",
            "Which councils the population stands for: 'all' (England's 152) or one council alone.",
            choices=("all", *names),
        ),
        p(
            "programme_2012.search_rate_per_year",
            1.0,
            "per family-year",
            "calibrated (a process target, calibration/programme_2012.md: families identified nationally, DCLG "
            "progress information January 2013 to October 2014, within 10% at each at 1.0 against -21% to -4% at "
            "0.8 and -1% to +22% at 1.25; seed 31, a quarter of England; never claims)",
            "Hazard that a council's matching finds a family whose records meet the criteria.",
            lo=0,
            hi=100,
        ),
        p(
            "programme_2012.identify_up_to",
            1.0,
            "share of the allocation",
            "ref: DCLG progress information, October 2014 (families identified reached 117,910, the sum of the "
            "allocations, and no more)",
            "A council lists families up to this share of its allocation (eligible for payment by results or not), "
            "and stops searching once its list is full.",
            lo=0,
            hi=10,
        ),
        p(
            "programme_2012.pace",
            0.6,
            "multiple of the pace its goal needs",
            "calibrated (a process target, calibration/programme_2012.md: families worked with in December 2012 and "
            "March 2013, the latter CLG Committee HC 163's 35,618, 85% of year-one commitments: +4% and +3% at 0.6, "
            "+24% and +7% at 0.85; seed 31, a quarter of England; never claims)",
            "Each month a council attaches up to pace x (its goal - attached) / months left to the goal's date of the "
            "families on its list (the goal: programme_2012.councils.front_load).",
            lo=0,
            hi=100,
        ),
        p(
            "programme_2012.year_one_share",
            0.355,
            "share of the allocation",
            "ref: CLG Committee HC 163 (2013-14) para 76 (35,618 families worked with in year one were 85% of the "
            "year-one commitment: 41,900 of 117,910)",
            "The families a council committed to work with in the programme's first year, as a share of its allocation.",
            lo=0,
            hi=1,
        ),
        p(
            "programme_2012.assurance_share",
            0.85,
            "share of the year-one commitment",
            "ref: DCLG 2013 (councils had to show 85% of year-one families engaged before the year-two attachment "
            "fees were paid; CLG Committee HC 163 para 76)",
            "Year-two attachment fees are held back until a council has attached this share of its year-one families.",
            lo=0,
            hi=1,
        ),
        p(
            "programme_2012.assurance_date",
            D(2013, 4, 1),
            "date",
            "ref: DCLG Financial Framework 2012 (year two starts in April 2013)",
            "From this date a council's attachment fees wait for the assurance rule.",
        ),
        p(
            "programme_2012.evidence.crime_asb_years",
            0.5,
            "years",
            "ref: DCLG Financial Framework 2012 (offending and ASB over the last 6 months)",
            "The crime/ASB result's window: incidents and offences over this long, against as long before attachment.",
            lo=0,
            hi=5,
        ),
        p(
            "programme_2012.evidence.education_years",
            0.83,
            "years",
            "ref: DCLG Financial Framework 2012 (fewer than 3 exclusions and under 15% unauthorised absence over "
            "the last three school terms)",
            "The education result's window: exclusions and unauthorised absence over this long (three terms).",
            lo=0,
            hi=5,
        ),
        p(
            "programme_2012.councils.deprivation_power",
            1.0,
            "power",
            "calibrated (a process target, calibration/programme_2012.md: each council's pool of families meeting the "
            "2012 definition in proportion to its allocation; the slope of log(pool / allocation) on log(need) across "
            "councils is +0.03 at 1, -0.31 at 0.75 and +0.30 at 1.25; seed 31, a tenth of England, April 2012)",
            "How strongly a disadvantaged family's council follows need (its allocation per family with children): a "
            "family with k of the deprivation factors lives in a council with weight families x need ** (power x k). "
            "0: families spread as the 2011 Census counts them.",
            lo=0,
            hi=10,
        ),
        p(
            "programme_2012.councils.widen",
            True,
            "switch",
            "ref: LocalGov 28 Mar 2012 ('local discretion to choose which households meet the criteria'); LGC Oct "
            "2012 (a survey of a third of councils: 6.9% of their allocation identified on the strict criteria); "
            "Casey 2013 ('give them the criteria ... and they can populate it')",
            "A council whose list is still short of its allocation widens its local criterion: any of the family's "
            "counted problems (classification.at_risk_problems) is a local concern.",
        ),
        p(
            "programme_2012.councils.widen_after_years",
            0.5,
            "years",
            "ref: LGC Oct 2012 (six months in, councils had found few families on the strict criteria)",
            "How long into the programme a council short of its allocation widens its local criterion.",
            lo=0,
            hi=5,
        ),
        p(
            "programme_2012.councils.front_load",
            True,
            "switch",
            "ref: CYP Now 14 May 2013 (councils were advised to aim to identify a third of their families in "
            "2012/13 and the rest in 2013/14); CLG Committee HC 163 para 76 (year-one commitments); seed 003 "
            "(year-two fees wait for 85% of year-one families)",
            "Councils attach their year-one commitment by the assurance date and the rest by "
            "programme_2012.councils.attach_by (off: an even pace to the programme's end).",
        ),
        p(
            "programme_2012.councils.attach_by",
            D(2014, 3, 31),
            "date",
            "ref: CYP Now 14 May 2013 (the remainder identified in 2013/14, so worked with by its end)",
            "With front-loading, councils aim to have attached their whole allocation by this date.",
        ),
        p(
            "programme_2012.councils.later_pace",
            2.0,
            "multiple of the pace its goal needs",
            "calibrated (a process target, calibration/programme_2012.md: families worked with, June 2013 to October "
            "2014: within 11% of each at 2, down to -17% at 1; seed 31, a quarter of England; never claims)",
            "With front-loading, the pace after year one (programme_2012.pace is year one's, or the whole "
            "programme's without front-loading).",
            lo=0,
            hi=100,
        ),
        p(
            "programme_2012.councils.choose_improving",
            True,
            "switch",
            "ref: Crossley 2015, CCJS Briefing 13 ('data matching' to claim for families who 'turned themselves "
            "around'); PAC HC 711 (2016-17: councils moved families through quickly, on short-term outcomes); "
            "LocalGov 2012 (local discretion over whom to work with)",
            "Councils attach first the listed families whose records show fewest of the three criteria now (off: "
            "oldest on the list first).",
        ),
        p(
            "programme_2012.councils.retrospective",
            True,
            "switch",
            "ref: LGC May 2013 (Lincolnshire: 'families being supported by other agencies that we hadn't counted'); "
            "Huddersfield Examiner 2013 (Kirklees: a third of families previously known); Express & Star 30 Nov 2013 "
            "(West Midlands leaders 'would have been doing the work anyway')",
            "A listed family already with a key worker is attached from when that work began (not before the "
            "programme's start), so its results count from then (off: from the day the council attaches it).",
        ),
        p(
            "programme_2012.progress.esf_places_per_year",
            6000.0,
            "families a year",
            "seed 000 slide 6 (an extra 6,000 families a year supported through DWP ESF funding); assumption: the "
            "places go to families the councils attached who are still on out-of-work benefits, and no adult "
            "volunteers for the Work Programme otherwise (no count of volunteers was found)",
            "Places a year in DWP's ESF provision for families with multiple problems; a family attached to it earns "
            "the progress-to-work payment (ref: DCLG Financial Framework 2012, as its slides restate it: 'attached "
            "to ESF provision').",
            lo=0,
            hi=1e6,
        ),
        p(
            "programme_2012.rules.windows_after_attachment",
            True,
            "switch",
            "ref: Hansard WMS 10 Sep 2013 (Pickles: children 'back in school for at least three terms', crime and "
            "ASB 'down over at least six months'; 'it can take in excess of a year to achieve these results and "
            "claim success'); seed 004 section 2.4 (a time lag for achieving and evidencing results). The "
            "framework's words as London Councils restates them ('in the last six months', 'in the last three school "
            "terms') do not say so: false reads them that way (calibration/programme_2012.md compares the two)",
            "The crime/ASB and education results count only windows lying wholly after attachment (false: the last "
            "six months and three terms at the claim, whenever they began).",
        ),
        p(
            "programme_2012.rules.asb_fall",
            0.6,
            "share",
            "ref: DCLG Financial Framework 2012, as London Councils restates it ('a 60 per cent reduction in "
            "anti-social behaviour across the family in the last six months')",
            "The fall in the family's anti-social behaviour (last six months against the six before attachment) the "
            "crime/ASB result needs.",
            lo=0,
            hi=1,
        ),
        p(
            "programme_2012.rules.offending_fall",
            0.33,
            "share",
            "ref: DCLG Financial Framework 2012, as London Councils restates it ('offending rates by all minors in "
            "the family reduced by at least 33 per cent in the last six months')",
            "The fall in offending by the family's minors the crime/ASB result needs.",
            lo=0,
            hi=1,
        ),
        p(
            "programme_2012.rules.max_exclusions",
            3,
            "exclusions",
            "ref: DCLG Financial Framework 2012, as London Councils restates it ('fewer than three fixed "
            "exclusions ... in the last three school terms')",
            "The education result needs fewer than this many fixed-term exclusions over the last three terms.",
            lo=1,
            hi=100,
        ),
        p(
            "programme_2012.rules.max_unauthorised_absence",
            0.15,
            "share of sessions",
            "ref: DCLG Financial Framework 2012, as London Councils restates it ('less than 15 per cent "
            "unauthorised absences in the last three school terms')",
            "The education result needs unauthorised absence below this share of sessions over the last three terms.",
            lo=0,
            hi=1,
        ),
        p(
            "programme_2012.rules.employment_weeks_jsa",
            26.0,
            "weeks",
            "ref: DCLG Financial Framework 2012 ('into continuous employment for three or six months, depending on "
            "the initial benefits': London Councils, Community Care 2015); six months from Jobseeker's Allowance as "
            "in the Work Programme (assumption: the benefit rule was not seen verbatim)",
            "Continuous work the employment result needs for an adult who was on Jobseeker's Allowance.",
            lo=0,
            hi=104,
        ),
        p(
            "programme_2012.rules.employment_weeks_other",
            13.0,
            "weeks",
            "ref: DCLG Financial Framework 2012 (three months from some benefits); assumption: the lone parent on "
            "Income Support or the ill parent on ESA is the adult whose benefit needs three months",
            "Continuous work the employment result needs from Income Support or ESA (a lone parent's family, or one "
            "with a parent's illness, at attachment).",
            lo=0,
            hi=104,
        ),
        p(
            "programme_2012.intensity.asb_per_half_year",
            12.0,
            "incidents per six months",
            "ref: DCLG 2014, Understanding Troubled Families (police call-outs over six months averaged 5 a family, "
            "and 58% of families had none: about 12 among the families with any)",
            "Mean anti-social behaviour incidents a family's crime/ASB problem brings in six months while present.",
            lo=0,
            hi=1000,
        ),
        p(
            "programme_2012.intensity.asb_shape",
            1.0,
            "gamma shape",
            "assumption: incidents are heavily overdispersed between families (a mean of 5 with 58% at none); "
            "an exponential spread of each episode's rate",
            "Spread of the incident rate between episodes (gamma shape; smaller is more spread).",
            lo=0.01,
            hi=100,
        ),
        p(
            "programme_2012.intensity.offences_per_half_year",
            1.0,
            "offences per six months",
            "assumption: proven youth offences are rarer than incidents (85% of families had no adult offending "
            "in six months: DCLG 2014); no count for minors was found",
            "Mean offences by the family's minors in six months while its crime/ASB problem is present.",
            lo=0,
            hi=1000,
        ),
        p(
            "programme_2012.intensity.offences_shape",
            0.5,
            "gamma shape",
            "assumption: most episodes bring few or no proven offences, a few many",
            "Spread of the offending rate between episodes (gamma shape).",
            lo=0.01,
            hi=100,
        ),
        p(
            "programme_2012.intensity.month_shape",
            2.0,
            "gamma shape",
            "assumption: a family's incidents and absence vary from month to month about its episode's rate",
            "Month-to-month variation of incidents, offences and absence about the episode's rate (gamma shape).",
            lo=0.01,
            hi=1000,
        ),
        p(
            "programme_2012.intensity.absence_share",
            0.25,
            "share of sessions",
            "ref: DfE SFR 09/2014 and SFR10/2013 (persistent absentees, 5.2% of enrolments in 2011/12, accounted for "
            "25.1% of absence at an overall rate of 5.1%: 0.251 x 5.1 / 5.2 = 25% of sessions); assumption: a "
            "child's education problem is persistent absence, all of it unauthorised",
            "Mean share of sessions missed while a family's education problem is present.",
            lo=0,
            hi=1,
        ),
        p(
            "programme_2012.intensity.absence_spread",
            10.0,
            "beta concentration",
            "assumption: persistent absentees miss from 15% to over 40% of sessions",
            "Spread of the absence share between episodes (a beta's concentration; larger is less spread).",
            lo=0.1,
            hi=1000,
        ),
        p(
            "programme_2012.intensity.background_absence",
            0.01,
            "share of sessions",
            "ref: DfE SFR10/2013 (unauthorised absence about 1% of sessions in 2011/12, of 5.1% overall)",
            "Unauthorised absence while the family has no education problem.",
            lo=0,
            hi=1,
        ),
        p(
            "programme_2012.intensity.exclusions_per_year",
            1.0,
            "exclusions a year",
            "assumption: no count of fixed-term exclusions among programme children was found; one a school year "
            "while the problem lasts",
            "Mean fixed-term exclusions a year while a family's education problem is present.",
            lo=0,
            hi=100,
        ),
    ]
    for domain in RECORD_DOMAINS:
        (lag, lag_src), (back, back_src), (miss, miss_src), (start, start_src) = _RECORDS[domain]
        what = domain.replace("_", "/") if domain != "local" else "a local concern"
        base = f"programme_2012.records.{domain}"
        out += [
            p(f"{base}.lag_years", lag, "years", lag_src, f"How late a council's records show {what}.", lo=0, hi=5),
            p(
                f"{base}.lookback_years",
                back,
                "years",
                back_src,
                f"How long after {what} has ended the records still show it (the criteria's look-back).",
                lo=0,
                hi=5,
            ),
            p(
                f"{base}.miss",
                miss,
                "probability",
                miss_src,
                f"Chance that an episode of {what} never appears in the data results are evidenced from.",
                lo=0,
                hi=1,
            ),
            p(f"{base}.available_from", start, "date", start_src, f"When councils can first match {what} records."),
        ]
    out.append(
        p(
            "programme_2012.records.local.fnp_detection_ratio",
            1.75,
            "ratio",
            "ref: Robling et al. 2016 (Building Blocks trial: social services involved with 14% of FNP children "
            "against 8% of controls by age two, with no effect on the primary outcomes: read as more detection)",
            "How many times likelier a child-in-need episode is to reach the records while the family is in the Family "
            "Nurse Partnership (the chance is at most 1); it changes what councils see, not the family's problems.",
            lo=1,
            hi=5,
        )
    )
    return out
