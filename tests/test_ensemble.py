"""The ensemble calibration (history matching) and answers over the ensemble (``--ensemble``)."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest

from flowsim.calibrate import history_matching as hm
from flowsim.calibrate.design import load_design
from flowsim.calibrate.point_fit import UNFITTED
from flowsim.calibrate.targets import TargetsError, load_targets
from flowsim.ensemble import Ensemble, members_for
from flowsim.scenario import load_scenario
from flowsim.summary import variance_split

from .conftest import BASELINE, ROOT, assert_user_error, invoke, sets

TARGETS = ROOT / "calibration" / "targets.toml"
DESIGN = ROOT / "calibration" / "ensemble.toml"
ENSEMBLE = ROOT / "calibration" / "ensemble.parquet"


@pytest.fixture(scope="module")
def baseline():
    return load_scenario(BASELINE)


# -- the design and the targets' uncertainty --------------------------------------------------------------------


def test_every_calibrated_parameter_has_a_prior_with_a_source(baseline):
    from flowsim.calibrate.point_fit import handles
    from flowsim.calibrate.posterior import is_effect

    design = load_design(DESIGN, baseline)
    fitted = {k for p in design.priors if not is_effect(p) for k in p.keys}
    assert fitted == set(handles(baseline)), "the point fit moves every calibrated parameter but the effects"
    effects = {k for p in design.priors if is_effect(p) for k in p.keys}
    assert effects and all(k.startswith("programmes.key_worker.resolution_hr.") for k in effects)
    point = design.unit(baseline)
    assert np.all((point >= 0) & (point <= 1)), "the point fit lies inside every range"
    for p in design.priors:  # an effect's point value is its prior's median (the registry's, from the evidence)
        assert p.source and (not is_effect(p) or float(baseline.value(p.keys[0])) == p.median), p.name


def test_every_fitted_target_states_a_discrepancy_with_its_source():
    targets = load_targets(TARGETS)
    for t in targets.targets:
        assert t.discrepancy > 0 and t.discrepancy_source, t.name


@pytest.mark.parametrize(
    ("edit", "fragments"),
    [
        (
            lambda s: s.replace("lo = 0.001\n", "lo = -1\n", 1),
            ["priors.problems.workless.onset_rate_per_year", "0 < lo < hi"],
        ),
        (lambda s: s.replace("cutoff = 3.0", "cutof = 3.0"), ["settings.cutof"]),
        (lambda s: s + '\n[priors.nonsense]\nlo = 1\nhi = 2\nsource = "x"\n', ["priors.nonsense", "'nonsense'"]),
        (lambda s: s.replace("waves = 4", "waves = 2.5"), ["settings.waves", "positive int"]),
    ],
)
def test_a_bad_design_names_file_and_key(tmp_path, baseline, edit, fragments):
    path = tmp_path / "ensemble.toml"
    path.write_text(edit(DESIGN.read_text()))
    with pytest.raises(TargetsError) as err:
        load_design(path, baseline)
    for fragment in [str(path), *fragments]:
        assert fragment in str(err.value)


def test_a_discrepancy_needs_its_source(tmp_path):
    path = tmp_path / "targets.toml"
    path.write_text('[targets.stock]\nvalue = 46000\nsd = 3000\ndiscrepancy = 10\nsource = "s"\n')
    with pytest.raises(TargetsError, match="targets.stock: a discrepancy needs its discrepancy_source"):
        load_targets(path)


def test_the_command_line_rejects_a_bad_design_with_exit_2(tmp_path):
    bad = tmp_path / "ensemble.toml"
    bad.write_text("[settings]\nwaves = 0\n")
    result = invoke(
        "calibrate", BASELINE, "--method", "history-matching", "--design", bad, "--out", tmp_path / "f.toml"
    )
    assert_user_error(result, str(bad), "settings.scale")


# -- the history matching's machinery, on a model whose answer is known ---------------------------------------------


class FakeExecutor:
    """Runs a known, cheap "model" in place of the simulator: every target moves with one parameter, as a power.

    At the point fit every target is met exactly. ``stop_after`` raises after that many runs (a killed calibration).
    """

    def __init__(self, targets, point: dict, stop_after: int | None = None) -> None:
        self.targets = {t.name: t for t in targets.targets}
        self.point = point
        self.stop_after = stop_after
        self.calls = 0

    def measures(self, values: dict) -> dict:
        def r(key):
            return values[key] / self.point[key]

        out = {}
        for name, t in self.targets.items():
            if name.startswith("prevalence_"):
                out[name] = t.value * r(f"problems.{name[11:]}.onset_rate_per_year") ** 0.8
            elif name.startswith("osr14_"):
                out[name] = t.value  # the key worker's effects: nothing here pins them
            elif name == "at_risk":
                out[name] = t.value * r("events.crisis.rate_per_year") ** 0.7
            elif name == "stock":
                out[name] = t.value * r("problems.child_link_scale") ** 0.5
            elif name == "multiply_disadvantaged":
                out[name] = t.value * r("problems.household_link_scale") ** 0.3
            elif name == "persistence_1y":
                out[name] = t.value * r("problems.low_income.crisis_duration_years") ** 0.2
            else:
                out[name] = t.value
        out["stock_share_of_at_risk"] = 0.16
        return out

    def run(self, fn, tasks, size=None):
        for task in tasks:
            if self.stop_after is not None and self.calls >= self.stop_after:
                raise KeyboardInterrupt
            self.calls += 1
            yield task, self.measures(task[2])


@pytest.fixture(scope="module")
def small_design(baseline):
    design = load_design(DESIGN, baseline)
    return dataclasses.replace(
        design, waves=2, runs_per_wave=60, ensemble_runs=60, members=30, noise_seeds=3, candidates=8000
    )


@pytest.mark.slow
def test_history_matching_finds_what_the_targets_pin_and_leave_free(tmp_path, baseline, small_design):
    targets = load_targets(TARGETS)
    point = {k: float(baseline.value(k)) for p in small_design.priors for k in p.keys}
    ex = FakeExecutor(targets, point)
    e = hm.history_match(baseline, targets, small_design, tmp_path, ex)
    members = e.members[1:]
    assert len(members) >= 30, e.waves
    fitted = [t for t in targets.targets if t.name not in UNFITTED]
    for m in members:  # every member is one the "simulator" cannot rule out
        assert all(hm.implausibility(t, m["measures"][t.name], e.noise_sd[t.name]) <= 3 for t in fitted)
    u = np.array([m["u"] for m in members])
    names = [p.name for p in small_design.priors]
    width = dict(zip(names, np.quantile(u, 0.975, axis=0) - np.quantile(u, 0.025, axis=0)))
    # The key worker's effects move nothing here: the members spread over most of their priors.
    assert width["programmes.key_worker.resolution_hr.parental_illness"] > 0.7, width
    # The workless prevalence (sd 0.01, discrepancy 0.0135, exponent 0.8) pins its onset rate to within a factor of
    # about (1 + 3 x 0.0168 / 0.135) ** (1 / 0.8) = 1.55 either way: 0.32 of its log prior's width (a factor of 16).
    assert width["problems.workless.onset_rate_per_year"] < 0.45, width
    assert e.members[0]["point_fit"] and e.members[0]["implausibility"] == pytest.approx(0.0, abs=1e-9)


@pytest.mark.slow
def test_a_killed_history_matching_resumes_without_losing_or_repeating_a_run(
    tmp_path, baseline, small_design, monkeypatch
):
    targets = load_targets(TARGETS)
    point = {k: float(baseline.value(k)) for p in small_design.priors for k in p.keys}
    killed = FakeExecutor(targets, point, stop_after=100)
    with pytest.raises(KeyboardInterrupt):
        hm.history_match(baseline, targets, small_design, tmp_path, killed)
    folder = next(tmp_path.iterdir())
    with (folder / "runs.jsonl").open("a") as fh:
        fh.write('{"wave": 2, "index": 3, "cut sho')  # a line cut short by the kill
    resumed = FakeExecutor(targets, point)
    e = hm.history_match(baseline, targets, small_design, tmp_path, resumed)
    batches = sum(w["wave"] > small_design.waves for w in e.waves)
    total = small_design.noise_seeds + small_design.waves * small_design.runs_per_wave
    total += batches * small_design.ensemble_runs
    assert killed.calls + resumed.calls == total
    lines = (folder / "runs.jsonl").read_text().splitlines()
    assert lines.count('{"wave": 2, "index": 3, "cut sho') == 1, "the cut line stands alone"
    logged = [json.loads(line) for line in lines if not line.endswith("sho")]
    keys = [(r["wave"], r["index"]) for r in logged]
    assert len(keys) == len(set(keys)) == total, "every run once"
    assert len(e.runs) + small_design.noise_seeds == total
    # Finished: started again, it reads everything back, runs nothing and fits no emulator.
    monkeypatch.setattr(hm.Emulators, "fit", lambda *a: pytest.fail("an emulator was refitted"))
    again = FakeExecutor(targets, point)
    same = hm.history_match(baseline, targets, small_design, tmp_path, again)
    assert again.calls == 0 and len(same.members) == len(e.members)


def test_each_wave_spreads_its_runs_over_what_is_left_not_around_the_centres():
    """Seed 3, 40,000 candidates: a region [0.2, 0.6]^2 is left, the centres sit in one corner of it; the runs drawn
    must spread over the whole region (resampled by the inverse of the proposal's density). Tolerance: the mean of
    200 uniform draws on [0.2, 0.6] has sd 0.4 / sqrt(12 x 200) = 0.008; 0.04 is five of those."""
    rng = np.random.default_rng(3)
    centres = rng.uniform(0.2, 0.3, size=(20, 2))

    def screen(u):
        return np.where(np.all((u >= 0.2) & (u <= 0.6), axis=1), 0.5, 2.0)

    u, info = hm._propose(rng, centres, 200, 40_000, screen)
    assert np.all((u >= 0.2) & (u <= 0.6))
    assert np.allclose(u.mean(axis=0), 0.4, atol=0.04), u.mean(axis=0)
    assert info["share_of_prior"] == pytest.approx(0.16, rel=0.25)  # the region is 0.4 x 0.4 of the prior


# -- answers over the ensemble -------------------------------------------------------------------------------------


def test_variance_split_recovers_known_components():
    """Sets' means 0, 10, ..., 110, each set's two runs at m - 1 and m + 1: chance's variance is 2, and the parameters'
    is the variance of the sets' means less what chance adds to a mean of two runs (2 / 2)."""
    means = np.arange(12) * 10.0
    x = np.column_stack([means - 1, means + 1]).ravel()
    split = variance_split(x, 2)
    v = means.var(ddof=1)
    assert split["parameters"] == pytest.approx((v - 1.0) / (v - 1.0 + 2.0))
    assert variance_split(x, 1)["parameters"] is None


def _ensemble_file(tmp_path, baseline, scale_second: float = 1.3) -> tuple:
    design = load_design(DESIGN, baseline)
    keys = [k for p in design.priors for k in p.keys]
    point = {k: float(baseline.value(k)) for k in keys}
    other = {k: v * (scale_second if "onset_rate" in k else 1.0) for k, v in point.items()}
    frame = pd.DataFrame([point, other])
    frame.insert(0, "member", [0, 1])
    frame.insert(1, "weight", [0.5, 0.5])
    frame["point_fit"] = [True, False]
    path = tmp_path / "ensemble.parquet"
    frame.to_parquet(path)
    path.with_suffix(".json").write_text(json.dumps({"parameters": keys}))
    return path, point, other


def test_members_keep_what_the_scenario_sets_itself(tmp_path, baseline):
    from flowsim import ensemble

    path, point, other = _ensemble_file(tmp_path, baseline)
    e = ensemble.load(path)
    assert sorted(e.draw(2, seed=1)) == [0, 1] and e.draw(2, seed=1) == e.draw(2, seed=1)
    changed = baseline.with_values({"problems.workless.onset_rate_per_year": 0.05})
    members, own = members_for(changed, e, 2, seed=1)
    assert own == ["problems.workless.onset_rate_per_year"]
    assert all("problems.workless.onset_rate_per_year" not in m for m in members)


def test_run_over_the_ensemble_applies_each_set_and_splits_the_variance(tmp_path, baseline):
    """Two sets x 2 replications at 0.4% of England for a year. The set equal to the point fit gives, replication for
    replication, exactly what a plain run of the scenario gives on the same streams."""
    from flowsim.replications import run_ensemble, run_replications

    path, point, other = _ensemble_file(tmp_path, baseline, scale_second=2.0)
    tiny = ["population.scale=0.004", "time.end=2011-04-30", "time.deadline=2011-04-30"]
    out = tmp_path / "run"
    result = invoke(
        "run",
        BASELINE,
        *sets(tiny),
        "--ensemble",
        2,
        "--ensemble-file",
        path,
        "--jobs",
        1,
        "--out",
        out,
        "--quiet",
    )
    assert result.exit_code == 0, result.output
    assert "over an ensemble of 2 parameter sets drawn from 2, 2 replications each" in result.stdout.splitlines()[0]
    summary = json.loads((out / "summary.json").read_text())
    e = summary["ensemble"]
    assert e["sets"] == 2 and e["replications_per_set"] == 2
    assert 0.0 <= e["variance_share"]["moments.at_risk"]["parameters"] <= 1.0
    assert set(e["sensitivity"]["measures"]) >= {"target.count.turned_around", "target.prevalence.stock_end"}
    report = (out / "report.html").read_text()
    assert "<h2 id='how-sure'>How sure is this?</h2>" in report and "over 2 parameter sets" in report
    assert (out / "charts" / "how_sure.png").exists()
    # Set k runs replications 2k and 2k + 1: the point fit's set matches the plain run there, the other set does not.
    records = run_ensemble(load_scenario(BASELINE, tiny), [point, other], 2, 1, jobs=1)
    plain = run_replications(load_scenario(BASELINE, tiny), 1, 4, jobs=1)
    at_risk = [r.summary["moments"]["at_risk"] for r in plain]
    assert [r.summary["moments"]["at_risk"] for r in records[:2]] == at_risk[:2]
    assert [r.summary["moments"]["at_risk"] for r in records[2:]] != at_risk[2:]
    assert [r.summary["ensemble_set"] for r in records] == [0, 0, 1, 1]
    # Beside the ensemble, the point fit alone on the first four streams: a plain run of four replications.
    point_fit = e["point_fit"]
    assert point_fit["replications"] == 4
    assert point_fit["measures"]["moments.at_risk"]["mean"] == pytest.approx(np.mean(at_risk), rel=1e-12)
    assert "The point fit alone" in report


def test_an_ensemble_drawn_around_another_fit_is_refused(tmp_path):
    """A refit with no ensemble of its own (the clockwork fit, copied where no ensemble sits beside it) falls back to
    the project's ensemble, the baseline's: running its members would keep the refit's values for every key and
    silently give the point fit alone, so it is refused with the command that draws the refit's own."""
    fitted = tmp_path / "refit" / "fitted.toml"
    fitted.parent.mkdir()
    text = (ROOT / "calibration" / "clockwork" / "fitted.toml").read_text()
    fitted.write_text(text.replace('extends = "../../scenarios/baseline.toml"', f'extends = "{BASELINE}"'))
    scenario = tmp_path / "refit" / "refit.toml"
    clockwork = (ROOT / "scenarios" / "clockwork_crises.toml").read_text()
    scenario.write_text(
        clockwork.replace('extends = "../calibration/clockwork/fitted.toml"', 'extends = "fitted.toml"')
    )
    result = invoke("run", scenario, "--ensemble", 2, "--out", tmp_path / "run")
    assert_user_error(result, "ensemble.parquet", "refit/fitted.toml", "--method history-matching")
    assert not (tmp_path / "run").exists()


def test_a_structure_is_answered_over_the_ensemble_beside_its_fit(tmp_path):
    """Each structure's fit and ensemble share a folder (calibration/clockwork/): a scenario extending a fitted file
    takes the ensemble beside it, and the project's otherwise."""
    from types import SimpleNamespace

    from flowsim.ensemble import DEFAULT_PATH, default_path

    fitted = tmp_path / "clockwork" / "fitted.toml"
    fitted.parent.mkdir()
    scenario = SimpleNamespace(calibrated_by=(str(fitted), "flowsim calibrate run x"), path=str(BASELINE))
    assert default_path(scenario) == ROOT / DEFAULT_PATH
    (fitted.parent / "ensemble.parquet").write_bytes(b"")
    assert default_path(scenario) == fitted.parent / "ensemble.parquet"


def test_run_with_a_missing_ensemble_exits_2(tmp_path):
    result = invoke("run", BASELINE, "--ensemble", 2, "--ensemble-file", tmp_path / "none.parquet")
    assert_user_error(result, "none.parquet", "--method history-matching")


# -- the committed ensemble ----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_five_members_drawn_by_weight_pass_the_joint_criterion_on_unseen_seeds(baseline):
    """Five members of calibration/ensemble.parquet, drawn by weight with seed 5, each re-run on four seeds the
    calibration never used (95,001 onwards). The posterior keeps a member only if its sum of squared z over the
    fitted targets (total sds: the target's sd, its model discrepancy and the simulation's noise at the point fit,
    ensemble.json) is within chi-squared(n) at 0.995; the mean of four runs, which strays less than one run by the
    noise, must pass it too."""
    from flowsim import ensemble
    from flowsim.calibrate.point_fit import problem_measures, survey_values
    from flowsim.calibrate.posterior import Likelihood
    from flowsim.engine import simulate

    e = ensemble.load(ENSEMBLE)
    lik = Likelihood.of(load_targets(TARGETS), e.meta["noise_sd"])
    for k, row in enumerate(e.draw(5, seed=5)):
        trial = baseline.with_values({**survey_values(baseline, e.meta["scale"]), **e.member(int(row))})
        runs = [problem_measures(simulate(trial, seed=95_001 + 4 * k + j)) for j in range(4)]
        mean = {n: float(np.nanmean([r[n] for r in runs])) for n in runs[0]}
        z = lik.z(mean)
        assert float((z**2).sum()) <= lik.chi2_limit(), (int(row), dict(zip(lik.names, np.round(z, 2))))


def test_the_committed_ensemble_is_a_posterior_with_an_effective_sample_of_100(baseline):
    """Issue 30: importance weights over members that each pass the joint criterion, an effective sample size of
    at least 100, and the point fit kept (weight 0) for the keys a scenario sets itself."""
    import pandas as pd

    from flowsim import ensemble
    from flowsim.calibrate.posterior import effective_sample_size

    e = ensemble.load(ENSEMBLE)
    assert math.isclose(e.weights.sum(), 1.0)
    assert e.weights[e.point_fit] == 0.0
    frame = pd.read_parquet(ENSEMBLE)
    members = frame[~frame["point_fit"]]
    assert members["passes"].all()
    limit = float(e.meta["criterion"].rsplit("=", 1)[1])
    assert (members["z2"] <= limit).all()
    assert effective_sample_size(members["log_weight"]) == pytest.approx(e.meta["effective_sample_size"], abs=0.1)
    assert e.meta["effective_sample_size"] >= 100
    point = e.member(e.point_fit)
    assert all(math.isclose(point[k], float(baseline.value(k)), rel_tol=1e-9) for k in point)
    assert isinstance(e, Ensemble)


def test_compare_and_solve_over_the_ensemble_share_its_parameter_sets(tmp_path, baseline):
    """Compare and solve with --ensemble 2 (2 replications of each set) at 0.4% of England for a year."""
    path, _, _ = _ensemble_file(tmp_path, baseline, scale_second=2.0)
    tiny = ["population.scale=0.004", "time.end=2011-04-30", "time.deadline=2011-04-30"]
    ens = ["--ensemble", 2, "--ensemble-file", path, "--jobs", 1]
    plus = ROOT / "scenarios" / "key_worker_plus20.toml"
    result = invoke("compare", BASELINE, plus, *sets(tiny), *ens, "--out", tmp_path / "cmp", "--quiet")
    assert result.exit_code == 0, result.output
    assert "(an ensemble of 2 parameter sets drawn from 2, 2 replications each, common to both)" in result.stdout
    doc = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert doc["replications"] == 4 and doc["ensemble"]["sets"] == 2
    d = doc["differences"]["target.count.turned_around"]
    assert d["over_runs"]["lo"] <= d["paired"]["mean"] <= d["over_runs"]["hi"]
    # Beside it, A and B at the point fit alone on the first four streams: a plain compare of four replications.
    assert doc["point_fit"]["replications"] == 4
    plain = invoke("compare", BASELINE, plus, *sets(tiny), "--replications", 4, "--jobs", 1, "--out", tmp_path / "p")
    assert plain.exit_code == 0, plain.output
    alone = json.loads((tmp_path / "p" / "compare.json").read_text())["differences"]["target.count.turned_around"]
    assert doc["point_fit"]["differences"]["target.count.turned_around"]["paired"] == alone["paired"]
    result = invoke(
        "solve", BASELINE, "--vary", "programmes.key_worker.caseload", "--range", 2, 12, "--probability", 0.01,
        *sets(tiny), *ens, "--quiet", "--out", tmp_path / "solve",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "runs over 2 parameter sets of the calibrated ensemble" in result.stdout or "Not reachable" in result.stdout


def test_a_sweep_over_the_ensemble_runs_every_point_at_the_same_parameter_sets(tmp_path, baseline):
    """ensemble = 2, replications = 2: four runs per design point, two parameter sets, the same sets at each point."""
    from flowsim.sweep import load_sweep

    path, _, _ = _ensemble_file(tmp_path, baseline, scale_second=2.0)
    sweep = tmp_path / "sweep.toml"
    sweep.write_text(
        f'base = "{BASELINE}"\nreplications = 2\nensemble = 2\nensemble_file = "ensemble.parquet"\n'
        'set = ["population.scale=0.004", "time.end=2011-04-30", "time.deadline=2011-04-30"]\n'
        '[parameters."programmes.key_worker.caseload"]\nvalues = [6, 9]\n'
    )
    spec = load_sweep(sweep)
    assert spec.replications == 4 and len(spec.members) == 2
    result = invoke("sweep", sweep, "--jobs", 1, "--out", tmp_path / "out", "--quiet")
    assert result.exit_code == 0, result.output
    runs = pd.concat(pd.read_parquet(p) for p in (tmp_path / "out" / "runs").glob("*.parquet"))
    assert len(runs) == 8
    shas = runs.groupby("design_point")["scenario_sha256"].nunique()
    assert list(shas) == [2, 2], "two parameter sets at each point"
    points = json.loads((tmp_path / "out" / "summary.json").read_text())["points"]
    for point in points:  # each point's spread over its own four runs
        mine = runs.loc[runs["design_point"] == point["design_point"], "turned_around"]
        assert point["turned_around_lo"] == pytest.approx(mine.quantile(0.025))
        assert point["turned_around_hi"] == pytest.approx(mine.quantile(0.975))
    bad = tmp_path / "bad.toml"
    bad.write_text(sweep.read_text().replace('ensemble_file = "ensemble.parquet"', 'ensemble_file = "none.parquet"'))
    assert_user_error(invoke("sweep", bad, "--out", tmp_path / "bad"), "ensemble_file", "none.parquet")


def test_how_sure_lists_a_measure_known_under_two_names_once():
    """The 2012 programme's claims are the results claimed: one row. Two different measures with equal values
    (no claims at all: claimed 0, additional 0) keep a row each."""
    from flowsim.report.html import _ensemble_section

    def node(x):
        return {"mean": x, "lo": x, "hi": x, "over": "runs"}

    keys = ["results.claimed", "results.additional", "programme_2012.claimed", "programme_2012.additional"]
    summary = {
        "replications": 4,
        "target": {"count": {"probability_met": {"mean": 0.0, "lo": 0.0, "hi": 0.5}}},
        "results": {"claimed": node(0.0), "additional": node(0.0)},
        "programme_2012": {"claimed": node(0.0), "additional": node(0.0)},
        "ensemble": {
            "sets": 2,
            "members": 3,
            "replications_per_set": 2,
            "path": "calibration/ensemble.parquet",
            "variance_share": {k: {"parameters": 0.5} for k in keys},
        },
    }
    html = _ensemble_section(summary)
    assert "Results claimed by the deadline" in html and "Additional results (claimed less counterfactual)" in html
    assert "councils claimed" not in html and html.count("<tr><td>") == 2
