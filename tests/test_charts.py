"""Charts say exactly what they show: the scale below full size, titles computed from what is drawn, dates that
read as the dates they mark (issue 31)."""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd
import pytest

from flowsim.charts import FIGURES, ChartMeta, run_meta
from flowsim.rundir import RunDirectory

from .conftest import BASELINE, invoke, sets

#: 0.4% of England to the end of May 2013: three full financial years and a two-month part year (2013-14).
RUN = ["population.scale=0.004", "time.end=2013-05-31", "time.deadline=2013-05-31"]
#: The figures with a date axis.
DATED = ("turned_around", "population", "programmes", "waiting", "problems")


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> RunDirectory:
    out = tmp_path_factory.mktemp("charts") / "run"
    result = invoke("run", BASELINE, *sets(RUN), "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    return RunDirectory(out)


def texts(fig) -> list[str]:
    """Every text the figure draws (titles, notes, annotations, tick labels once drawn)."""
    import matplotlib.text

    return [t.get_text() for t in fig.findobj(matplotlib.text.Text) if t.get_text()]


def by_gid(fig, gid: str) -> str:
    return next(t.get_text() for t in fig.texts if t.get_gid() == gid)


def drawn(fig):
    """The figure laid out (tick labels exist only once it is drawn)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig).draw()
    return fig


def test_run_meta_reads_the_scale_from_the_resolved_scenario(run):
    assert run_meta(run).scale == 0.004
    assert ChartMeta("s", "0" * 64, 3, "v").scale == 1.0  # callers that do not say it: full scale


def test_every_run_chart_states_the_scale_and_the_replications(run):
    meta = run_meta(run)
    drawn_any = 0
    for name, module in FIGURES.items():
        fig = module.draw(run, meta)
        if fig is None:
            continue
        drawn_any += 1
        footnote = by_gid(fig, "footnote")
        assert "0.4% of England's size (population.scale 0.004)" in footnote, (name, footnote)
        assert "counts of families are for that share of England" in footnote, name
        assert "1 replication." in footnote, (name, footnote)
    assert drawn_any >= 6


def test_a_full_scale_footnote_says_no_scale():
    meta = ChartMeta("baseline", "a" * 64, 5, "0.1.0")
    assert "scale" not in meta.footnote() and "5 replications" in meta.footnote()
    assert meta.scaled() == "" and "\n" not in meta.footnote()
    assert "2 times England's size" in ChartMeta("b", "a" * 64, 1, "0.1.0", scale=2.0).footnote()


def test_waterfall_title_is_the_mean_of_the_full_years_drawn(run):
    fig = FIGURES["waterfall"].draw(run, run_meta(run))
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels[-1] == "2013-14\n(to May 2013)", labels  # the part year says so on its axis
    assert all("\n" not in label for label in labels[:-1]), labels
    entered = [float(t.get_text()[1:].replace(",", "")) for t in ax.texts if t.get_text().startswith("+")]
    assert len(entered) == len(labels) == 4
    title = by_gid(fig, "title")
    number = float(re.search(r"About ([\d,]+) families a year enter", title).group(1).replace(",", ""))
    full = sum(entered[:-1]) / 3
    assert number == round(full, 2 - len(str(int(full)))), (title, entered)  # the part year is not averaged in
    assert abs(number - full) <= 0.05 * full
    nets = [t.get_text() for t in ax.texts if t.get_text().startswith("net ")]
    change = sum(float(n[4:].replace("−", "-").replace(",", "")) for n in nets)
    assert f"changes by {change:+,.0f}".replace("-", "−") in title, (title, nets)
    assert "2010-11 to 2012-13" in by_gid(fig, "subtitle")


def test_about_rounds_to_two_significant_figures():
    from flowsim.charts.run.waterfall import about

    assert (about(74_321), about(3_804), about(297), about(45.4), about(0)) == (74_000, 3_800, 300, 45, 0)


@pytest.mark.parametrize("name", DATED)
def test_date_ticks_name_the_month_they_mark(run, name):
    import matplotlib.dates as mdates

    fig = drawn(FIGURES[name].draw(run, run_meta(run)))
    seen = 0
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        lo, hi = ax.get_xlim()
        for tick in ax.xaxis.get_major_ticks():
            text = tick.label1.get_text()
            if not text or not tick.label1.get_visible() or not lo <= tick.get_loc() <= hi:
                continue
            when = mdates.num2date(tick.get_loc())
            assert text == when.strftime("%b %Y"), (name, text, when)  # "Apr 2012" at 1 April 2012
            seen += 1
    assert seen >= 2, name


def test_money_chart_labels_the_part_year_and_says_whose_money():
    from flowsim.charts.run.money import figure

    finance = pd.DataFrame(
        {
            "replication": 0,
            "financial_year": ["2012-13", "2013-14", "2014-15", "2015-16"],
            "attachment_paid_gbp": [2.2e6, 2.8e6, 1.9e6, 0.0],
            "results_paid_gbp": [2e3, 4e5, 1.2e6, 0.0],
            "money_at_risk_gbp": [5e5, 2e6, 3.5e6, 3.5e6],
        }
    )
    meta = ChartMeta("tf", "b" * 64, 1, "0.1.0", scale=0.05)
    fig = figure(finance, meta, dt.date(2010, 4, 1), dt.date(2015, 5, 31))
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()][-1] == "2015-16\n(to May 2015)"
    assert "not scaled back to England" in by_gid(fig, "footnote")
    assert "for the simulated 5% of England" in by_gid(fig, "title")
    assert "0.0" not in texts(fig)  # £2,000 is not written as nothing


def test_how_sure_title_names_the_parameter_that_moves_the_answer():
    from flowsim.charts.run.how_sure import figure

    def summary(rho: float) -> dict:
        measures = {"target.count.turned_around": {"identification.fip_rate_per_year": rho, "population.scale": 0.01}}
        return {"replications": 40, "ensemble": {"sets": 10, "sensitivity": {"null_95": 0.31, "measures": measures}}}

    meta = ChartMeta("baseline", "c" * 64, 40, "0.1.0")
    assert "most (rho −0.62)" in by_gid(figure(summary(-0.62), meta), "title")
    assert by_gid(figure(summary(0.2), meta), "title").startswith("No calibrated parameter moves")


def test_results_title_does_not_say_only_of_a_majority():
    from flowsim.charts.run.results import figure

    summary = {
        "additional": {"turned_around": 600.0, "framework_results": 5.0, "counterfactual": {}},
        "target": {"count": {"turned_around": 1000.0, "framework_results": 50.0}},
    }
    title = by_gid(figure(summary, ChartMeta("b", "d" * 64, 1, "0.1.0")), "title")
    assert title == "60% of the families turned around were turned around by the programmes", title


def test_sweep_and_calibration_charts_state_the_scale():
    from flowsim.charts.calibration import ensemble_fit, fit
    from flowsim.charts.sweep import probability_met, tornado

    points = pd.DataFrame(
        {
            "programmes.key_worker.caseload": [4.0, 6.0],
            "p_met": [0.2, 0.6],
            "p_met_lo": [0.05, 0.3],
            "p_met_hi": [0.5, 0.85],
            "replications": [10, 10],
            "turned_around": [1_000.0, 2_000.0],
        }
    )
    meta = ChartMeta("sweep", "e" * 64, 10, "0.1.0")
    for fig in (  # the scale as sweep/summary.py passes it today, and in the ChartMeta
        probability_met(points, ["programmes.key_worker.caseload"], meta, 0.05),
        probability_met(points, ["programmes.key_worker.caseload"], ChartMeta("sweep", "e" * 64, 10, "0.1.0", 0.05)),
    ):
        footnote = by_gid(fig, "footnote")
        assert "population.scale 0.05" in footnote and "10 replications" in footnote, footnote
    indices = {"turned_around": {"programmes.key_worker.caseload": {"ST": 0.5, "ST_conf": 0.1}}}
    tornado_fig = tornado(indices, "sobol", ChartMeta("s", "e" * 64, 4, "0.1.0", 0.05), "turned_around", "families")
    assert "population.scale 0.05" in by_gid(tornado_fig, "footnote")
    calibration = fit(["stock", "at_risk"], [0.1, -0.2], [0.0, -0.5], [0.3, 0.1], scale=0.05, replications=4)
    assert "population.scale 0.05" in by_gid(calibration, "footnote")
    assert "4 replications" in by_gid(calibration, "footnote")
    assert "population.scale" in by_gid(ensemble_fit(["stock"], {"stock": [0.1, 0.5]}, (), 3.0, scale=0.05), "footnote")
