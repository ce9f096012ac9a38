"""The history matching's outputs: the ensemble file, every run, and the diagnostics a reviewer asks for.

- ``ensemble.parquet`` (members) and ``ensemble.json`` (what produced it);
- ``ensemble_runs.parquet``: every run of every wave, with its implausibility;
- the section "The ensemble (history matching)" of ``report.md``, with
  ``ensemble_ranges.png`` (what the data pin down), ``ensemble_pairs.png``
  (parameters that trade off) and ``ensemble_fit.png`` (every target over the
  ensemble), and members re-run on seeds the calibration never used.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from flowsim.calibrate.history_matching import Ensemble, _evaluate, fitted_targets, implausibility, survey_values
from flowsim.calibrate.point_fit import ENSEMBLE_SECTION as SECTION
from flowsim.calibrate.point_fit import UNFITTED
from flowsim.charts import calibration as charts
from flowsim.charts.common import save_png
from flowsim.files import atomic_write

#: Seeds of the re-runs on unseen seeds (the calibration used 19,000 onwards and 20,000 onwards).
UNSEEN_SEED = 90_000


def _frame(e: Ensemble, runs: list[dict]):
    import pandas as pd  # import time: pandas loads only to read tables

    names = [p.name for p in e.design.priors]
    rows = []
    for r in runs:
        values = e.design.values(np.clip(r["u"], 0, 1)) if not r.get("point_fit") else e.point["values"]
        row = {
            "wave": r["wave"],
            "index": r["index"],
            "seed": r["seed"],
            "implausibility": r["implausibility"],
            "point_fit": bool(r.get("point_fit", False)),
        }
        row |= {f"unit:{n}": float(u) for n, u in zip(names, r["u"])}
        row |= values
        row |= {f"measure:{k}": float(v) for k, v in r["measures"].items()}
        rows.append(row)
    return pd.DataFrame(rows)


def write_ensemble(e: Ensemble, out_dir: Path) -> Path:
    """``ensemble.parquet`` and ``ensemble.json`` (members), ``ensemble_runs.parquet`` (every run)."""
    members = _frame(e, e.members)
    members.insert(0, "member", np.arange(len(members)))
    members.insert(1, "weight", 1.0 / len(members))
    path = out_dir / "ensemble.parquet"
    tmp = path.with_suffix(".parquet.tmp")
    members.to_parquet(tmp, index=False)
    tmp.replace(path)
    runs = _frame(e, e.runs)
    member_keys = {(r["wave"], r["index"]) for r in e.members if not r.get("point_fit")}
    runs["member"] = [(w, i) in member_keys for w, i in zip(runs["wave"], runs["index"])]
    tmp = out_dir / "ensemble_runs.parquet.tmp"
    runs.to_parquet(tmp, index=False)
    tmp.replace(out_dir / "ensemble_runs.parquet")
    meta = {
        "run_id": e.run_id,
        "method": "history matching",
        "targets": e.targets.path,
        "design": e.design.path,
        "members": len(members),
        "runs": len(e.runs) + e.design.noise_seeds,
        "seconds": round(e.seconds, 1),
        "cutoff": e.design.cutoff,
        "scale": e.design.scale,
        "weights": "equal: history matching leaves a uniform prior over the parameter sets it cannot rule out",
        "parameters": [k for p in e.design.priors for k in p.keys],
        "priors": [
            {"name": p.name, "keys": list(p.keys), "lo": p.lo, "hi": p.hi, "source": p.source} for p in e.design.priors
        ],
        "noise_sd": e.noise_sd,
        "waves": e.waves,
    }
    atomic_write(path.with_suffix(".json"), json.dumps(meta, indent=1) + "\n")
    return path


#: Unseen seeds each checked member is re-run on: their mean stands for the member's expected value.
UNSEEN_SEEDS_PER_MEMBER = 4


def unseen(e: Ensemble, scenario, rows: list[int], executor, seeds: int = UNSEEN_SEEDS_PER_MEMBER) -> list[dict]:
    """Members ``rows`` re-run on ``seeds`` seeds each that the calibration never used.

    History matching claims a member's *expected* output lies within the cutoff of every fitted target (in total
    sds, the simulation's noise included); one run of it strays by its noise. So each member's measures are its mean
    over the seeds, and ``implausibility`` is that mean's largest, against the same total sds.
    """
    sim = scenario.with_values(survey_values(scenario, e.design.scale), origin="history matching check")
    targets = {t.name: t for t in fitted_targets(e.targets)}
    tasks = []
    for k, row in enumerate(rows):
        m = e.members[row]
        values = e.point["values"] if m.get("point_fit") else e.design.values(np.clip(m["u"], 0, 1))
        tasks += [((k, j), sim, values, UNSEEN_SEED + k * seeds + j) for j in range(seeds)]
    runs: dict[int, list[dict]] = {k: [] for k in range(len(rows))}
    for task, measures in executor.run(_evaluate, tasks, size=len(tasks)):
        runs[task[0][0]].append(measures)
    out = []
    for k, row in enumerate(rows):
        mean = {n: float(np.nanmean([r[n] for r in runs[k]])) for n in runs[k][0]}
        each = {n: implausibility(t, mean[n], e.noise_sd[n]) for n, t in targets.items()}
        worst = max(each, key=each.get)
        out.append({"member": row, "seeds": seeds, "measures": mean, "implausibility": each[worst], "worst": worst})
    return out


def write_report(e: Ensemble, out_dir: Path, checks: list[dict], scenario: str = "scenarios/baseline.toml") -> Path:
    """The ensemble's section of ``report.md`` (replacing an earlier one), and its three charts."""
    names = [p.name for p in e.design.priors]
    u = np.array([np.clip(m["u"], 0, 1) for m in e.members])
    point = np.clip(e.point["u"], 0, 1)
    lo, hi = np.quantile(u, 0.025, axis=0), np.quantile(u, 0.975, axis=0)
    width = hi - lo
    save_png(
        charts.ensemble_ranges(names, lo, hi, point, u, scale=e.design.scale), out_dir / "ensemble_ranges.png", dpi=150
    )
    corr = np.corrcoef(u.T) if len(u) > 2 else np.zeros((len(names), len(names)))
    pairs = sorted(
        (
            (abs(corr[i, j]), i, j)
            for i in range(len(names))
            for j in range(i + 1, len(names))
            if np.isfinite(corr[i, j])
        ),
        reverse=True,
    )[:6]
    save_png(
        charts.ensemble_pairs(
            [(names[i], names[j], u[:, i], u[:, j], corr[i, j]) for _, i, j in pairs], e.design, scale=e.design.scale
        ),
        out_dir / "ensemble_pairs.png",
        dpi=150,
    )
    targets = list(e.targets.targets)
    z = {
        t.name: np.array([t.z(m["measures"][t.name]) * t.sd / _total(t, e.noise_sd[t.name]) for m in e.members])
        for t in targets
    }
    save_png(
        charts.ensemble_fit([t.name for t in targets], z, UNFITTED, e.design.cutoff, scale=e.design.scale),
        out_dir / "ensemble_fit.png",
        dpi=150,
    )
    met = [c for c in checks if c["implausibility"] <= e.design.cutoff]
    lines = [
        SECTION,
        "",
        f"`flowsim calibrate {scenario} --method history-matching` (run `{e.run_id}`, "
        f"{e.seconds / 60:.0f} min on this machine's cores for {len(e.runs) + e.design.noise_seeds:,} runs at scale "
        f"{e.design.scale:g}) rules out every parameter set whose simulated targets are more than "
        f"{e.design.cutoff:g} total sds from a fitted target: the target's sd, its model discrepancy and the "
        "simulation's own noise together (`targets.toml`). What is left is the ensemble: "
        f"**{len(e.members)} members** (`ensemble.parquet`, equally weighted, the first of them the point fit above, "
        "until `--method posterior` weights what it leaves: `ensemble_runs.parquet` keeps every run).",
        "",
        f"On seeds the calibration never used ({checks[0]['seeds'] if checks else 0} each, their mean standing for the "
        f"member's expected output), {len(met)} of {len(checks)} members drawn at random still meet every fitted "
        f"target within {e.design.cutoff:g} total sds."
        + "".join(
            f" Member {c['member']} misses {c['worst']} ({c['implausibility']:.2f} total sds)."
            for c in checks
            if c["implausibility"] > e.design.cutoff
        ),
        "",
        "### The waves",
        "",
        "| wave | runs | how they were chosen | candidates screened | not ruled out by the emulators | share of the prior left | runs the simulator does not rule out |",
        "|---|---|---|---|---|---|---|",
    ]
    for w in e.waves:
        runs = [r for r in e.runs if r["wave"] == w["wave"]]
        ok = sum(r["implausibility"] <= e.design.cutoff for r in runs)
        how = w.get("design")
        if how is None and w["not_ruled_out"] >= len(runs):
            how = "drawn uniformly over what every earlier wave's emulators cannot rule out"
        elif how is None:  # too few candidates left: every one, then the least implausible of the rest
            how = (
                f"all {w['not_ruled_out']} candidates the emulators cannot rule out, and the "
                f"{len(runs) - w['not_ruled_out']} least implausible of the rest"
            )
        share = f"{w['share_of_prior']:.2e}" if "share_of_prior" in w else "1"
        lines.append(
            f"| {w['wave']} | {len(runs)} | {how} | {w.get('candidates', '')} | {w.get('not_ruled_out', '')} | {share} | {ok} ({ok / max(len(runs), 1):.0%}) |"
        )
    lines += [
        "",
        "### What the data pin down",
        "",
        "Each parameter's 95% range over the ensemble, as a share of its prior range (searched on a log scale). "
        "A share near 1 means the targets leave the parameter free; near 0, they pin it.",
        "",
        "![ranges](ensemble_ranges.png)",
        "",
        "| parameter | prior | ensemble 95% range | share of the prior | point fit | prior's source |",
        "|---|---|---|---|---|---|",
    ]
    for k, p in enumerate(e.design.priors):
        lines.append(
            f"| `{p.name}` | {p.lo:.3g} – {p.hi:.3g} | {p.value(lo[k]):.3g} – {p.value(hi[k]):.3g} | {width[k]:.2f} | "
            f"{e.point['values'][p.keys[0]]:.3g} | {p.source} |"
        )
    lines += ["", "### Parameters that trade off", "", "The six pairs most correlated over the ensemble.", ""]
    lines += ["![pairs](ensemble_pairs.png)", ""]
    lines += ["### Every target over the ensemble", ""]
    lines += [
        "Each member's simulated target in total sds (sd, discrepancy and noise). The unfitted targets are "
        "predictions: the history matching does not rule anything out by them.",
        "",
        "![fit](ensemble_fit.png)",
        "",
        "| target | value | sd | discrepancy | simulation noise | ensemble mean | ensemble 95% range | discrepancy's source |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for t in targets:
        v = np.array([m["measures"][t.name] for m in e.members], float)
        fmt = (lambda x: f"{x:,.3f}") if abs(t.value) < 10 else (lambda x: f"{x:,.0f}")
        q = np.nanquantile(v, [0.025, 0.975])
        lines.append(
            f"| {t.name}{' (not fitted)' if t.name in UNFITTED else ''} | {fmt(t.value)} | {fmt(t.sd)} | "
            f"{fmt(t.discrepancy)} | {fmt(e.noise_sd[t.name])} | {fmt(np.nanmean(v))} | {fmt(q[0])} – {fmt(q[1])} | "
            f"{t.discrepancy_source} |"
        )
    lines += [
        "",
        "### The structures compared",
        "",
        f"This ensemble is drawn for one structure, `{scenario}`'s. The structural alternatives were compared by "
        'full refits of the point fit (`calibration/README.md`, "Which structure, and why"): no crises, memoryless '
        "spells, frailty, and crisis spells' shape from 0.5 to 16. An ensemble over parameters cannot show what a "
        "structure leaves out, so each shipped structure (`calibration/structures.toml`) has its own ensemble "
        "beside its fit, and `flowsim run --ensemble` answers under each and pooled.",
        "",
    ]
    path = out_dir / "report.md"
    text = path.read_text() if path.exists() else "# Calibration report: model v2\n"
    head = text.split(SECTION)[0].rstrip("\n")
    return atomic_write(path, head + "\n\n" + "\n".join(lines))


def _total(t, noise: float) -> float:
    return math.sqrt(t.sd**2 + t.discrepancy**2 + noise**2)
