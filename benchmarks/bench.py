"""Whole process against whole process: the simpy peer of the same model against `flowsim run`.

Usage:
    python benchmarks/bench.py [--scale 0.1 1.0 10.0] [--repeats 3] [--peer PATH] [--peer-max-scale 1.0]
                               [--all-scale 1.0] [--sweep-scale 0.1] [--replications 20]
                               [--calibration-evals 100] [--ensemble-sets 5] [--no-peer-line]

For each scale it runs the peer (`python peer_v2_simpy.py SCALE 1 scenarios/baseline.toml`) and
`flowsim run scenarios/baseline.toml --quiet --set population.scale=SCALE`
REPEATS times each, alternating, and prints the median wall time of each,
their ratio, flowsim's events per second and each one's peak resident memory
(from os.wait4, per child process). Speed is measured here, never in tests.

Before timing, one tiny flowsim run makes sure numba's compiled kernel is in
its on-disk cache (the first run after installing compiles it, minutes).
Above ``--peer-max-scale`` the peer is not run (it takes minutes per 290k
families). With several scales it also prints how time grows with size: the
ratio of times over the ratio of sizes, 1.00 meaning exactly linear, and,
with three scales or more, the added time per added family between
neighbouring sizes, which is constant when the cost is linear plus a fixed part.
``--all-scale`` also times every family with children tracked one by one
(``population.sample_weight = 1``), 5.8M at scale 1, whose goal is under 30 s and 2 GB.
``--sweep-scale`` also times a 4-point x 25-replication sweep of a setting
that acts from April 2011, with and without sharing its runs' common past.
``--replications R`` times R baseline replications on 2 workers (issue #19's
goal: 200 in 150 s), and ``--calibration-evals N`` N of the history
matching's evaluations at scale 0.05 (goal: 1,000 in 5 min); each prints what
its median comes to for the goal's count; ``--ensemble-sets N`` times an answer over N
parameter sets of the ensemble at full scale (goal: 50 in 3 min). ``--no-peer-line`` skips the
peer comparison, to time only these.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PEER = ROOT.parent / "shared" / "bench" / "peer_v2_simpy.py"
# Passed to the peer too: it finds the baseline beside flowsim's package only in an editable install.
BASELINE = ROOT / "scenarios" / "baseline.toml"


def timed_wait4(cmd: list[str]) -> tuple[float, float, str]:
    """Run ``cmd``; return (wall seconds, peak RSS in MB, stdout), with the child's own rusage."""
    with tempfile.TemporaryFile(mode="w+") as out:
        start = time.perf_counter()
        with tempfile.TemporaryFile(mode="w+") as err:
            proc = subprocess.Popen(cmd, stdout=out, stderr=err)
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - start
            proc.returncode = os.waitstatus_to_exitcode(status)
            if proc.returncode != 0:
                err.seek(0)
                tail = "".join(err.readlines()[-15:])
                raise SystemExit(f"{' '.join(cmd)} failed with exit code {proc.returncode}:\n{tail}")
        out.seek(0)
        return wall, usage.ru_maxrss / 1024, out.read()


def flowsim_cmd(scale: float, out: str, every_family: bool = False) -> list[str]:
    """``flowsim run`` of the baseline at ``scale``; ``every_family``: with every family tracked one by one
    (``population.sample_weight = 1``)."""
    return [
        sys.executable,
        "-m",
        "flowsim",
        "run",
        str(BASELINE),
        "--quiet",
        "--no-report",  # tables, summary and manifest only, as issue #7 measures
        "--set",
        f"population.scale={scale}",
        "--set",
        f"population.sample_weight={1 if every_family else 20}",
        "--out",
        out,
    ]


def bench(scale: float, repeats: int, peer: Path | None) -> dict:
    peer_times, peer_mem, flow_times, flow_mem, events, peer_events = [], [], [], [], 0, None
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeats):
            if peer is not None:
                w, m, out = timed_wait4([sys.executable, str(peer), str(scale), "1", str(BASELINE)])
                peer_times.append(w)
                peer_mem.append(m)
                peer_events = int(re.search(r"events=(\d+)", out).group(1))
            cmd = flowsim_cmd(scale, tmp)
            w, m, _ = timed_wait4(cmd)
            flow_times.append(w)
            flow_mem.append(m)
            events = json.loads((Path(tmp) / "summary.json").read_text())["events"]
    flow_med = statistics.median(flow_times)
    peer_med = statistics.median(peer_times) if peer_times else None
    return {
        "scale": scale,
        "families": round(290_000 * scale),
        "repeats": repeats,
        "peer_median_s": round(peer_med, 3) if peer_med else None,
        "flowsim_median_s": round(flow_med, 3),
        "speedup": round(peer_med / flow_med, 2) if peer_med else None,
        "peer_events": peer_events,
        "flowsim_events": events,
        "flowsim_events_per_s": round(events / flow_med),
        "peer_peak_mb": round(max(peer_mem)) if peer_mem else None,
        "flowsim_peak_mb": round(max(flow_mem)),
    }


def bench_all(scale: float, repeats: int) -> dict:
    """Every family with children tracked one by one: median time, events and peak memory."""
    times, mem = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeats):
            w, m, _ = timed_wait4(flowsim_cmd(scale, tmp, every_family=True))
            times.append(w)
            mem.append(m)
            summary = json.loads((Path(tmp) / "summary.json").read_text())
    med = statistics.median(times)
    return {
        "every_family": True,
        "scale": scale,
        "families": round(5_800_000 * scale),
        "repeats": repeats,
        "flowsim_median_s": round(med, 3),
        "flowsim_events": summary["events"],
        "flowsim_events_per_s": round(summary["events"] / med),
        "flowsim_peak_mb": round(max(mem)),
    }


#: A 4-point x 25-replication sweep of a setting that acts from April 2011 (the new approach's identification rate,
#: which acts only where the roll-out has reached), for timing runs with and without their shared past.
SWEEP = """
name = "bench_share"
base = "{base}"
replications = 25
seed = 11
set = ["population.scale={scale}"]
[parameters."identification.new_approach_rate_per_year"]
values = [1.0, 1.5, 2.0, 3.0]
"""


def bench_sweep(scale: float, repeats: int) -> dict:
    """The 4 x 25 sweep, whole process, with and without sharing the runs' common past, alternating."""
    times: dict[str, list[float]] = {"shared": [], "apart": []}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sweep.toml"
        path.write_text(SWEEP.format(base=ROOT / "scenarios" / "baseline.toml", scale=scale))
        for i in range(repeats):
            for label, extra in (("shared", []), ("apart", ["--no-share"])):
                out = Path(tmp) / f"{label}{i}"
                cmd = [sys.executable, "-m", "flowsim", "sweep", str(path), "--jobs", "2", "--out", str(out)]
                w, _, _ = timed_wait4([*cmd, "--quiet", "--yes", *extra])
                times[label].append(w)
    shared, apart = statistics.median(times["shared"]), statistics.median(times["apart"])
    return {
        "sweep": "4 points x 25 replications",
        "scale": scale,
        "repeats": repeats,
        "shared_median_s": round(shared, 2),
        "apart_median_s": round(apart, 2),
        "ratio": round(shared / apart, 2),
    }


def _against_goal(unit: str, n: int, times: list[float], goal_n: int, goal_s: float) -> dict:
    """``n`` things in ``times`` seconds (one per repeat): the median, each one's share, and the goal's count."""
    med = statistics.median(times)
    each = med / n
    return {
        unit: n,
        "repeats": len(times),
        "median_s": round(med, 2),
        "each_s": round(each, 3),
        "goal_n": goal_n,
        "goal_s": goal_s,
        "for_goal_s": round(goal_n * each, 1),
    }


def _print_against_goal(title: str, r: dict, each: str) -> None:
    print(f"\n{title} (goal: {r['goal_n']:,} in {r['goal_s']:.0f} s):")
    print(
        f"  {r['median_s']:.1f} s, {r['each_s']:.2f} s {each}: {r['for_goal_s']:.0f} s for {r['goal_n']:,} "
        f"({r['for_goal_s'] / r['goal_s']:.1f} x the goal)"
    )
    print(json.dumps(r), file=sys.stderr)


def bench_replications(replications: int, repeats: int) -> dict:
    """``flowsim run scenarios/baseline.toml --replications R --jobs 2``, whole process (issue #19: 200 in 150 s)."""
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeats):
            cmd = [sys.executable, "-m", "flowsim", "run", str(ROOT / "scenarios" / "baseline.toml")]
            cmd += ["--replications", str(replications), "--jobs", "2", "--no-report", "--quiet", "--yes"]
            w, _, _ = timed_wait4([*cmd, "--out", str(Path(tmp) / "run")])
            times.append(w)
    return _against_goal("replications", replications, times, 200, 150.0)


#: Survey-window calibration evaluations as the history matching runs them (``flowsim.calibrate.history_matching``): the
#: committed ensemble's members in turn at scale 0.05, every family tracked, to March 2011, over 2 local workers.
CALIBRATION_EVALS = """
import sys
from flowsim import ensemble as ens
from flowsim.calibrate.history_matching import _evaluate
from flowsim.calibrate.point_fit import survey_values
from flowsim.scenario.loader import load_scenario
from flowsim.sweep.executors import LocalExecutor

n = int(sys.argv[1])
sc = load_scenario("{base}")
e = ens.load("{ensemble}")
sim = sc.with_values(survey_values(sc, 0.05), origin="bench")
tasks = [((0, i), sim, e.member(i % len(e)), 70_000 + i) for i in range(n)]
with LocalExecutor(2) as ex:
    done = sum(1 for _ in ex.run(_evaluate, tasks, size=n))
assert done == n
"""


def bench_calibration(evaluations: int, repeats: int) -> dict:
    """``evaluations`` history-matching evaluations at scale 0.05 on 2 workers, whole process."""
    code = CALIBRATION_EVALS.format(
        base=ROOT / "scenarios" / "baseline.toml", ensemble=ROOT / "calibration" / "ensemble.parquet"
    )
    times = [timed_wait4([sys.executable, "-c", code, str(evaluations)])[0] for _ in range(repeats)]
    return _against_goal("evaluations", evaluations, times, 1000, 300.0)


def bench_ensemble(sets: int, repeats: int, scale: float = 1.0) -> dict:
    """``flowsim run scenarios/baseline.toml --ensemble N --jobs 2`` at ``scale``, whole process, documents off
    (issue 32's goal at full scale: 50 sets in 3 minutes): 2 replications a set and the point fit's beside them."""
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeats):
            cmd = [sys.executable, "-m", "flowsim", "run", str(ROOT / "scenarios" / "baseline.toml")]
            cmd += ["--ensemble", str(sets), "--jobs", "2", "--no-report", "--quiet", "--yes"]
            cmd += ["--set", f"population.scale={scale}"]
            w, _, _ = timed_wait4([*cmd, "--out", str(Path(tmp) / "run")])
            times.append(w)
    return {**_against_goal("parameter sets", sets, times, 50, 180.0), "scale": scale}


def _fmt(x, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, nargs="+", default=[1.0], help="population scales (1.0 = 290k families)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--peer", type=Path, default=DEFAULT_PEER)
    parser.add_argument("--peer-max-scale", type=float, default=1.0, help="do not run the peer above this scale")
    parser.add_argument(
        "--all-scale",
        type=float,
        nargs="*",
        default=[],
        help="also time every family tracked one by one (population.sample_weight = 1) at these scales (1.0 = all "
        "5.8M families; goal: under 30 s and 2 GB)",
    )
    parser.add_argument(
        "--sweep-scale",
        type=float,
        default=None,
        help="also time a 4 x 25 sweep at this scale with and without sharing its runs' past (goal: ratio <= 0.6)",
    )
    parser.add_argument(
        "--replications",
        type=int,
        default=None,
        help="also time this many baseline replications on 2 workers (issue #19's goal: 200 in 150 s)",
    )
    parser.add_argument(
        "--calibration-evals",
        type=int,
        default=None,
        help="also time this many history-matching evaluations at scale 0.05 (goal: 1,000 in 5 min)",
    )
    parser.add_argument(
        "--ensemble-sets",
        type=int,
        default=None,
        help="also time an answer over this many parameter sets of the ensemble at full scale (goal: 50 in 3 min)",
    )
    parser.add_argument("--ensemble-scale", type=float, default=1.0, help="the scale of --ensemble-sets (a check)")
    parser.add_argument("--no-peer-line", action="store_true", help="skip the peer comparison (--scale)")
    args = parser.parse_args()
    if not args.peer.is_file():
        raise SystemExit(f"peer not found at {args.peer}; pass --peer PATH")
    with tempfile.TemporaryDirectory() as tmp:  # warm numba's on-disk cache before timing anything
        subprocess.run(flowsim_cmd(0.001, tmp), check=True, stdout=subprocess.DEVNULL)
    print(
        f"{'families':>10} {'peer s':>8} {'flowsim s':>9} {'speedup':>7} {'flowsim events':>14} "
        f"{'flowsim ev/s':>12} {'peer MB':>8} {'flowsim MB':>10}"
    )
    rows = []
    for scale in [] if args.no_peer_line else args.scale:
        r = bench(scale, args.repeats, args.peer if scale <= args.peer_max_scale else None)
        rows.append(r)
        print(
            f"{r['families']:>10,} {_fmt(r['peer_median_s'], '>8.2f')} {r['flowsim_median_s']:>9.2f} "
            f"{_fmt(r['speedup'], '>7.2f')} {r['flowsim_events']:>14,} {r['flowsim_events_per_s']:>12,} "
            f"{_fmt(r['peer_peak_mb'], '>8')} {r['flowsim_peak_mb']:>10}",
            flush=True,
        )
        print(json.dumps(r), file=sys.stderr)
    if len(rows) > 1:
        print("\nscaling (time ratio / size ratio; 1.00 = linear, within 0.80-1.20 counts as linear):")
        for a, b in zip(rows[:-1], rows[1:]):
            size = b["families"] / a["families"]
            ratio = (b["flowsim_median_s"] / a["flowsim_median_s"]) / size
            verdict = "linear" if 0.8 <= ratio <= 1.2 else ("sublinear" if ratio < 0.8 else "superlinear")
            print(f"  {a['families']:>10,} -> {b['families']:>10,}: x{size:g} families, {ratio:.2f} ({verdict})")
        if len(rows) > 2:
            # A run is a fixed cost plus a cost per family; a ratio below 1 can be the fixed cost's share
            # shrinking. Linear growth proper means the same added cost per added family at every size.
            slopes = [
                (b["flowsim_median_s"] - a["flowsim_median_s"]) / (b["families"] - a["families"]) * 1e6
                for a, b in zip(rows[:-1], rows[1:])
            ]
            print("  added seconds per added million families: " + ", ".join(f"{s:.1f}" for s in slopes), end="")
            print(f" (largest / smallest {max(slopes) / min(slopes):.2f}; within 1.20 counts as linear)")
    if args.replications:
        r = bench_replications(args.replications, args.repeats)
        _print_against_goal(f"{args.replications} baseline replications, --jobs 2", r, "a replication")
    if args.calibration_evals:
        r = bench_calibration(args.calibration_evals, args.repeats)
        _print_against_goal(
            f"{args.calibration_evals} history-matching evaluations at scale 0.05, 2 workers", r, "an evaluation"
        )
    if args.ensemble_sets:
        r = bench_ensemble(args.ensemble_sets, args.repeats, args.ensemble_scale)
        where = "full scale" if args.ensemble_scale == 1.0 else f"scale {args.ensemble_scale:g}, not the goal's"
        _print_against_goal(f"--ensemble {args.ensemble_sets} at {where}, --jobs 2", r, "a parameter set")
    if args.sweep_scale is not None:
        r = bench_sweep(args.sweep_scale, args.repeats)
        print(f"\nsweep, {r['sweep']} at scale {r['scale']:g} (goal: shared <= 0.6 x apart):")
        print(f"  shared {r['shared_median_s']:.1f} s, apart {r['apart_median_s']:.1f} s: ratio {r['ratio']:.2f}")
        print(json.dumps(r), file=sys.stderr)
    if args.all_scale:
        print("\nevery family tracked one by one (sample_weight 1; goal at 5.8M: under 30 s, under 2,000 MB):")
        print(f"{'families':>10} {'flowsim s':>9} {'flowsim events':>14} {'flowsim ev/s':>12} {'flowsim MB':>10}")
        for scale in args.all_scale:
            r = bench_all(scale, args.repeats)
            print(
                f"{r['families']:>10,} {r['flowsim_median_s']:>9.2f} {r['flowsim_events']:>14,} "
                f"{r['flowsim_events_per_s']:>12,} {r['flowsim_peak_mb']:>10}",
                flush=True,
            )
            print(json.dumps(r), file=sys.stderr)


if __name__ == "__main__":
    main()
