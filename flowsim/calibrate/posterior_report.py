"""The posterior's outputs: the weighted ensemble, every run, and its section of ``report.md``.

- ``ensemble.parquet`` (members with their weights, and the point fit with weight 0) and ``ensemble.json``
  (what produced it; history matching's own document kept under ``history_matching``);
- ``posterior_runs.parquet``: every run the posterior made, with its sum of squared z and log weight;
- the section "The posterior" of ``report.md``: each parameter's prior and posterior, the effective sample
  size, the joint criterion and each target over the posterior.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from flowsim.calibrate.posterior import Posterior, is_effect
from flowsim.files import atomic_write
from flowsim.scenario.registry import parameter_label

SECTION = "## The posterior (sourced priors, a joint likelihood)"


def weighted_quantiles(x: np.ndarray, w: np.ndarray, qs) -> np.ndarray:
    """Quantiles of ``x`` under normalised weights ``w`` (the weighted empirical distribution, interpolated)."""
    order = np.argsort(x)
    x, w = x[order], w[order]
    cum = np.cumsum(w) - 0.5 * w
    return np.interp(qs, cum / w.sum(), x)


def _frame(post: Posterior, runs: list[dict], point: dict | None):
    import pandas as pd  # import time: pandas loads only to read tables

    rows = []
    for r in runs:
        row = {
            "batch": r["wave"],
            "index": r["index"],
            "seed": r["seed"],
            "z2": r["z2"],
            "log_weight": r["log_weight"],
            "passes": r["passes"],
            "weight": r.get("weight", 0.0),
            "point_fit": False,
        }
        row |= r["values"]
        row |= {f"measure:{k}": float(v) for k, v in r["measures"].items()}
        rows.append(row)
    if point is not None:
        rows.insert(0, {"batch": 0, "index": 0, "seed": -1, "weight": 0.0, "point_fit": True, "passes": False} | point)
    return pd.DataFrame(rows)


def write_posterior(post: Posterior, out_dir: Path, point: dict[str, float]) -> Path:
    """``ensemble.parquet`` and ``ensemble.json`` (the weighted members), ``posterior_runs.parquet`` (every run)."""
    members = _frame(post, post.members, point)
    members.insert(0, "member", np.arange(len(members)))
    path = out_dir / "ensemble.parquet"
    tmp = path.with_suffix(".parquet.tmp")
    members.to_parquet(tmp, index=False)
    tmp.replace(path)
    runs = _frame(post, post.runs, None)
    tmp = out_dir / "posterior_runs.parquet.tmp"
    runs.to_parquet(tmp, index=False)
    tmp.replace(out_dir / "posterior_runs.parquet")
    d = post.design
    meta = {
        "run_id": post.run_id,
        "method": "posterior: history matching's emulators as the proposal, importance weights by sourced priors and "
        "a joint likelihood",
        "targets": post.targets.path,
        "design": d.path,
        "members": len(post.members),
        "runs": len(post.runs),
        "seconds": round(post.seconds, 1),
        "effective_sample_size": round(post.ess, 1),
        "criterion": f"sum of squared z in total sds <= chi-squared({len(post.likelihood.names)}) at 0.995 = "
        f"{post.likelihood.chi2_limit():.1f}",
        "bounds": list(post.likelihood.bounds),
        "scale": d.scale,
        "weights": "importance weights: simulated likelihood over the emulated likelihood the runs were drawn by "
        "(the prior cancels); members pass the joint criterion; the point fit is kept with weight 0",
        "parameters": [k for p in d.priors for k in p.keys],
        "priors": [
            {"name": p.name, "keys": list(p.keys), "lo": p.lo, "hi": p.hi, "kind": p.kind, "median": p.median,
             "upper": p.upper, "source": p.source}
            for p in d.priors
        ],
        "noise_sd": post.history.noise_sd,
        "batches": post.batches,
        "history_matching": post.history.meta,
    }  # fmt: skip
    atomic_write(path.with_suffix(".json"), json.dumps(meta, indent=1) + "\n")
    return path


def _prior_quantiles(p, qs) -> list[float]:
    """The prior's quantiles (log-normal truncated to the range, or log-uniform over it)."""
    from scipy.stats import truncnorm  # import time: scipy loads only where a statistic needs it

    if p.median is None:
        return [p.value(q) for q in qs]
    mean, sd = p.unit_normal()
    u = truncnorm.ppf(qs, (0 - mean) / sd, (1 - mean) / sd, loc=mean, scale=sd)
    return [p.value(float(x)) for x in u]


def write_report(post: Posterior, out_dir: Path, scenario: str = "scenarios/baseline.toml") -> Path:
    """The posterior's section of ``report.md`` (replacing an earlier one)."""
    d, lik = post.design, post.likelihood
    w = np.array([m["weight"] for m in post.members])
    lines = [
        SECTION,
        "",
        f"`flowsim calibrate {scenario} --method posterior` (run `{post.run_id}`, "
        f"{post.seconds / 60:.0f} min on this machine's cores for {len(post.runs):,} runs at scale {d.scale:g}) "
        "weights parameter sets by sourced priors (`ensemble.toml`) and one joint likelihood over the fitted "
        "targets, each normal with its total sd (sd, model discrepancy and the simulation's noise). OSR14's "
        "before/after changes had no comparison group, so they are upper bounds on the simulated fall "
        f"({', '.join(lik.bounds)}), not values to meet. Runs are drawn by Metropolis chains on history matching's "
        f"emulators (history matching run `{post.history.run_id}`), and weighted by their simulated likelihood over "
        "the emulated one; programme effects, which move no survey target, are drawn from their priors.",
        "",
        f"**Effective sample size {post.ess:.0f}** (Kish) over **{len(post.members)} members**, each passing the "
        f"joint criterion: the sum of squared z over the {len(lik.names)} fitted targets within chi-squared"
        f"({len(lik.names)}) at 0.995, {lik.chi2_limit():.1f}. "
        f"{len(post.runs) - len(post.members)} of {len(post.runs)} runs fail it and are dropped.",
        "",
        "Each batch's chains are checked for mixing by the largest rank-normalised split R-hat over the parameters "
        "(bulk or tail; Vehtari et al. 2021), over the second half of every chain: near 1 when they have forgotten "
        "where they started, above 1.01 when not. The importance weights correct the draws to the simulated "
        "likelihood, but not draws from chains that have not mixed.",
        "",
        "| batch | runs | Metropolis acceptance | largest R-hat (parameter) | runs passing | effective sample size so far |",
        "|---|---|---|---|---|---|",
    ]
    for b in post.batches:
        rhat = f"{b['rhat']:.3f} ({parameter_label(b['rhat_key'])})" if "rhat" in b else "not recorded"
        lines.append(
            f"| {b['batch']} | {b['runs']} | {b['acceptance']:.2f} | {rhat} | {b['passing']} | {b['ess']:.0f} |"
        )
    lines += [
        "",
        "### Every parameter's prior and posterior",
        "",
        "Medians and 95% intervals. A posterior much narrower than its prior is what the targets pin; one like its "
        "prior, what they leave to the evidence behind the prior.",
        "",
        "| parameter | prior | prior median (95%) | posterior median (95%) | prior's source |",
        "|---|---|---|---|---|",
    ]
    for p in d.priors:
        x = np.array([m["values"][p.keys[0]] for m in post.members])
        pq = _prior_quantiles(p, [0.5, 0.025, 0.975])
        q = weighted_quantiles(x, w, [0.5, 0.025, 0.975])
        kind = f"{p.kind}{' (effect)' if is_effect(p) else ''}, range {p.lo:.3g}–{p.hi:.3g}"
        lines.append(
            f"| `{p.name}` | {kind} | {pq[0]:.3g} ({pq[1]:.3g}–{pq[2]:.3g}) | {q[0]:.3g} ({q[1]:.3g}–{q[2]:.3g}) | "
            f"{p.source} |"
        )
    lines += [
        "",
        "### Every target over the posterior",
        "",
        "| target | value | total sd | reading | posterior mean | posterior 95% | mean z |",
        "|---|---|---|---|---|---|---|",
    ]
    for k, name in enumerate(lik.names):
        v = np.array([m["measures"][name] for m in post.members], float)
        z = np.array([lik.z(m["measures"])[k] for m in post.members])
        q = weighted_quantiles(v, w, [0.025, 0.975])
        fmt = (lambda x: f"{x:,.3f}") if abs(lik.values[k]) < 10 else (lambda x: f"{x:,.0f}")
        reading = "upper bound on the fall" if name in lik.bounds else "normal"
        lines.append(
            f"| {name} | {fmt(lik.values[k])} | {fmt(lik.sds[k])} | {reading} | {fmt(float(w @ v))} | "
            f"{fmt(q[0])} – {fmt(q[1])} | {float(w @ z):+.2f} |"
        )
    lines += [""]
    path = out_dir / "report.md"
    text = path.read_text() if path.exists() else "# Calibration report: model v2\n"
    head, _, rest = text.partition(SECTION)
    tail = ""
    if rest:  # keep any section after this one
        nxt = rest.find("\n## ")
        tail = rest[nxt:] if nxt >= 0 else ""
    return atomic_write(path, head.rstrip("\n") + "\n\n" + "\n".join(lines) + tail)


def describe(post: Posterior, path: Path, doc: Path) -> list[str]:
    """The posterior's answer, as the command line prints it."""
    return [
        f"Posterior run {post.run_id}: effective sample size {post.ess:.0f} over {len(post.members)} members "
        f"(each within chi-squared({len(post.likelihood.names)}) at 0.995), from {len(post.runs):,} runs in "
        f"{post.seconds / 60:.1f} min; the ensemble: {path}",
        f"  report: {doc}" + (f" (short of the {post.design.posterior['min_ess']:g} asked for)"
                              if post.ess < float(post.design.posterior["min_ess"]) else ""),
    ]  # fmt: skip
