"""Whole process against whole process: the naive simpy peer against `flowsim run`.

Usage:
    python benchmarks/bench.py [--scale 1.0] [--repeats 3] [--peer PATH]

For each scale it runs the peer (`python peer_naive_simpy.py SCALE`) and
`flowsim run scenarios/baseline.toml --quiet --set population.scale=SCALE`
REPEATS times each, alternating, and prints the median wall time of each,
their ratio, flowsim's events per second and each one's peak resident memory
(from os.wait4, per child process). Speed is measured here, never in tests.
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
DEFAULT_PEER = ROOT.parent / "shared" / "bench" / "peer_naive_simpy.py"


def timed_wait4(cmd: list[str]) -> tuple[float, float, str]:
    """Run ``cmd``; return (wall seconds, peak RSS in MB, stdout), with the child's own rusage."""
    with tempfile.TemporaryFile(mode="w+") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed with exit code {proc.returncode}")
        out.seek(0)
        return wall, usage.ru_maxrss / 1024, out.read()


def bench(scale: float, repeats: int, peer: Path) -> dict:
    peer_times, peer_mem, flow_times, flow_mem, events = [], [], [], [], 0
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeats):
            w, m, out = timed_wait4([sys.executable, str(peer), str(scale), "1"])
            peer_times.append(w)
            peer_mem.append(m)
            peer_events = int(re.search(r"events=(\d+)", out).group(1))
            cmd = [
                sys.executable,
                "-m",
                "flowsim",
                "run",
                str(ROOT / "scenarios" / "baseline.toml"),
                "--quiet",
                "--no-report",  # tables, summary and manifest only, as issue #7 measures
                "--set",
                f"population.scale={scale}",
                "--out",
                tmp,
            ]
            w, m, _ = timed_wait4(cmd)
            flow_times.append(w)
            flow_mem.append(m)
            events = json.loads((Path(tmp) / "summary.json").read_text())["events"]
    peer_med, flow_med = statistics.median(peer_times), statistics.median(flow_times)
    return {
        "scale": scale,
        "families": round(290_000 * scale),
        "peer_median_s": round(peer_med, 3),
        "flowsim_median_s": round(flow_med, 3),
        "speedup": round(peer_med / flow_med, 2),
        "peer_events": peer_events,
        "flowsim_events": events,
        "flowsim_events_per_s": round(events / flow_med),
        "peer_peak_mb": round(max(peer_mem)),
        "flowsim_peak_mb": round(max(flow_mem)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, nargs="+", default=[1.0], help="population scales (1.0 = 290k families)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--peer", type=Path, default=DEFAULT_PEER)
    args = parser.parse_args()
    if not args.peer.is_file():
        raise SystemExit(f"peer not found at {args.peer}; pass --peer PATH")
    print(
        f"{'families':>9} {'peer s':>8} {'flowsim s':>9} {'speedup':>7} {'flowsim ev/s':>12} {'peer MB':>8} {'flowsim MB':>10}"
    )
    for scale in args.scale:
        r = bench(scale, args.repeats, args.peer)
        print(
            f"{r['families']:>9,} {r['peer_median_s']:>8.2f} {r['flowsim_median_s']:>9.2f} {r['speedup']:>7.2f} "
            f"{r['flowsim_events_per_s']:>12,} {r['peer_peak_mb']:>8} {r['flowsim_peak_mb']:>10}"
        )
        print(json.dumps(r), file=sys.stderr)


if __name__ == "__main__":
    main()
