"""The 2012 financial framework's result rules, checked exactly on small synthetic families' counts.

Each family is a row of counts a council's records could show; every expected answer is the framework's own rule
(DCLG Financial Framework 2012, as London Councils restates it), so no check needs a tolerance.
"""

from __future__ import annotations

import numpy as np

from flowsim.engine.framework_rules import crime_asb_met, education_met, employment_met
from flowsim.scenario import load_scenario

from .conftest import SCENARIOS


def _rules():
    return load_scenario(SCENARIOS / "tf_programme_2012.toml").params.programme_2012.rules


def test_a_60_percent_fall_in_asb_pays_and_a_50_percent_fall_does_not():
    r = _rules()
    before = np.array([10, 10, 5, 0, 0])
    after = np.array([4, 5, 2, 0, 1])
    met = crime_asb_met(before, after, np.zeros(5), np.zeros(5), r.asb_fall, r.offending_fall)
    assert met.tolist() == [True, False, True, True, False]  # 5 -> 2 is a 60% fall; nothing before, nothing after


def test_youth_offending_must_fall_by_a_third_as_well():
    r = _rules()
    asb = np.array([10, 10, 10])
    met = crime_asb_met(asb, np.zeros(3), np.array([3, 3, 6]), np.array([2, 3, 4]), r.asb_fall, r.offending_fall)
    assert met.tolist() == [True, False, True]  # 3 -> 2 and 6 -> 4 are falls of 33%; 3 -> 3 is none


def test_two_exclusions_and_14_percent_absence_pay_three_exclusions_do_not():
    r = _rules()
    met = education_met(
        np.array([2, 3, 0, 2]), np.array([0.14, 0.14, 0.15, 0.149]), r.max_exclusions, r.max_unauthorised_absence
    )
    assert met.tolist() == [True, False, False, True]  # under 15% absence: 15% itself does not pay


def test_26_weeks_of_continuous_work_pay_and_25_do_not():
    r = _rules()
    need = np.full(4, r.employment_weeks_jsa)
    assert employment_met(np.array([26, 25, 25.99, 40]), need).tolist() == [True, False, False, True]
    other = np.full(2, r.employment_weeks_other)  # from Income Support or ESA: three months
    assert employment_met(np.array([13, 12]), other).tolist() == [True, False]


def test_the_published_comparison_reads_each_count_at_the_boundary_after_its_date():
    """calibration/programme_2012.md's last table: a count 'as at' 31 March 2013 is the model's at 1 April 2013."""
    from flowsim.calibrate.programme_2012 import beside_published

    counts = {("2013-04-01", "attached", "all"): 35_618 * 1.5, ("2013-04-01", "identified", "all"): 66_470.0}
    rows = [r for r in beside_published(counts).splitlines() if r.startswith("| 2013-03-31")]
    assert "| 2013-03-31 | worked_with | 35,618 | 53,427 | 1.50 |" in rows
    assert "| 2013-03-31 | identified | 66,470 | 66,470 | 1.00 |" in rows
