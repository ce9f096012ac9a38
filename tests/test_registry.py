"""Every parameter is declared once with a default, a unit, a range and a source; defaults validate."""

from __future__ import annotations

import datetime as dt

import pytest

from flowsim.scenario.models import parameters_model
from flowsim.scenario.registry import PARAMETERS, Param
from flowsim.timeline import end_of_day_years, financial_year, to_date, to_years


def test_every_parameter_has_unit_and_source():
    for p in PARAMETERS.values():
        assert p.unit and p.doc, p.path
        assert p.source.startswith(("seed ", "ref: ", "assumption: ", "calibrated")), p.path
        if p.source.startswith("assumption: "):
            assert len(p.source) > len("assumption: ") + 10, f"{p.path}: an assumption needs a reason"
        if isinstance(p.default, (int, float)) and not isinstance(p.default, bool):
            assert p.lo is not None and p.hi is not None and p.lo <= p.default <= p.hi, p.path


def test_a_parameter_without_a_source_is_refused():
    with pytest.raises(ValueError):
        Param("x.y", 1.0, "unit", "made up", "doc")


def test_defaults_validate():
    model = parameters_model()()
    assert model.programmes.key_worker.caseload == 6.0


def test_timeline_round_trips_on_the_month_grid():
    start = dt.date(2010, 4, 1)
    assert to_years(dt.date(2011, 4, 1), start) == 1.0
    assert to_years(dt.date(2010, 5, 1), start) == 1 / 12
    assert end_of_day_years(dt.date(2015, 5, 31), start) == pytest.approx(5 + 2 / 12)
    for day in (dt.date(2012, 2, 29), dt.date(2013, 7, 15), dt.date(2009, 1, 1)):
        assert to_date(to_years(day, start), start) == day
    assert financial_year(dt.date(2013, 3, 31)) == "2012-13"
