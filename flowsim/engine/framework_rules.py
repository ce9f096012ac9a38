"""The 2012 financial framework's result rules, as pure functions of what a council's records count.

DCLG's Financial Framework (March 2012), as London Councils and the
programme's slides restate it (calibration/sources/programme_2012.md §5):

- **Crime/ASB**: anti-social behaviour across the family down by at least
  60% and offending by the family's minors down by at least 33%, over the
  last six months against the six months before the intervention.
- **Education**: every child with fewer than three fixed-term exclusions
  and under 15% unauthorised absence over the last three school terms.
- **Employment**: an adult off out-of-work benefits into continuous work
  for 26 weeks (13 weeks from some benefits).

Counts are compared in whole incidents; a family with nothing in the
window before has nothing to reduce, and meets a reduction rule only with
nothing after.
"""

from __future__ import annotations

import numpy as np

#: Slack for comparing counts with a share of counts (60% of 10 is 4 exactly, not 4.000000000000001).
_EPS = 1e-9


def reduced(before: np.ndarray, after: np.ndarray, fall: float) -> np.ndarray:
    """Whether ``after`` is at least ``fall`` (a share) below ``before``: a 60% fall from 10 is 4 or fewer."""
    before, after = np.asarray(before, float), np.asarray(after, float)
    return after <= (1.0 - fall) * before + _EPS


def crime_asb_met(
    asb_before: np.ndarray,
    asb_after: np.ndarray,
    offences_before: np.ndarray,
    offences_after: np.ndarray,
    asb_fall: float,
    offending_fall: float,
) -> np.ndarray:
    """The crime/ASB rule: anti-social behaviour down by ``asb_fall`` and youth offending by ``offending_fall``."""
    return reduced(asb_before, asb_after, asb_fall) & reduced(offences_before, offences_after, offending_fall)


def education_met(
    exclusions: np.ndarray, absence_share: np.ndarray, max_exclusions: int, max_absence: float
) -> np.ndarray:
    """The education rule: fewer than ``max_exclusions`` exclusions and under ``max_absence`` of sessions missed."""
    return (np.asarray(exclusions) < max_exclusions) & (np.asarray(absence_share, float) < max_absence - _EPS)


def employment_met(weeks_in_work: np.ndarray, weeks_needed: np.ndarray) -> np.ndarray:
    """The employment rule: continuous work for at least ``weeks_needed`` weeks."""
    return np.asarray(weeks_in_work, float) >= np.asarray(weeks_needed, float) - _EPS
