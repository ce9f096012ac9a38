"""The 2012 programme as councils ran it: allocations, identification, attachment and claims (issue 17).

The simulated checks run the programme's scenario at 5% scale (seed 3, one
replication and its counterfactual); every check is an exact property of
the rules, so none needs a tolerance.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from flowsim.cli import main
from flowsim.engine.codes import CLAIM_CRIME_EDUCATION, CLAIM_EMPLOYMENT, CLAIM_PROGRESS
from flowsim.engine.simulation import simulate_with_counterfactual
from flowsim.finance import counterfactual, counterfactual_values
from flowsim.programme_2012 import ENGLAND, find_council
from flowsim.programme_2012 import summary as programme_summary
from flowsim.programme_2012 import table as programme_table
from flowsim.scenario import load_scenario
from flowsim.scenario.registry_programme_2012 import council_rows

ROOT = Path(__file__).resolve().parents[1]
TF = ROOT / "scenarios" / "tf_programme_2012.toml"
SCALE = 0.05


@pytest.fixture(scope="module")
def scenario():
    return load_scenario(TF).with_values({"population.scale": SCALE})


@pytest.fixture(scope="module")
def pair(scenario):
    return simulate_with_counterfactual(scenario, counterfactual(scenario), seed=3)


def test_the_councils_data_has_152_sourced_allocations_summing_to_the_national_figure():
    rows = council_rows()
    assert len(rows) == 152 and len({r["council"] for r in rows}) == 152
    assert sum(r["allocation"] for r in rows) == 117_910  # DCLG's national figure (REFERENCE_FIGURES.md)
    assert all(r["allocation_source"] for r in rows)
    by_name = {r["council"]: r for r in rows}
    assert by_name["Barnet"]["allocation"] == 705  # seed 004 section 2.3
    assert by_name["Barnet"]["allocation_status"] == "confirmed"
    assert sum(r["community_budget_phase1"] for r in rows) == 28  # 16 areas, 28 councils (Pickles, March 2011)
    path = ROOT / "flowsim" / "data" / "councils_2012.csv"
    with path.open() as fh:
        assumed = [r for r in csv.DictReader(fh) if r["allocation_status"] == "assumption"]
    assert all(r["allocation_source"].startswith("assumption:") for r in assumed)


def test_no_council_attaches_beyond_its_allocation(pair):
    res, _ = pair
    p = res.programme_2012
    attached = np.bincount(p["attached"][1], minlength=len(p["councils"]))
    assert attached.sum() > 0
    assert (attached <= p["allocation"]).all()


def test_claims_never_precede_their_attachment_or_their_evidence(pair, scenario):
    res, _ = pair
    p = res.programme_2012
    cfg = scenario.params.programme_2012
    # Evidence counts from the attachment's date (a retrospective one's is earlier than when it was logged).
    t_attached = dict(zip(p["attached"][3].tolist(), p["attached"][4].tolist(), strict=True))
    t, _, route, _, key, _ = p["claims"]
    assert t.size > 0
    since = t - np.array([t_attached[int(k)] for k in key])
    # The crime/ASB and education windows lie wholly after attachment, and the records show them late.
    ce = route == CLAIM_CRIME_EDUCATION
    rec = cfg.records
    first_ce = min(
        rec.crime_asb.lag_years + cfg.evidence.crime_asb_years, rec.education.lag_years + cfg.evidence.education_years
    )
    assert (since[ce] >= first_ce - 1 / 12 - 1e-9).all()  # windows are whole months: a month's slack
    emp = route == CLAIM_EMPLOYMENT
    shortest = min(cfg.rules.employment_weeks_jsa, cfg.rules.employment_weeks_other) / 52.18
    assert (since[emp] >= shortest - 1e-9).all()  # off benefits no earlier than the records' lag before attachment
    first_window = min(res.claims[0]) if res.claims[0].size else None
    assert first_window is not None and first_window >= 2.75 - 1e-9  # January 2013, seed 004 section 2.4


def test_retrospective_attachment_counts_from_when_the_key_worker_began(pair, scenario):
    res, _ = pair
    logged, _, _, _, dated = res.programme_2012["attached"]
    start = scenario.params.programme_2012
    assert start.councils.retrospective
    assert (dated <= logged + 1e-12).all()  # never later than the council attached the family
    first = 2.0  # April 2012, two years after the run's start: never before the programme's start
    assert dated.min() >= first - 1e-9
    earlier = dated < logged - 1e-9
    assert earlier.any()  # families already being worked with were attached from when that work began


def test_one_result_of_each_kind_per_family(pair):
    res, _ = pair
    _, _, route, _, key, _ = res.programme_2012["claims"]
    for r in (CLAIM_CRIME_EDUCATION, CLAIM_EMPLOYMENT, CLAIM_PROGRESS):
        keys = key[route == r]
        assert np.unique(keys).size == keys.size
    both = np.intersect1d(key[route == CLAIM_CRIME_EDUCATION], key[route == CLAIM_EMPLOYMENT])
    assert both.size == 0  # the employment result is paid in place of the crime/ASB and education one


def test_a_zero_effect_programme_gives_no_additional_results_but_claims_still(scenario):
    zero = scenario.with_values(counterfactual_values(scenario))  # every programme's effect is nil
    res, cf = simulate_with_counterfactual(zero, counterfactual(zero), seed=3)
    s = programme_summary(res, cf, zero.params.finance)
    assert s["claimed"] > 0
    assert s["additional"] == 0
    assert s["claimed_caused"] == 0
    assert s["claimed_anyway"] == s["claimed_true"]


def test_the_sum_over_councils_is_the_national_figure(pair, scenario):
    res, cf = pair
    cols = programme_table(res, cf, scenario.params.finance)
    value = np.asarray(cols["value"])
    council = np.asarray(cols["council"])
    keys = np.array([f"{d}|{q}|{r}" for d, q, r in zip(cols["date"], cols["quantity"], cols["route"], strict=True)])
    england = council == ENGLAND
    national = dict(zip(keys[england], value[england], strict=True))
    sums: dict[str, float] = {}
    for k, v in zip(keys[~england], value[~england], strict=True):
        sums[k] = sums.get(k, 0.0) + v
    assert sums.keys() == national.keys()
    assert all(abs(sums[k] - national[k]) < 1e-6 * max(1.0, abs(national[k])) for k in national)
    # England's last row against the councils' own logs, counted apart from the table
    p = res.programme_2012
    last = max(cols["date"])
    at_end = {
        (q, r): v
        for d, c, q, r, v in zip(cols["date"], council, cols["quantity"], cols["route"], value, strict=True)
        if d == last and c == ENGLAND
    }
    assert at_end[("attached", "all")] == p["attached"][0].size
    assert at_end[("identified", "all")] == p["identified"][2].sum()
    route = p["claims"][2]
    assert at_end[("claimed", "results")] == np.isin(route, [CLAIM_CRIME_EDUCATION, CLAIM_EMPLOYMENT]).sum()
    s = programme_summary(res, cf, scenario.params.finance)
    assert s["attached"] == sum(c["attached"] for c in s["councils"].values())
    assert s["allocation"] == pytest.approx(sum(round(r["allocation"] * SCALE) for r in council_rows()))


def test_identified_eligible_and_claims_split_add_up(pair, scenario):
    res, cf = pair
    s = programme_summary(res, cf, scenario.params.finance)
    assert s["eligible"] <= s["identified"] <= s["allocation"]  # a council lists up to its allocation, no more
    assert s["attached"] <= s["identified"]  # councils attach from their lists, eligible for payment or not
    assert s["claimed"] == s["claimed_true"] + s["claimed_not_true"]
    assert s["claimed_true"] == s["claimed_caused"] + s["claimed_anyway"]
    assert s["claimed"] == s["claimed_crime_education"] + s["claimed_employment"]


def test_council_names_are_found_whatever_their_case_and_a_typo_is_named():
    names = [r["council"] for r in council_rows()]
    assert find_council("barnet", names) == "Barnet"
    assert find_council("north-yorkshire", names) == "North Yorkshire"
    with pytest.raises(ValueError, match="did you mean Barnet"):
        find_council("Barnett", names)


def test_the_command_line_prints_a_councils_block(tmp_path):
    runner = CliRunner()
    args = ["run", str(TF), "--set", "population.scale=0.02", "--no-report", "--yes", "--quiet"]
    out = runner.invoke(main, [*args, "--out", str(tmp_path / "r"), "--council", "barnet"])
    assert out.exit_code == 0, out.output
    assert "2012 programme, Barnet, by 31 May 2015:" in out.output
    assert "attached of 14 allocated" in out.output  # 705 x 0.02, rounded
    assert (tmp_path / "r" / "programme_2012.parquet").exists()
    bad = runner.invoke(main, [*args, "--out", str(tmp_path / "b"), "--council", "Barnett"])
    assert bad.exit_code == 2 and "did you mean Barnet" in bad.output
    assert not (tmp_path / "b").exists()  # nothing ran


def test_a_programme_the_model_cannot_run_is_refused_with_its_key(tmp_path):
    """The councils refer the families they attach to key workers: without key workers there is nobody to refer to."""
    args = ["run", str(ROOT / "scenarios" / "tf_programme_2012.toml"), "--no-report", "--yes"]
    out = CliRunner().invoke(
        main, [*args, "--out", str(tmp_path / "r"), "--set", "programmes.key_worker.enabled=false"]
    )
    assert out.exit_code == 2
    assert "key programme_2012.enabled: expected false unless programmes.key_worker.enabled" in out.output
    assert not (tmp_path / "r").exists()


def test_a_payment_rule_the_councils_replace_is_refused_with_what_to_set(tmp_path):
    """With the councils running the programme, finance.employment_weeks would be accepted and ignored."""
    args = ["run", str(ROOT / "scenarios" / "tf_programme_2012.toml"), "--no-report", "--yes"]
    out = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "r"), "--set", "finance.employment_weeks=26"])
    assert out.exit_code == 2
    assert "key finance.employment_weeks: expected no finance.employment_weeks" in out.output
    assert "programme_2012.rules.employment_weeks_jsa" in out.output
    assert not (tmp_path / "r").exists()


def test_no_family_is_attached_twice_and_every_claim_is_for_an_attached_family(pair):
    res, _ = pair
    p = res.programme_2012
    attached_keys = p["attached"][3]
    assert np.unique(attached_keys).size == attached_keys.size
    t_claim, _, _, _, key, _ = p["claims"]
    assert t_claim.size > 0
    assert np.isin(key, attached_keys).all()


@pytest.mark.slow
def test_the_report_gives_the_council_asked_about_a_section(tmp_path):
    """Before: --council changed only the terminal; the report said nothing of the council. 0.4% scale to July 2013."""
    sets = ["population.scale=0.004", "time.end=2013-07-31", "time.deadline=2013-07-31"]
    args = ["run", str(TF), "--quiet", "--out", str(tmp_path / "r"), "--council", "barnet"]
    out = CliRunner().invoke(main, [*args, *(a for s in sets for a in ("--set", s))])
    assert out.exit_code == 0, out.output
    page = (tmp_path / "r" / "report.html").read_text()
    assert "<h2 id='council'>Barnet</h2>" in page and "2012 programme, Barnet, by 31 July 2013" in page
    assert json.loads((tmp_path / "r" / "manifest.json").read_text())["council"] == "Barnet"
