"""Model v2's calibration: the fitting machinery, and the committed fit against its targets on unseen seeds."""

from __future__ import annotations

import json

import numpy as np
import pytest

from flowsim.calibrate.point_fit import fit, problem_measures, survey_values, write_fitted
from flowsim.calibrate.targets import load_targets
from flowsim.scenario import load_scenario

from .conftest import BASELINE, ROOT

TARGETS = ROOT / "calibration" / "targets.toml"
#: Every shipped structure, each with its own fit (calibration/README.md), and how far its unfitted 4-of-6 count
#: (at risk in at least 4 of 6 waves, every family observed) may lie above the seed's 20,000: a loose bound that
#: catches a regression (when fitted: baseline 32,000, clockwork 21,000, memoryless 82,000).
STRUCTURES = {
    "baseline": (BASELINE, 2.2),
    "clockwork_crises": (ROOT / "scenarios" / "clockwork_crises.toml", 1.5),
    "memoryless_crises": (ROOT / "scenarios" / "memoryless_crises.toml", 5.0),
}
STRUCTURAL_MISSES = ("persistent_4_of_6",)


def _tiny_targets(tmp_path):
    """The targets at 0.4% of England on one seed: a fit's passes in seconds."""
    text = TARGETS.read_text().replace("scale = 0.05 ", "scale = 0.004 ").replace("seeds = [101, 102]", "seeds = [5]")
    path = tmp_path / "targets.toml"
    path.write_text(text)
    return load_targets(path)


def test_fit_passes_resume_without_rerunning(tmp_path):
    targets = _tiny_targets(tmp_path)
    scenario = load_scenario(BASELINE, ["population.burn_in_years=4"])
    first = fit(scenario, targets, tmp_path / "runs", iterations=2)
    lines = first.log_path.read_text().splitlines()
    assert len(lines) == 2 and all("next" in json.loads(x) for x in lines)
    again = fit(scenario, targets, tmp_path / "runs", iterations=2)  # every pass comes from the log
    assert first.log_path.read_text().splitlines() == lines
    assert [p["objective"] for p in again.passes] == [p["objective"] for p in first.passes]
    with first.log_path.open("a") as fh:
        fh.write('{"pass": 2, "values": {"cut sho')  # a pass cut short when the fit was killed
    third = fit(scenario, targets, tmp_path / "runs", iterations=3)
    assert len(third.passes) == 3
    fitted = tmp_path / "fitted.toml"
    write_fitted(fitted, third, targets, "baseline")
    combined = tmp_path / "combined.toml"
    combined.write_text(fitted.read_text().replace("calibrated_by", f'extends = "{BASELINE}"\ncalibrated_by', 1))
    sc = load_scenario(combined)
    assert sc.calibrated_by is not None and "run " + third.run_id in sc.calibrated_by[1]


def test_a_fit_started_again_after_the_model_changed_starts_afresh(tmp_path, monkeypatch):
    """A run's identity includes the model's code: passes logged under the model before are not resumed."""
    from flowsim.calibrate import point_fit

    targets = _tiny_targets(tmp_path)
    scenario = load_scenario(BASELINE, ["population.burn_in_years=4"])
    first = fit(scenario, targets, tmp_path / "runs", iterations=1)
    monkeypatch.setattr(point_fit, "model_digest", lambda: "another model")
    second = fit(scenario, targets, tmp_path / "runs", iterations=1)
    assert second.run_id != first.run_id and second.log_path != first.log_path
    assert len(second.log_path.read_text().splitlines()) == 1


@pytest.fixture(scope="module", params=list(STRUCTURES))
def unseen(request) -> dict[str, tuple[float, float]]:
    """Each shipped structure's committed fit over five replications the fit never saw (seeds 3001-3005), at the
    targets' scale with every family tracked: each target measure's mean and the standard error of that mean."""
    from flowsim.engine import simulate

    targets = load_targets(TARGETS)
    path, bound = STRUCTURES[request.param]
    scenario = load_scenario(path)
    trial = scenario.with_values(survey_values(scenario, targets.scale))
    runs = [problem_measures(simulate(trial, seed=s)) for s in range(3001, 3006)]
    out = {}
    for t in targets.targets:
        x = np.array([r[t.name] for r in runs], float)
        out[t.name] = (float(np.nanmean(x)), float(np.nanstd(x, ddof=1) / np.sqrt(np.isfinite(x).sum())))
    out["_bound"] = (bound, 0.0)
    return out


def _misses(unseen, names) -> dict:
    """Targets whose unseen mean is further from the target than its stated sd plus 3 standard errors."""
    targets = load_targets(TARGETS)
    misses = {}
    for name in names:
        t = targets[name]
        mean, se = unseen[name]
        if abs(t.z(mean)) * t.sd > t.sd + 3 * se:
            misses[name] = (round(mean, 4), t.value, t.sd, round(se, 4))
    return misses


@pytest.mark.slow
def test_committed_fit_meets_its_targets_on_unseen_seeds(unseen):
    """Every fitted target within its stated sd (+ 3 standard errors of the 5-seed mean); the one moment the
    structure does not meet (calibration/README.md) within a loose bound that catches a regression."""
    targets = load_targets(TARGETS)
    for name in STRUCTURAL_MISSES:
        assert unseen[name][0] <= unseen["_bound"][0] * 20_000, (name, unseen[name])
    names = [t.name for t in targets.targets if t.name not in STRUCTURAL_MISSES]
    assert not _misses(unseen, names)


@pytest.mark.slow
def test_key_worker_cohort_falls_no_further_than_osr14(unseen):
    """Families leaving key-worker intervention before April 2011 (the FIP cohort of OSR14/2011): the share with
    each domain's problems falls from entry to exit no further than OSR14 reported (crime/ASB -50%, education -53%,
    no adult in work -14%, family functioning -47%, health -34%; bounds, as OSR14 had no comparison group), within
    each figure's stated sd + 3 standard errors."""
    assert not _misses(unseen, [n for n in unseen if n.startswith("osr14_")])


def test_every_shipped_structure_has_its_own_fit():
    """A structure's scenario extends its own fitted file, which extends the baseline (fitted to the same targets)."""
    for name, (path, _) in STRUCTURES.items():
        scenario = load_scenario(path)
        own = "calibration/fitted.toml" if name == "baseline" else f"calibration/{name.split('_')[0]}/fitted.toml"
        assert scenario.calibrated_by is not None and scenario.calibrated_by[0].endswith(own), (
            name,
            scenario.calibrated_by,
        )
