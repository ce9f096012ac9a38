"""Ensemble calibration by history matching: every parameter set the targets cannot rule out.

History matching (Craig et al. 1997; Vernon, Goldstein and Bower 2010; Andrianakis et al. 2015)
rules parameter sets *out* rather than searching for one best. For a target ``z`` with observation
sd ``s``, model discrepancy ``d`` and the simulation's own noise ``n``, a parameter set ``x`` is
implausible when

    I(x) = |E[f(x)] - z| / sqrt(Var_emulator(x) + s^2 + d^2 + n^2) > cutoff   (3: Pukelsheim's rule)

for any fitted target. Each wave runs the simulator at parameter sets not yet ruled out, fits one
Gaussian-process emulator per target on them (scikit-learn, anisotropic RBF plus a noise term), and
screens many candidates with every wave's emulators (each a linear regression with a Gaussian process
on its residuals). The last wave is the ensemble's own: its runs
that the simulator itself (not an emulator) cannot rule out are the members, equally weighted, as
history matching leaves a uniform prior over what it cannot rule out.

Parameters are searched on a log scale between the prior ranges in ``calibration/ensemble.toml``;
``keys`` ties several parameters to one value. Wave 1 is a Latin hypercube over the priors. Later
waves draw candidates from a mixture: a fifth uniform over the priors, the rest Gaussian around the
parameter sets the current emulators cannot rule out (twice their covariance, as ABC-SMC's proposal,
Beaumont et al. 2009); the candidates kept are resampled by the inverse of that density, so each
wave's runs spread uniformly over what is left.

Resumable: every run is appended to ``runs/<run id>/runs.jsonl`` and each wave's design is written
before it runs, so a killed calibration started again runs only what is missing. Emulators are
refitted from the runs, deterministically.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flowsim import engine
from flowsim.calibrate.design import Design
from flowsim.calibrate.point_fit import UNFITTED, problem_measures, survey_values
from flowsim.calibrate.targets import Targets
from flowsim.engine.cache import model_digest
from flowsim.files import atomic_write
from flowsim.scenario import Scenario

#: Seeds of the ensemble's runs start here (the point fit's runs use 101 and 102, its report 1001 onwards).
RUN_SEED = 20_000
#: Seeds of the runs that measure the simulation's noise at the point fit.
NOISE_SEED = 19_000
#: Training runs for each wave's emulators: the most recent ones (each wave refocuses on what is left).
MAX_TRAINING = 400
#: Further batches of ``ensemble_runs`` drawn from what the last emulators leave, while members are fewer than asked.
MAX_TOP_UPS = 6
#: The share of each wave's candidates drawn uniformly over the priors (the rest near what is left).
UNIFORM_SHARE = 0.2


# -- targets and their uncertainty ------------------------------------------------------------------------------


def fitted_targets(targets: Targets) -> list:
    """The targets history matching rules parameter sets out by (the unfitted ones stay predictions)."""
    return [t for t in targets.targets if t.name not in UNFITTED]


def total_sd(target, noise_sd: float) -> float:
    """Observation sd, model discrepancy and the simulation's noise together."""
    return math.sqrt(target.sd**2 + target.discrepancy**2 + noise_sd**2)


def implausibility(target, simulated: float, noise_sd: float) -> float:
    """|simulated - target| in total sds (a shortfall only, for a lower bound); NaN counts as ruled out."""
    if not math.isfinite(simulated):
        return math.inf
    return abs(target.z(simulated) * target.sd) / total_sd(target, noise_sd)


# -- the emulators --------------------------------------------------------------------------------------------


def _transform(name: str, y: np.ndarray) -> np.ndarray:
    """Counts, shares and prevalences are emulated on a log scale (they move multiplicatively); changes as they are."""
    return y if name.startswith("osr14_") else np.log(np.maximum(y, 1e-9))


@dataclass
class Emulators:
    """One emulator per fitted target, trained on one wave's runs: a linear regression on the (log-scale) parameters,
    and a Gaussian process on what it leaves (as Vernon et al. 2010), so the process has only the curvature to learn."""

    names: list[str]
    models: list
    linear: list  # each target's regression coefficients: intercept first

    @classmethod
    def fit(cls, names: list[str], u: np.ndarray, measures: list[dict]) -> Emulators:
        # import time: scikit-learn loads only for history matching
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

        models, linear = [], []
        d = u.shape[1]
        for name in names:
            y = np.array([m[name] for m in measures], float)
            ok = np.isfinite(y)
            x, target = u[ok], _transform(name, y[ok])
            beta = np.linalg.lstsq(np.column_stack([np.ones(len(x)), x]), target, rcond=None)[0]
            kernel = ConstantKernel(1.0, (1e-3, 1e3)) * RBF(np.full(d, 0.5), (0.03, 100.0)) + WhiteKernel(
                1e-2, (1e-8, 1.0)
            )
            gp = GaussianProcessRegressor(kernel, normalize_y=True, n_restarts_optimizer=0, random_state=0)
            with warnings.catch_warnings():  # a length scale at its bound: that parameter does not matter here
                warnings.simplefilter("ignore", ConvergenceWarning)
                gp.fit(x, target - beta[0] - x @ beta[1:])
            models.append(gp)
            linear.append(beta)
        return cls(list(names), models, linear)

    def predict(self, u: np.ndarray):
        """Each target's emulated mean and sd at points ``u``: ``(name, mean, sd)`` in turn, on the measure's scale."""
        for name, gp, beta in zip(self.names, self.models, self.linear):
            mean, sd = gp.predict(u, return_std=True)
            mean = mean + beta[0] + u @ beta[1:]
            if not name.startswith("osr14_"):  # back from the log scale (the delta method at the prediction)
                mean = np.exp(mean)
                sd = mean * sd
            yield name, mean, sd

    def implausibility(self, u: np.ndarray, targets: dict, noise: dict, chunk: int = 20_000) -> np.ndarray:
        """Each point's largest implausibility over the targets (the emulator's own variance included)."""
        out = np.zeros(len(u))
        for start in range(0, len(u), chunk):
            part = u[start : start + chunk]
            worst = np.zeros(len(part))
            for name, mean, sd in self.predict(part):
                t = targets[name]
                obs = math.sqrt(t.sd**2 + t.discrepancy**2)
                # The emulator's sd already holds the simulation's noise (its white-noise term).
                diff = mean - t.value
                if t.bound == "lower":
                    diff = np.minimum(diff, 0.0)
                worst = np.maximum(worst, np.abs(diff) / np.sqrt(sd**2 + obs**2))
            out[start : start + chunk] = worst
        return out


# -- the run log ----------------------------------------------------------------------------------------------


def _evaluate(task: tuple) -> dict[str, float]:
    """One simulator run: ``(key, scenario, values, seed)`` -> its measures (picklable, for worker processes)."""
    _, scenario, values, seed = task
    trial = scenario.with_values(values, origin="history matching")
    return problem_measures(engine.simulate(trial, seed=seed))


class RunLog:
    """Every run so far, appended to ``runs.jsonl`` as it finishes; each wave's design beside it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "runs.jsonl"
        self.runs: dict[tuple[int, int], dict] = {}
        if self.path.exists():
            text = self.path.read_text()
            if text and not text.endswith("\n"):  # a run cut short by the kill: end its line, so the next stands alone
                with self.path.open("a") as fh:
                    fh.write("\n")
            for line in text.splitlines():
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut short when the calibration was killed
                self.runs[(entry["wave"], entry["index"])] = entry

    def seconds(self) -> float:
        """Wall time spent on this calibration so far, over every time it was started."""
        path = self.folder / "seconds.json"
        return float(json.loads(path.read_text())["seconds"]) if path.exists() else 0.0

    def add_seconds(self, since: float) -> float:
        """Add the time since ``since`` (``time.perf_counter``) to :meth:`seconds`; return the clock now."""
        now = time.perf_counter()
        atomic_write(self.folder / "seconds.json", json.dumps({"seconds": round(self.seconds() + now - since, 1)}))
        return now

    def design(self, wave: int, make: Callable[[], dict]) -> dict:
        """Wave ``wave``'s design: read back if written, else made and written before any of its runs."""
        path = self.folder / f"wave_{wave}.json"
        if path.exists():
            return json.loads(path.read_text())
        doc = make()
        atomic_write(path, json.dumps(doc))
        return doc

    def wave(self, wave: int) -> list[dict]:
        return [self.runs[k] for k in sorted(self.runs) if k[0] == wave]

    def run(self, executor, tasks: list[tuple[int, int, np.ndarray, dict, int]], scenario, progress) -> None:
        """Run what is not in the log yet, appending each run as it finishes."""
        todo = {(t[0], t[1]): t for t in tasks if (t[0], t[1]) not in self.runs}
        jobs = [(key, scenario, values, seed) for key, (_, _, _, values, seed) in todo.items()]
        with self.path.open("a") as fh:
            for task, measures in executor.run(_evaluate, jobs, size=len(jobs)):
                w, i, u, values, seed = todo[task[0]]
                entry = {"wave": w, "index": i, "seed": seed, "u": list(map(float, u)), "measures": measures}
                fh.write(json.dumps(entry) + "\n")
                fh.flush()
                self.runs[(w, i)] = entry
                if progress is not None:
                    progress(1)


# -- proposing each wave's runs -------------------------------------------------------------------------------


def _mass(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The standard normal's mass between ``lo`` and ``hi``."""
    from scipy.special import ndtr  # import time: scipy loads only where a statistic needs it

    return ndtr(hi) - ndtr(lo)


def _latin(n: int, d: int, rng: np.random.Generator) -> np.ndarray:
    from scipy.stats import qmc  # import time: scipy loads only where a statistic needs it

    return qmc.LatinHypercube(d=d, seed=rng).random(n)


def _propose(
    rng: np.random.Generator, centres: np.ndarray, n: int, candidates: int, screen: Callable[[np.ndarray], np.ndarray]
) -> tuple[np.ndarray, dict]:
    """``n`` points spread uniformly over what ``screen`` (every wave's emulators) cannot rule out."""
    from scipy.stats import truncnorm  # import time: scipy loads only where a statistic needs it

    d = centres.shape[1]
    # Each coordinate normal around a centre, truncated to [0, 1], with twice the centres' variance.
    sd = np.clip(np.sqrt(2.0 * centres.var(axis=0)), 0.01, 0.5) if len(centres) > 1 else np.full(d, 0.1)
    n_uniform = int(candidates * UNIFORM_SHARE)
    pick = rng.integers(len(centres), size=candidates - n_uniform)
    a, b = (0 - centres[pick]) / sd, (1 - centres[pick]) / sd
    near = truncnorm.rvs(a, b, loc=centres[pick], scale=sd, random_state=rng)
    x = np.vstack([rng.random((n_uniform, d)), near])
    # The proposal's density: the uniform part plus the mixture of truncated normals.
    lo_c, hi_c = (0 - centres) / sd, (1 - centres) / sd
    log_mass = np.log(np.maximum(_mass(lo_c, hi_c), 1e-300)).sum(axis=1)
    density = np.full(len(x), UNIFORM_SHARE)
    log_norm = -0.5 * d * math.log(2 * math.pi) - np.log(sd).sum()
    for start in range(0, len(x), 2_000):
        part = x[start : start + 2_000]
        white = (part[:, None, :] - centres[None, :, :]) / sd
        k = np.exp(log_norm - 0.5 * (white**2).sum(axis=2) - log_mass[None, :]).mean(axis=1)
        density[start : start + 2_000] += (1 - UNIFORM_SHARE) * k
    worst = screen(x)
    kept = np.flatnonzero(worst <= 1.0)
    info = {"candidates": len(x), "not_ruled_out": int(len(kept))}
    # The share of the prior not ruled out, by importance sampling (the prior is uniform on the cube).
    info["share_of_prior"] = float(np.mean((worst <= 1.0) / density))
    if len(kept) >= n:
        w = 1.0 / density[kept]
        chosen = rng.choice(kept, size=n, replace=False, p=w / w.sum())
    else:  # too few left: every one, then the least implausible of the rest
        rest = [i for i in np.argsort(worst) if worst[i] > 1.0][: n - len(kept)]
        chosen = np.concatenate([kept, rest])
    return x[np.asarray(chosen, int)], info


# -- the calibration ------------------------------------------------------------------------------------------


@dataclass
class Ensemble:
    run_id: str
    folder: Path
    design: Design
    targets: Targets
    noise_sd: dict[str, float]
    point: dict  # the point fit's unit coordinates and mean measures over the noise seeds
    waves: list[dict]  # each wave's design information
    runs: list[dict]  # every run, with its wave, seed, unit point and measures
    members: list[dict]  # the runs of the last wave the simulator cannot rule out (and the point fit, first)
    seconds: float


def _noise(log: RunLog, scenario, design, executor, progress) -> tuple[dict, dict]:
    """Each measure's sd over ``noise_seeds`` replications of the point fit, and their mean."""
    u0 = design.unit(scenario)
    values = {k: float(scenario.value(k)) for p in design.priors for k in p.keys}
    tasks = [(0, i, u0, values, NOISE_SEED + i) for i in range(design.noise_seeds)]
    log.run(executor, tasks, scenario, progress)
    runs = log.wave(0)
    names = list(runs[0]["measures"])
    arr = {k: np.array([r["measures"][k] for r in runs], float) for k in names}
    sd = {k: float(np.nanstd(v, ddof=1)) for k, v in arr.items()}
    mean = {k: float(np.nanmean(v)) for k, v in arr.items()}
    return sd, {"u": list(map(float, u0)), "values": values, "measures": mean}


def history_match(
    scenario: Scenario,
    targets: Targets,
    design: Design,
    runs_dir: Path,
    executor,
    progress: Callable[[int, int, str], None] | None = None,
) -> Ensemble:
    """Run (or resume) the history matching; return its ensemble."""
    t0 = time.perf_counter()
    base = survey_values(scenario, design.scale)
    sim = scenario.with_values(base, origin="history matching")
    ident = json.dumps([scenario.sha256, targets.text_sha256, design.ident(), model_digest()], sort_keys=True)
    run_id = hashlib.sha256(ident.encode()).hexdigest()[:12]
    log = RunLog(runs_dir / run_id)
    total = [design.noise_seeds + design.waves * design.runs_per_wave + design.ensemble_runs]  # more if topped up
    done = [len(log.runs)]

    def step(k: int, stage: str = "") -> None:
        done[0] += k
        if progress is not None:
            progress(done[0], total[0], stage)

    step(0, "noise")
    noise_sd, point = _noise(log, sim, design, executor, lambda k: step(k, "noise"))
    fitted = fitted_targets(targets)
    by_name = {t.name: t for t in fitted}
    names = [t.name for t in fitted]
    d = len(design.priors)
    emulators: list[Emulators] = []

    def fitted_through(wave: int) -> list[Emulators]:
        """Waves 1 .. ``wave``'s emulators, fitted when first needed (a resumed run whose designs are all written
        needs none)."""
        for w in range(len(emulators) + 1, min(wave, design.waves) + 1):
            recent = [r for v in range(max(1, w - 1), w + 1) for r in log.wave(v)][-MAX_TRAINING:]
            emulators.append(Emulators.fit(names, np.array([r["u"] for r in recent]), [r["measures"] for r in recent]))
        return emulators

    waves = []
    seed = RUN_SEED
    members: list[dict] = []
    for wave in range(1, design.waves + 2 + MAX_TOP_UPS):
        last = wave > design.waves
        if wave > design.waves + 1 and len(members) >= design.members:
            break  # enough members: no more batches from what the last emulators leave
        n = design.ensemble_runs if last else design.runs_per_wave
        if wave > design.waves + 1:
            total[0] += n
        wave_rng = np.random.default_rng([design.seed, wave])

        def make(wave=wave, n=n, wave_rng=wave_rng) -> dict:
            if wave == 1:
                u = _latin(n - 1, d, wave_rng)
                u = np.vstack([np.clip(point["u"], 0, 1), u])  # the point fit runs too
                return {"u": u.tolist(), "info": {"design": "latin hypercube over the priors, and the point fit"}}
            screen = _screen(fitted_through(wave - 1), by_name, noise_sd, design.cutoff)
            trained = [r for r in log.runs.values() if r["wave"] >= 1]
            scores = screen(np.array([r["u"] for r in trained]))
            centres = np.array([r["u"] for r, s in zip(trained, scores) if s <= 1.0])
            if len(centres) < 2 * d:
                centres = np.array([trained[i]["u"] for i in np.argsort(scores)[: 2 * d]])
            u, info = _propose(wave_rng, centres, n, design.candidates, screen)
            return {"u": u.tolist(), "info": {**info, "centres": len(centres)}}

        doc = log.design(wave, make)
        waves.append({"wave": wave, **doc["info"]})
        tasks = [(wave, i, np.array(u), design.values(u), seed + i) for i, u in enumerate(doc["u"])]
        seed += n
        log.run(executor, tasks, sim, lambda k, wave=wave: step(k, f"wave {wave}"))
        for r in log.wave(wave):
            r["implausibility"] = max(implausibility(by_name[n], r["measures"][n], noise_sd[n]) for n in names)
        if last:
            members += [r for r in log.wave(wave) if r["implausibility"] <= design.cutoff]
        t0 = log.add_seconds(t0)
    t0 = log.add_seconds(t0)
    runs = [r for k, r in sorted(log.runs.items()) if 1 <= k[0] <= wave]
    final = members
    point_run = {
        "wave": 0,
        "index": 0,
        "seed": NOISE_SEED,
        "u": point["u"],
        "measures": point["measures"],
        "implausibility": max(implausibility(by_name[n], point["measures"][n], noise_sd[n]) for n in names),
        "point_fit": True,
    }
    members = [point_run, *final]
    return Ensemble(run_id, log.folder, design, targets, noise_sd, point, waves, runs, members, log.seconds())


def _screen(emulators: list[Emulators], targets: dict, noise: dict, cutoff: float) -> Callable:
    """Largest implausibility over every wave's emulators, in cutoffs (1 = at the cutoff)."""

    def screen(u: np.ndarray) -> np.ndarray:
        worst = np.zeros(len(u))
        for em in emulators:
            worst = np.maximum(worst, em.implausibility(u, targets, noise) / cutoff)
        return worst

    return screen
