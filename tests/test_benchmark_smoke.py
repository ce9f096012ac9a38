"""The benchmark script still runs end to end (tiny scale, one repeat). It checks nothing about speed."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .conftest import ROOT

PEER = ROOT.parent / "shared" / "bench" / "peer_v2_simpy.py"  # bench.py's default peer


@pytest.mark.slow
@pytest.mark.skipif(not PEER.is_file(), reason=f"the peer is not at {PEER}")
def test_benchmark_runs_at_tiny_scale():
    out = subprocess.run(
        [
            *(sys.executable, str(ROOT / "benchmarks" / "bench.py")),
            *("--scale", "0.002", "--repeats", "1", "--all-scale", "0.0001", "--calibration-evals", "2"),
            *("--ensemble-sets", "2", "--ensemble-scale", "0.002"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    rows = [json.loads(line) for line in out.stderr.strip().splitlines()]
    row, everyone = rows[0], rows[-1]
    calibration = next(r for r in rows if "evaluations" in r)
    ensemble = next(r for r in rows if "parameter sets" in r)
    assert ensemble["parameter sets"] == 2 and ensemble["median_s"] > 0 and ensemble["scale"] == 0.002
    assert calibration["evaluations"] == 2 and calibration["median_s"] > 0
    assert everyone["every_family"] and everyone["families"] == 580 and everyone["flowsim_events"] > 0
    assert row["flowsim_events"] > 0 and row["peer_events"] > 0
    assert row["flowsim_median_s"] > 0 and row["speedup"] > 0
    assert "speedup" in out.stdout
