"""The history matching's design (``calibration/ensemble.toml``): its settings and every parameter's prior range."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from flowsim.calibrate.targets import TargetsError, read_toml
from flowsim.scenario import Scenario


@dataclass(frozen=True)
class Prior:
    """A calibrated parameter (or several tied to one value), searched on a log scale in [lo, hi].

    Its prior (for the posterior) is log-normal with ``median`` and ``upper`` (its 97.5th percentile), truncated
    to [lo, hi]; without them, log-uniform over [lo, hi]. ``source`` says where either comes from.
    """

    name: str
    keys: tuple[str, ...]
    lo: float
    hi: float
    source: str
    median: float | None = None
    upper: float | None = None

    @property
    def kind(self) -> str:
        return "log-uniform" if self.median is None else "log-normal"

    def unit_normal(self) -> tuple[float, float]:
        """The log-normal prior as a normal in the unit cube: its mean and sd there."""
        span = math.log(self.hi) - math.log(self.lo)
        sigma = (math.log(self.upper) - math.log(self.median)) / 1.959964
        return (math.log(self.median) - math.log(self.lo)) / span, sigma / span

    def value(self, u: float) -> float:
        """The parameter's value at ``u`` in [0, 1]."""
        return float(math.exp(math.log(self.lo) + u * (math.log(self.hi) - math.log(self.lo))))

    def unit(self, value: float) -> float:
        """Where ``value`` lies in [0, 1] (outside it when outside the range)."""
        return (math.log(value) - math.log(self.lo)) / (math.log(self.hi) - math.log(self.lo))


@dataclass(frozen=True)
class Design:
    path: str
    priors: tuple[Prior, ...]
    scale: float
    waves: int
    runs_per_wave: int
    ensemble_runs: int
    members: int
    cutoff: float
    noise_seeds: int
    candidates: int
    seed: int
    text_sha256: str
    posterior: dict = field(default_factory=dict)  # the [posterior] settings (see flowsim.calibrate.posterior)

    def ident(self) -> list:
        """What decides the runs (not ``members``: asking for more members extends a finished calibration)."""
        shaping = ("scale", "waves", "runs_per_wave", "ensemble_runs", "cutoff", "noise_seeds", "candidates", "seed")
        return [[p.name, list(p.keys), p.lo, p.hi] for p in self.priors] + [getattr(self, k) for k in shaping]

    def prior_ident(self) -> list:
        """What decides the posterior's priors (history matching's runs do not depend on them)."""
        return [[p.name, p.median, p.upper] for p in self.priors]

    def values(self, u) -> dict[str, float]:
        """Every parameter key's value at the point ``u`` of the unit cube."""
        return {k: p.value(float(x)) for p, x in zip(self.priors, u) for k in p.keys}

    def unit(self, scenario: Scenario) -> np.ndarray:
        """Where ``scenario``'s values lie in the unit cube (its first key stands for tied ones)."""
        return np.array([p.unit(float(scenario.value(p.keys[0]))) for p in self.priors])


_SETTINGS = {
    "scale": float,
    "waves": int,
    "runs_per_wave": int,
    "ensemble_runs": int,
    "members": int,
    "cutoff": float,
    "noise_seeds": int,
    "candidates": int,
    "seed": int,
}


_POSTERIOR = {
    "batch": int,
    "max_batches": int,
    "min_ess": float,
    "steps": int,
}
#: The posterior's settings where the file is silent.
POSTERIOR_DEFAULTS = {
    "batch": 200,
    "max_batches": 4,
    "min_ess": 100.0,
    "steps": 1500,
}


def load_design(path: str | Path, scenario: Scenario) -> Design:
    """Read the history matching's settings and priors.

    Raises:
        TargetsError: naming the file and key, for a missing file, bad TOML, an unknown setting, a
            parameter the scenario does not have, or a range that is not 0 < lo < hi.
    """
    path = Path(path)
    text, doc = read_toml(path, "ensemble settings file")
    settings = doc.get("settings", {})
    post = doc.get("posterior", {})
    unknown = (
        sorted(set(doc) - {"settings", "priors", "posterior"})
        + sorted(f"settings.{k}" for k in set(settings) - set(_SETTINGS))
        + sorted(f"posterior.{k}" for k in set(post) - set(_POSTERIOR))
    )
    if unknown:
        raise TargetsError(
            f"{path}: unknown key(s) {unknown}; expected [settings] ({', '.join(_SETTINGS)}), [posterior] "
            f"({', '.join(_POSTERIOR)}) and [priors]"
        )
    for key, kind in _POSTERIOR.items():
        v = post.get(key)
        if v is None:
            continue
        if not isinstance(v, (int, float)) or isinstance(v, bool) or v <= 0 or (kind is int and v != int(v)):
            raise TargetsError(f"{path}, key posterior.{key}: expected a positive {kind.__name__}, found {v!r}")
    for key, kind in _SETTINGS.items():
        v = settings.get(key)
        if not isinstance(v, (int, float)) or isinstance(v, bool) or v <= 0 or (kind is int and v != int(v)):
            raise TargetsError(f"{path}, key settings.{key}: expected a positive {kind.__name__}, found {v!r}")
    priors = []
    for name, p in doc.get("priors", {}).items():
        where = f"{path}, key priors.{name}"
        allowed = {"lo", "hi", "source", "keys", "median", "upper"}
        if not isinstance(p, dict) or not {"lo", "hi", "source"} <= set(p) <= allowed:
            raise TargetsError(f"{where}: expected lo, hi, source (and keys, median with upper), found {p!r}")
        if ("median" in p) != ("upper" in p):
            raise TargetsError(f"{where}: expected median and upper together (a log-normal prior), found {p!r}")
        lo, hi = p["lo"], p["hi"]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (lo, hi)) or not 0 < lo < hi:
            raise TargetsError(f"{where}: expected numbers 0 < lo < hi, found lo={lo!r}, hi={hi!r}")
        keys = tuple(p.get("keys", [name]))
        for key in keys:
            try:
                scenario.value(key)
            except (AttributeError, KeyError):
                raise TargetsError(f"{where}: expected a parameter of {scenario.name}, found {key!r}") from None
        median, upper = p.get("median"), p.get("upper")
        if median is not None and not (
            all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (median, upper))
            and lo <= median <= hi
            and median < upper
        ):
            raise TargetsError(
                f"{where}: expected numbers lo <= median <= hi and median < upper, found lo={lo!r}, hi={hi!r}, "
                f"median={median!r}, upper={upper!r}"
            )
        priors.append(
            Prior(
                name,
                keys,
                float(lo),
                float(hi),
                str(p["source"]),
                None if median is None else float(median),
                None if upper is None else float(upper),
            )
        )
    if not priors:
        raise TargetsError(f"{path}: expected at least one [priors.<parameter>] table")
    return Design(
        str(path),
        tuple(priors),
        **{k: kind(settings[k]) for k, kind in _SETTINGS.items()},
        text_sha256=hashlib.sha256(text.encode()).hexdigest(),
        posterior={**POSTERIOR_DEFAULTS, **post},
    )
