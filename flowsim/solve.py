"""The smallest value of a parameter at which a target is met with a given probability.

The probability at each trial value is the share of N replications that
meet the target. Every trial value uses the same N replication streams
(common random numbers), so the estimate rises with the parameter without
the noise of fresh draws. The search is bisection on a bracket known to
straddle the probability. Each probability is reported with a 95% Wilson
interval; the answer's uncertainty is the bracket together with those
intervals.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from flowsim.errors import FlowsimError
from flowsim.replications import run_replications, wilson
from flowsim.scenario import PARAMETERS, load_scenario

TARGETS = ("count", "coverage", "prevalence")


@dataclass
class Trial:
    value: float
    met: int
    n: int
    turned_around: float

    @property
    def probability(self) -> dict:
        return wilson(self.met, self.n)


@dataclass
class Solution:
    param: str
    probability: float
    found: bool
    answer: float | None
    below: Trial | None
    at: Trial | None
    trials: list[Trial] = field(default_factory=list)


def solve(
    path: str | Path,
    target: str,
    probability: float,
    param: str,
    low: float,
    high: float,
    replications: int = 20,
    seed: int = 1,
    overrides: list[str] | None = None,
    jobs: int | None = None,
    tolerance: float | None = None,
    progress: Callable[[Trial], None] | None = None,
) -> Solution:
    """Bisect ``param`` in [low, high] for the smallest value whose P(target met) >= ``probability``."""
    if target not in TARGETS:
        raise FlowsimError(f"--target: expected one of {', '.join(TARGETS)}, found {target!r}")
    if (
        param not in PARAMETERS
        or isinstance(PARAMETERS[param].default, bool)
        or not isinstance(PARAMETERS[param].default, (int, float))
    ):
        raise FlowsimError(
            f"--vary: expected a numeric parameter key such as programmes.key_worker.caseload, found {param!r}"
        )
    if not low < high:
        raise FlowsimError(f"--range: expected A < B, found {low} {high}")
    integer = isinstance(PARAMETERS[param].default, int)
    overrides = list(overrides or [])
    load_scenario(path, [*overrides, f"{param}={low!r}"])  # fail fast on a bad value
    load_scenario(path, [*overrides, f"{param}={high!r}"])
    tol = tolerance if tolerance is not None else (1.0 if integer else (high - low) / 64)
    trials: list[Trial] = []

    def trial(x: float) -> Trial:
        x = float(round(x)) if integer else x
        for t in trials:
            if t.value == x:
                return t
        value = repr(int(x)) if integer else repr(x)
        reps = run_replications(path, [*overrides, f"{param}={value}"], seed, replications, jobs)
        met = sum(bool(r["summary"]["target"][target]["met"]) for r in reps)
        ta = sum(r["summary"]["target"]["count"]["turned_around"] for r in reps) / len(reps)
        t = Trial(x, met, len(reps), ta)
        trials.append(t)
        if progress is not None:
            progress(t)
        return t

    lo, hi = trial(low), trial(high)
    if lo.met / lo.n >= probability:
        return Solution(param, probability, True, lo.value, None, lo, trials)
    if hi.met / hi.n < probability:
        return Solution(param, probability, False, None, hi, None, trials)
    while hi.value - lo.value > tol:
        mid = trial((lo.value + hi.value) / 2)
        if mid.value in (lo.value, hi.value):
            break
        if mid.met / mid.n >= probability:
            hi = mid
        else:
            lo = mid
    return Solution(param, probability, True, hi.value, lo, hi, trials)
