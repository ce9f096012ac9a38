"""The posterior: history matching's parameter sets weighted by sourced priors and a joint likelihood.

History matching (:mod:`flowsim.calibrate.history_matching`) rules space out, one target at a time; what
it leaves is a box of equally plausible sets, not a probability. This stage turns it into one, by
importance sampling with the history matching's emulators as the proposal (history matching as the step
before a full probabilistic calibration, as Vernon, Goldstein and Bower 2010 present it):

- **Priors** come from evidence (``calibration/ensemble.toml``: ``median`` and ``upper``, the 97.5th
  percentile, of a log-normal, truncated to the searched range ``lo`` .. ``hi``; a parameter without them
  keeps a log-uniform prior over the range). Programme effects are centred near no effect.
- **Likelihood.** Each fitted target is normal with its total sd (its sd, its model discrepancy and the
  simulation's noise at the point fit): ``log L = -1/2 sum z^2``. A target with ``bound = "lower"`` in
  ``targets.toml`` counts only a shortfall: OSR14's before/after changes had no comparison group, so a key
  worker's families fell no further than they did, and only a larger simulated fall counts.
- **Proposal.** Emulators of the two-sided targets, fitted to history matching's last wave, give an
  emulated posterior over the population's parameters (prior x emulated likelihood); Metropolis chains on
  it, started at history matching's members, give one draw each. The programme effects, which move no
  survey target, are drawn from their priors directly. A run's weight is then its simulated likelihood
  over its emulated one (the prior cancels): ``w = L_sim / L_em``, where ``L_sim`` takes the target's sd and
  discrepancy alone (one run's own noise, averaged over, adds the noise's variance once).
- **Joint criterion.** A member is kept only if its ``sum z^2`` in total sds is within chi-squared(n) at
  0.995: a cut on one run, so the posterior is truncated where a run's noise takes it past the cut.
- **Effective sample size** ``(sum w)^2 / sum w^2``: batches of runs are added until it reaches
  ``[posterior] min_ess`` (or ``max_batches`` have run).

Resumable as history matching is: every run is appended to ``runs/posterior_<id>/runs.jsonl``.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flowsim.calibrate.design import Design
from flowsim.calibrate.history_matching import (
    MAX_TRAINING,
    Emulators,
    RunLog,
    fitted_targets,
    total_sd,
)
from flowsim.calibrate.targets import Targets, TargetsError
from flowsim.engine.cache import model_digest

#: Seeds of the posterior's runs start here (history matching's at 20,000; its unseen checks at 90,000).
POSTERIOR_SEED = 50_000


def is_effect(prior) -> bool:
    """A programme's effect: it moves no survey target, so its posterior is its prior bounded by OSR14."""
    return all(k.startswith("programmes.") for k in prior.keys)


# -- the likelihood -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Likelihood:
    """Each fitted target's value, total sd and reading (two-sided, or an upper bound on a fall)."""

    names: tuple[str, ...]
    values: np.ndarray
    sds: np.ndarray
    bounds: tuple[str, ...]  # targets read as bounds (a simulated value above them counts nothing)
    obs_sds: np.ndarray  # the sd and discrepancy alone, without the simulation's noise

    @classmethod
    def of(cls, targets: Targets, noise_sd: dict[str, float]) -> Likelihood:
        """The fitted targets' likelihood; a target with ``bound = "lower"`` is a bound (OSR14's changes)."""
        fitted = fitted_targets(targets)
        return cls(
            tuple(t.name for t in fitted),
            np.array([t.value for t in fitted]),
            np.array([total_sd(t, noise_sd[t.name]) for t in fitted]),
            tuple(t.name for t in fitted if t.bound == "lower"),
            np.array([total_sd(t, 0.0) for t in fitted]),
        )

    def z(self, measures: dict[str, float], noise: bool = True) -> np.ndarray:
        """Each target's z in total sds (0 inside a bound; a missing measure is infinitely far); ``noise=False``:
        in sds of the target and its discrepancy alone (for one run's likelihood, whose noise is its own)."""
        sim = np.array([measures.get(n, math.nan) for n in self.names], float)
        z = (sim - self.values) / (self.sds if noise else self.obs_sds)
        for k, n in enumerate(self.names):
            if n in self.bounds:  # above a lower bound: OSR14's change, a fall no larger than its
                z[k] = min(z[k], 0.0)
        return np.where(np.isfinite(z), z, math.inf)

    @property
    def two_sided(self) -> list[int]:
        return [k for k, n in enumerate(self.names) if n not in self.bounds]

    def chi2_limit(self, level: float = 0.995) -> float:
        from scipy.stats import chi2  # import time: scipy loads only where a statistic needs it

        return float(chi2.ppf(level, len(self.names)))


# -- priors in the unit cube ------------------------------------------------------------------------------------


def log_prior_unit(design: Design, u: np.ndarray, dims: list[int]) -> np.ndarray:
    """The log prior density (up to a constant) of points ``u`` over dimensions ``dims`` of the unit cube."""
    out = np.zeros(len(u))
    for k in dims:
        p = design.priors[k]
        if p.median is None:
            continue  # log-uniform over the range: flat in the cube
        mean, sd = p.unit_normal()
        out += -0.5 * ((u[:, k] - mean) / sd) ** 2
    return out


def draw_prior_unit(design: Design, rng: np.random.Generator, n: int, dims: list[int]) -> np.ndarray:
    """``n`` points from the priors of dimensions ``dims`` (each truncated to [0, 1])."""
    from scipy.stats import truncnorm  # import time: scipy loads only where a statistic needs it

    out = np.zeros((n, len(dims)))
    for j, k in enumerate(dims):
        p = design.priors[k]
        if p.median is None:
            out[:, j] = rng.random(n)
            continue
        mean, sd = p.unit_normal()
        out[:, j] = truncnorm.rvs((0 - mean) / sd, (1 - mean) / sd, loc=mean, scale=sd, size=n, random_state=rng)
    return out


# -- the proposal ---------------------------------------------------------------------------------------------


def emulated_log_likelihood(em: Emulators, lik: Likelihood, u: np.ndarray, chunk: int = 10_000) -> np.ndarray:
    """``-1/2 sum z^2`` over the two-sided targets, each z against the emulator's sd and the target's total sd."""
    out = np.zeros(len(u))
    index = {n: k for k, n in enumerate(lik.names)}
    for start in range(0, len(u), chunk):
        part = u[start : start + chunk]
        acc = np.zeros(len(part))
        for name, mean, sd in em.predict(part):
            k = index[name]
            acc += (mean - lik.values[k]) ** 2 / (sd**2 + lik.sds[k] ** 2)
        out[start : start + chunk] = -0.5 * acc
    return out


def _log_target(em: Emulators, lik: Likelihood, design: Design, pop: list[int], d: int) -> Callable:
    """The emulated posterior over the population's parameters (up to a constant): prior x emulated likelihood."""

    def log_g(x: np.ndarray) -> np.ndarray:
        full = np.zeros((len(x), d))
        full[:, pop] = x
        return log_prior_unit(design, full, pop) + emulated_log_likelihood(em, lik, x)

    return log_g


#: Steps between reshaping the Metropolis step to the chains' spread, while it adapts. On the shipped emulated
#: posterior (200 chains, 6,000 steps) the largest R-hat was 1.38 with the members' spread throughout and 1.04
#: reshaped: the household problems' links range over three orders of magnitude, which the members' spread hides.
RESHAPE_EVERY = 50


def _metropolis(
    rng: np.random.Generator, log_g: Callable, centres: np.ndarray, chains: int, evaluations: int
) -> tuple[np.ndarray, float, np.ndarray]:
    """One draw from each of ``chains`` random-walk Metropolis chains on ``log_g`` over the unit cube, started at
    history matching's members, run for ``evaluations`` evaluations in all. In the first half the step adapts: its
    size towards a quarter accepted (Gelman, Roberts and Gilks 1996), its shape to the chains' own spread every
    :data:`RESHAPE_EVERY` steps (the population's covariance, as adaptive Metropolis, Haario et al. 2001, takes
    one chain's history); in the second half it is fixed. Returns the draws, the second half's acceptance rate and
    each dimension's R-hat over the second half (:func:`split_rhat`)."""
    d = centres.shape[1]
    x = centres[rng.integers(len(centres), size=chains)]
    lp = log_g(x)
    chol = np.linalg.cholesky(np.cov(centres.T) + 1e-8 * np.eye(d))
    scale = 2.38 / math.sqrt(d)
    steps = max(2, evaluations // chains)
    accepted = 0
    kept = np.empty((chains, steps - steps // 2, d))
    for k in range(steps):
        if 0 < k < steps // 2 and k % RESHAPE_EVERY == 0:
            chol = np.linalg.cholesky(np.cov(x.T) + 1e-8 * np.eye(d))
        y = x + scale * rng.standard_normal((chains, d)) @ chol.T
        inside = np.all((y >= 0) & (y <= 1), axis=1)
        lq = np.full(chains, -np.inf)
        if inside.any():
            lq[inside] = log_g(y[inside])
        take = np.log(rng.random(chains)) < lq - lp
        x[take], lp[take] = y[take], lq[take]
        if k < steps // 2:  # adapt the step towards a quarter accepted
            scale *= math.exp(take.mean() - 0.25)
        else:
            accepted += int(take.sum())
            kept[:, k - steps // 2] = x
    return x, accepted / (chains * (steps - steps // 2)), split_rhat(kept)


def split_rhat(draws: np.ndarray) -> np.ndarray:
    """Each dimension's rank-normalised split R-hat of ``draws`` (chains x steps x dimensions), the larger of its
    bulk and folded (tail) forms (Vehtari, Gelman, Simpson, Carpenter and Buerkner 2021): about 1 when the chains
    mix, above 1.01 when they have not yet forgotten where they started. A dimension that never moves is 1."""
    from scipy.stats import norm, rankdata  # import time: scipy loads only when chains run

    c, n, d = draws.shape
    half = n // 2
    split = np.concatenate([draws[:, :half], draws[:, n - half :]], axis=0)  # 2c chains of half the steps

    def rhat(z: np.ndarray) -> float:
        if half < 2 or np.ptp(z) == 0:
            return 1.0
        r = rankdata(z, axis=None).reshape(z.shape)
        z = norm.ppf((r - 0.375) / (r.size + 0.25))
        means, variances = z.mean(axis=1), z.var(axis=1, ddof=1)
        w, b = variances.mean(), half * means.var(ddof=1)
        return float(math.sqrt(((half - 1) / half * w + b / half) / w))

    out = np.empty(d)
    for j in range(d):
        z = split[:, :, j]
        out[j] = max(rhat(z), rhat(np.abs(z - np.median(z))))
    return out


@dataclass(frozen=True)
class History:
    """What history matching left (``ensemble_runs.parquet`` and its ``ensemble.json``): every run's parameter
    values and measures, which of them were members, and the simulation's noise at the point fit."""

    run_id: str
    keys: tuple[str, ...]
    values: np.ndarray  # runs x keys
    measures: list[dict[str, float]]
    wave: np.ndarray
    member: np.ndarray
    noise_sd: dict[str, float]
    meta: dict

    def check(self, design: Design, names: tuple[str, ...], folder: Path) -> None:
        """Refuse a design or targets these runs cannot serve: a calibrated key they never varied, or a target
        they never measured (history matching must run again under the new design or targets).

        Raises:
            TargetsError: naming the runs' file and the first missing key or target.
        """
        measured = set(self.measures[0]) if self.measures else set()
        missing = [k for p in design.priors for k in p.keys[:1] if k not in self.keys]
        missing += [f"the target {n}" for n in names if n not in measured]
        if missing:
            raise TargetsError(
                f"{folder / 'ensemble_runs.parquet'}: history matching's runs ({self.run_id}) do not cover "
                f"{missing[0]}{f' and {len(missing) - 1} more' if len(missing) > 1 else ''} of {design.path} and "
                "the targets: run flowsim calibrate SCENARIO --method history-matching again first"
            )

    def unit(self, design: Design) -> np.ndarray:
        """Each run's point in ``design``'s unit cube (through its values, so a changed range maps right)."""
        col = {k: j for j, k in enumerate(self.keys)}
        return np.array([[p.unit(float(v[col[p.keys[0]]])) for p in design.priors] for v in self.values])


def load_history(folder: Path) -> History:
    """History matching's runs, from ``folder``'s ``ensemble_runs.parquet`` and ``ensemble.json`` (the history
    matching's own, or kept under ``history_matching`` once a posterior replaced it).

    Raises:
        TargetsError: naming the file, when either is missing or not history matching's.
    """
    import pandas as pd  # import time: pandas loads only to read tables

    runs_path, meta_path = folder / "ensemble_runs.parquet", folder / "ensemble.json"
    try:
        meta = json.loads(meta_path.read_text())
        meta = meta.get("history_matching", meta)
        frame = pd.read_parquet(runs_path)
        keys = tuple(meta["parameters"])
        values = frame[list(keys)].to_numpy(float)
        names = [c for c in frame.columns if c.startswith("measure:")]
        measures = [{c[len("measure:") :]: float(v) for c, v in zip(names, row)} for row in frame[names].to_numpy()]
        return History(
            meta["run_id"],
            keys,
            values,
            measures,
            frame["wave"].to_numpy(int),
            frame["member"].to_numpy(bool),
            dict(meta["noise_sd"]),
            meta,
        )
    except (OSError, KeyError, ValueError, json.JSONDecodeError) as exc:
        raise TargetsError(
            f"{runs_path}: expected history matching's runs with its {meta_path.name} "
            f"(flowsim calibrate SCENARIO --method history-matching writes them), found {exc}"
        ) from None


@dataclass
class Posterior:
    run_id: str
    folder: Path
    history: History
    design: Design
    targets: Targets
    likelihood: Likelihood
    batches: list[dict]
    runs: list[dict]  # every posterior run: u, values, measures, z2, log weight, passes
    members: list[dict]  # runs passing the joint criterion, with normalised weights
    ess: float
    seconds: float


def posterior(
    scenario,
    targets: Targets,
    design: Design,
    history: History,
    runs_dir: Path,
    executor,
    progress: Callable[[int, int, str], None] | None = None,
) -> Posterior:
    """Weight what history matching left by the priors and the joint likelihood (resumable); see the module.

    ``scenario`` is the evaluation's (:func:`flowsim.calibrate.point_fit.survey_values` applied).
    """
    t0 = time.perf_counter()
    settings = design.posterior
    lik = Likelihood.of(targets, history.noise_sd)
    history.check(design, lik.names, runs_dir.parent)
    # What decides the runs: every run sets each calibrated key itself, so the scenario enters with them set to one
    # value (a fit that moves only them keeps the runs); asking for a larger sample extends the same runs.
    blank = scenario.with_values({k: p.value(0.5) for p in design.priors for k in p.keys}, origin="posterior ident")
    shaping = {k: settings[k] for k in ("batch", "steps")}
    ident = json.dumps(
        [
            history.run_id,
            blank.sha256,
            targets.text_sha256,
            design.ident(),
            design.prior_ident(),
            shaping,
            model_digest(),
        ],
        sort_keys=True,
    )
    run_id = hashlib.sha256(ident.encode()).hexdigest()[:12]
    log = RunLog(runs_dir / f"posterior_{run_id}")
    d = len(design.priors)
    pop = [k for k in range(d) if not is_effect(design.priors[k])]
    eff = [k for k in range(d) if is_effect(design.priors[k])]
    # The emulators of the two-sided targets over the population's parameters, from the ensemble's own wave.
    u_all = history.unit(design)
    last = history.wave == history.wave.max()
    train = np.flatnonzero(last)[-MAX_TRAINING:]
    names = [lik.names[k] for k in lik.two_sided]
    em: Emulators | None = None
    centres = np.clip(u_all[history.member][:, pop], 0, 1)
    batch_size, limit = int(settings["batch"]), lik.chi2_limit()
    runs: list[dict] = []
    batches: list[dict] = []
    done = [len(log.runs)]
    total = [batch_size]

    def step(k: int) -> None:
        done[0] += k
        if progress is not None:
            progress(done[0], total[0], "posterior")

    ess = 0.0
    for b in range(1, int(settings["max_batches"]) + 1):
        rng = np.random.default_rng([design.seed, 7_000 + b])

        def make(rng=rng) -> dict:
            nonlocal em
            if em is None:
                em = Emulators.fit(names, u_all[train][:, pop], [history.measures[i] for i in train])
            log_g = _log_target(em, lik, design, pop, d)
            x, acceptance, rhat = _metropolis(rng, log_g, centres, batch_size, batch_size * int(settings["steps"]))
            log_em = emulated_log_likelihood(em, lik, x)
            u = np.zeros((batch_size, d))
            u[:, pop] = x
            u[:, eff] = draw_prior_unit(design, rng, batch_size, eff)
            info = {
                "chains": batch_size,
                "steps": int(settings["steps"]),
                "acceptance": acceptance,
                "rhat": float(rhat.max()),
                "rhat_key": design.priors[pop[int(rhat.argmax())]].keys[0],
            }
            return {"u": u.tolist(), "log_em": log_em.tolist(), "info": info}

        doc = log.design(b, make)
        total[0] = b * batch_size
        tasks = [
            (b, i, np.array(u), design.values(u), POSTERIOR_SEED + (b - 1) * batch_size + i)
            for i, u in enumerate(doc["u"])
        ]
        log.run(executor, tasks, scenario, step)
        for r in log.wave(b):
            z = lik.z(r["measures"])
            z2 = float((z**2).sum())
            r["z2"] = z2
            r["passes"] = bool(z2 <= limit)
            # One run's likelihood against the target's sd and discrepancy alone: averaged over the run's own noise,
            # it is the likelihood with the noise counted once (total sds would count it twice).
            z_obs = float((lik.z(r["measures"], noise=False) ** 2).sum())
            r["log_weight"] = -0.5 * z_obs - float(doc["log_em"][r["index"]]) if math.isfinite(z2) else -math.inf
            r["values"] = design.values(r["u"])
        runs += log.wave(b)
        ess = effective_sample_size([r["log_weight"] for r in runs if r["passes"]])
        kept = sum(r["passes"] for r in log.wave(b))
        batches.append({"batch": b, **doc["info"], "runs": len(log.wave(b)), "passing": kept, "ess": ess})
        t0 = log.add_seconds(t0)
        if ess >= float(settings["min_ess"]):
            break
    members = [r for r in runs if r["passes"]]
    lw = np.array([r["log_weight"] for r in members])
    w = np.exp(lw - lw.max()) if len(lw) else lw
    for r, wi in zip(members, w / w.sum() if len(w) else w):
        r["weight"] = float(wi)
    log.add_seconds(t0)
    return Posterior(run_id, log.folder, history, design, targets, lik, batches, runs, members, ess, log.seconds())


def effective_sample_size(log_weights) -> float:
    """Kish's effective sample size, ``(sum w)^2 / sum w^2``, of importance weights given as logs."""
    lw = np.asarray(log_weights, float)
    lw = lw[np.isfinite(lw)]
    if not len(lw):
        return 0.0
    w = np.exp(lw - lw.max())
    return float(w.sum() ** 2 / (w**2).sum())
