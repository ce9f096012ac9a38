"""Model time: years since the scenario's start, on a month grid.

Months are exactly 1/12 of a model year, so month and financial-year
boundaries fall on exact slice boundaries: with a start of 1 April, t = 1.0
is 1 April of the next year. Within a month, days count as equal fractions.
"""

from __future__ import annotations

import calendar
import datetime as dt

import numpy as np

MONTHS_PER_YEAR = 12


def to_years(day: dt.date, start: dt.date) -> float:
    """Years from ``start`` to ``day`` on the month grid (negative before start)."""
    months = (day.year - start.year) * 12 + (day.month - start.month)
    days_in_month = calendar.monthrange(day.year, day.month)[1]
    frac = (day.day - 1) / days_in_month - (start.day - 1) / days_in_month
    return (months + frac) / MONTHS_PER_YEAR


def end_of_day_years(day: dt.date, start: dt.date) -> float:
    """Years from ``start`` to the end of ``day`` (the deadline is inclusive)."""
    return to_years(day + dt.timedelta(days=1), start)


def to_date(t_years: float, start: dt.date) -> dt.date:
    """The calendar date at model time ``t_years`` (inverse of :func:`to_years`)."""
    months_total = t_years * MONTHS_PER_YEAR
    whole = int(months_total // 1)
    frac = months_total - whole
    month_index = start.month - 1 + whole
    year = start.year + month_index // 12
    month = month_index % 12 + 1
    days_in_month = calendar.monthrange(year, month)[1]
    day = 1 + int(frac * days_in_month + (start.day - 1) + 1e-9)  # guard 27.9999 -> 28
    return dt.date(year, month, min(day, days_in_month))


def month_start(index: int, start: dt.date) -> dt.date:
    """First day of the month ``index`` months after the start's month."""
    month_index = start.month - 1 + index
    return dt.date(start.year + month_index // 12, month_index % 12 + 1, 1)


def financial_year_starts(t_years, start: dt.date) -> np.ndarray:
    """For each model time, the calendar year its April-March financial year begins in (vectorised).

    Equal to ``financial_year(to_date(t, start))``'s first year, without a Python loop over times.
    """
    months = np.floor(np.asarray(t_years, float) * MONTHS_PER_YEAR + 1e-9).astype(np.int64)
    absolute = months + start.year * 12 + (start.month - 1)
    return absolute // 12 - (absolute % 12 + 1 < 4)


def financial_year(day: dt.date) -> str:
    """The April–March financial year containing ``day``, e.g. ``2012-13``."""
    first = day.year if day.month >= 4 else day.year - 1
    return f"{first}-{(first + 1) % 100:02d}"


def step_values(schedule, start: dt.date, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """A ``[(date, value), ...]`` schedule as (times in model years, values x scale), sorted by time."""
    times = np.array([to_years(day, start) for day, _ in schedule], float)
    values = np.array([v for _, v in schedule], float) * scale
    return times, values


def step_at(times: np.ndarray, values: np.ndarray, t: float) -> float:
    """Value of a step function at ``t`` (0 before its first step)."""
    i = int(np.searchsorted(times, t, side="right")) - 1
    return float(values[i]) if i >= 0 else 0.0


def uk_date(day: dt.date) -> str:
    """'31 May 2015': the date as a British reader writes it."""
    return f"{day.day} {day:%B %Y}"


def uk_month(day: dt.date) -> str:
    """'May 2015'."""
    return f"{day:%B %Y}"
