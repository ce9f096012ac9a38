"""Replications: independent streams, honest intervals, and sharp paired comparisons."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from click.testing import CliRunner

from flowsim.cli import main
from flowsim.replications import run_replications
from flowsim.scenario import load_scenario
from flowsim.statistics import mean_interval, wilson
from flowsim.summary import paired_differences

from .conftest import BASELINE, SCENARIOS

SETS = ["population.scale=0.02", "time.end=2013-03-31", "time.deadline=2013-03-31"]


def test_wilson_interval_at_the_edges():
    assert wilson(0, 10)["lo"] == 0.0 and 0.2 < wilson(0, 10)["hi"] < 0.35
    assert wilson(10, 10)["hi"] == 1.0
    w = wilson(5, 10)
    assert w["lo"] < 0.5 < w["hi"]


def test_mean_interval_covers_at_the_stated_rate():
    """95% t-intervals of normal samples of 8 cover the mean ~95% of the time (2,000 trials, seed 0).

    The binomial SE of the coverage over 2,000 trials is 0.005, so 0.93-0.97 is 4 SE either side.
    """
    rng = np.random.default_rng(0)
    hits = sum(m["lo"] <= 3.0 <= m["hi"] for m in (mean_interval(rng.normal(3.0, 2.0, 8)) for _ in range(2000)))
    assert 0.93 <= hits / 2000 <= 0.97


@pytest.fixture(scope="module")
def paired_runs():
    a = run_replications(load_scenario(BASELINE, SETS), 7, 8, 2)
    b = run_replications(load_scenario(SCENARIOS / "key_worker_plus20.toml", SETS), 7, 8, 2)
    return a, b


def test_replications_are_independent_and_reproducible(paired_runs):
    a, _ = paired_runs
    counts = [r.summary["target"]["count"]["turned_around"] for r in a]
    assert len(set(counts)) > 1  # different streams per replication
    again = run_replications(load_scenario(BASELINE, SETS), 7, 2, 1)
    assert [r.summary["target"]["count"]["turned_around"] for r in again] == counts[:2]


def test_paired_intervals_are_much_narrower_than_unpaired(paired_runs):
    """Common random numbers: 8 replications each at 2% scale (seed 7).

    Measured at 3% scale: paired/unpaired half-widths 0.37 (count) and 0.17
    (stock at the deadline); 0.6 leaves room for the sampling noise of 8 pairs.
    """
    diffs = paired_differences(*paired_runs)
    for key in ("target.count.turned_around", "target.prevalence.stock_end"):
        d = diffs[key]
        paired = d["paired"]["hi"] - d["paired"]["lo"]
        unpaired = d["unpaired"]["hi"] - d["unpaired"]["lo"]
        assert paired < 0.6 * unpaired, (key, paired, unpaired)
    # The survey window has no policy difference: paired differences there are exactly 0.
    assert diffs["moments.at_risk"]["paired"]["hi"] == diffs["moments.at_risk"]["paired"]["lo"] == 0.0
    assert diffs["target.count.turned_around"]["paired"]["lo"] > 0  # more key workers, more turned around


@pytest.mark.slow
def test_run_with_replications_writes_intervals(tmp_path):
    sets = [arg for s in ["population.scale=0.005", *SETS[1:]] for arg in ("--set", s)]
    result = CliRunner().invoke(
        main, ["run", str(BASELINE), "--replications", "3", "--jobs", "2", "--out", str(tmp_path), "--seed", "4", *sets]
    )
    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0]
    assert re.search(
        r": (not met in any of 3|met in all 3|met in [12] of 3 \(probability [0-9.]+, 95% interval) replications", first
    )
    assert "on average (95% interval" in first
    summary = json.loads((tmp_path / "summary.json").read_text())
    ta = summary["target"]["count"]["turned_around"]
    assert ta["lo"] <= ta["mean"] <= ta["hi"]
    for name in ("count", "coverage", "prevalence"):
        p = summary["target"][name]["probability_met"]
        assert 0 <= p["lo"] <= p["mean"] <= p["hi"] <= 1
    assert set(summary["moments"]["at_risk"]) == {"mean", "lo", "hi"}
    assert json.loads((tmp_path / "manifest.json").read_text())["replications"] == 3


def test_compare_command(tmp_path):
    sets = [arg for s in ["population.scale=0.005", *SETS[1:]] for arg in ("--set", s)]
    result = CliRunner().invoke(
        main,
        [
            "compare",
            str(BASELINE),
            str(SCENARIOS / "key_worker_plus20.toml"),
            "--replications",
            "3",
            "--jobs",
            "2",
            "--out",
            str(tmp_path),
            *sets,
        ],
    )
    assert result.exit_code == 0, result.output
    # The headline leads with what B's policy causes, then the extra cost; the count as the target counts it follows.
    first, second = result.stdout.splitlines()[:2]
    assert first.startswith("key_worker_plus20 vs baseline: ")
    assert "families turned around because of the programmes" in first.split(",")[0] and "extra cost" in first
    assert second.startswith("  as the target counts them: ") and "would have left the stock anyway" in second
    assert result.stderr.startswith("flowsim: 6 runs (3 replications x 2 scenarios), about")
    doc = json.loads((tmp_path / "compare.json").read_text())
    assert (tmp_path / "compare.png").stat().st_size > 10_000 and (tmp_path / "compare.svg").exists()
    assert doc["replications"] == 3 and "target.count.turned_around" in doc["differences"]
    # The chart draws the paired difference: its title states it, and the footnote names both scenarios' hashes.
    svg = (tmp_path / "compare.svg").read_text()
    diff = doc["differences"]["additional.turned_around"]["paired"]["mean"]
    title = re.search(r'<g id="title">(.*?)</g>', svg, re.S).group(1)
    assert f"{abs(diff):,.0f} {'more' if diff >= 0 else 'fewer'} families than baseline because of its" in title
    assert doc["a"]["scenario_sha256"][:12] in svg and doc["b"]["scenario_sha256"][:12] in svg


@pytest.mark.slow
def test_a_warm_worker_gives_what_a_cold_process_gives():
    """One worker runs replications 0, 1 and 2 of the 2012 programme in turn (warm: imports, compiled kernels and
    whatever a run might leave behind); replication 2 run alone in a fresh interpreter gives the same summary and
    tables, float for float (digests of their exact reprs, tests/digest.py)."""
    import subprocess
    import sys

    from .conftest import ROOT
    from .digest import _sha

    sets = ["population.scale=0.01", "time.end=2012-09-30", "time.deadline=2012-09-30"]
    scenario = SCENARIOS / "tf_programme_2012.toml"
    warm = run_replications(load_scenario(scenario, sets), 3, 3, jobs=1)[2]
    code = (
        "from flowsim.replications import run_replication\n"
        "from flowsim.scenario import load_scenario\n"
        "from tests.digest import _sha\n"
        # keep_waits=False, as a worker runs every replication but the first
        f"r = run_replication(load_scenario({str(scenario)!r}, {sets!r}), 3, 2, False)\n"
        "print(_sha(r.summary), _sha(r.tables))\n"
    )
    cold = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert cold.stdout.split() == [_sha(warm.summary), _sha(warm.tables)]


def test_a_lean_replication_answers_the_target_as_the_full_one_does():
    """solve's replications skip the counterfactual and the tables: the run itself, and so every target, is bit for
    bit the full replication's (the 2012 programme, 1% of England to September 2012, seed 4, replications 0-1)."""
    sets = ["population.scale=0.01", "time.end=2012-09-30", "time.deadline=2012-09-30"]
    scenario = load_scenario(SCENARIOS / "tf_programme_2012.toml", sets)
    full = run_replications(scenario, 4, 2, jobs=1)
    lean = run_replications(scenario, 4, 2, jobs=1, lean=True)
    for f, g in zip(full, lean, strict=True):
        assert g.summary["target"] == f.summary["target"]
        assert g.summary["moments"] == f.summary["moments"]
        assert "additional" in f.summary and "additional" not in g.summary
        assert g.tables == {}
