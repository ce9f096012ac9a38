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

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from flowsim.ensemble import EnsemblePlan
from flowsim.errors import FlowsimError
from flowsim.plan import LEAN_SHARE, Plan, count, estimate_seconds
from flowsim.replications import run_ensemble, run_replications
from flowsim.scenario import PARAMETERS, Scenario
from flowsim.statistics import wilson

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
    ensemble_sets: int | None = None  # the probability is over this many parameter sets of the calibrated ensemble


def solve(
    scenario: Scenario,
    target: str,
    probability: float,
    param: str,
    low: float,
    high: float,
    replications: int = 20,
    seed: int = 1,
    jobs: int | None = None,
    tolerance: float | None = None,
    progress: Callable[[Trial], None] | None = None,
    ensemble: EnsemblePlan | None = None,
) -> Solution:
    """Bisect ``param`` in [low, high] for the smallest value whose P(target met) >= ``probability``.

    ``ensemble``: each trial value runs its ``per_set`` replications at each of its
    parameter sets instead of ``replications`` at the scenario's own, the same sets and streams at every value.

    Raises:
        FlowsimError: for an unknown target, a parameter that is not numeric, or low >= high.
        ScenarioError: if ``low`` or ``high`` is not a valid value of ``param``.
    """
    if target not in TARGETS:
        raise FlowsimError(f"target: expected one of {', '.join(TARGETS)}, found {target!r}")
    p = PARAMETERS.get(param)
    if p is None or isinstance(p.default, bool) or not isinstance(p.default, (int, float)):
        raise FlowsimError(
            f"parameter to vary: expected a numeric parameter key such as programmes.key_worker.caseload, found {param!r}"
        )
    if not low < high:
        raise FlowsimError(f"range: expected low < high, found {low:g} {high:g}")
    integer = isinstance(p.default, int)
    origin = f"solve --vary {param}"
    for bound in (low, high):  # fail fast on a bad value
        scenario.with_values({param: float(round(bound)) if integer else bound}, origin=origin)
    tol = tolerance if tolerance is not None else (1.0 if integer else (high - low) / 64)
    trials: list[Trial] = []

    def trial(x: float) -> Trial:
        x = float(round(x)) if integer else x
        for t in trials:
            if t.value == x:
                return t
        at_x = scenario.with_values({param: x}, origin=origin)
        if ensemble is not None:  # the varied parameter keeps its trial value in every set
            members = [{k: v for k, v in m.items() if k != param} for m in ensemble.members]
            reps = run_ensemble(at_x, members, ensemble.per_set, seed, jobs, lean=True)
        else:
            reps = run_replications(at_x, seed, replications, jobs, lean=True)  # the target alone: no counterfactual
        met = sum(bool(r.summary["target"][target]["met"]) for r in reps)
        ta = sum(r.summary["target"]["count"]["turned_around"] for r in reps) / len(reps)
        t = Trial(x, met, len(reps), ta)
        trials.append(t)
        if progress is not None:
            progress(t)
        return t

    sets = None if ensemble is None else len(ensemble.members)
    lo, hi = trial(low), trial(high)
    if lo.met / lo.n >= probability:
        return Solution(param, probability, True, lo.value, None, lo, trials, sets)
    if hi.met / hi.n < probability:
        return Solution(param, probability, False, None, hi, None, trials, sets)
    while hi.value - lo.value > tol:
        mid = trial((lo.value + hi.value) / 2)
        if mid.value in (lo.value, hi.value):
            break
        if mid.met / mid.n >= probability:
            hi = mid
        else:
            lo = mid
    return Solution(param, probability, True, hi.value, lo, hi, trials, sets)


def solve_plan(scenario: Scenario, param: str, low: float, high: float, replications: int, jobs: int | None) -> Plan:
    """The most runs :func:`solve` may make: both ends, then bisection down to its tolerance, each x replications."""
    p = PARAMETERS.get(param)
    integer = p is not None and isinstance(p.default, int) and not isinstance(p.default, bool)
    steps = math.ceil(math.log2(max(high - low, 1.0))) if integer else 6  # the float tolerance is 1/64 of the range
    trials = 2 + steps
    what = f"{count(replications, 'replication')} x up to {trials} trial values"
    seconds = estimate_seconds(scenario) * LEAN_SHARE
    return Plan(replications * trials, seconds, jobs or os.cpu_count() or 1, what)


def describe_trial(param: str, t: Trial) -> str:
    """One trial value's result, e.g. 'programmes.key_worker.caseload = 10: met in 7/20 replications ...'."""
    p = t.probability
    return (
        f"{param} = {t.value:g}: met in {t.met}/{t.n} replications "
        f"(P {p['mean']:.2f}, 95% interval {p['lo']:.2f}-{p['hi']:.2f}); "
        f"{t.turned_around:,.0f} turned around on average"
    )


def describe(sol: Solution, target: str, high: float) -> str:
    """The answer in one line: the smallest value that meets the target with the probability, or why none does."""
    if not sol.found:
        p = sol.below.probability
        return (
            f"Not reachable in the range: even at {sol.param} = {high:g} the {target} target is met with "
            f"probability {p['mean']:.2f} (95% interval {p['lo']:.2f}-{p['hi']:.2f}), below {sol.probability:g}"
            + (
                ""
                if sol.ensemble_sets is None
                else f", over {sol.ensemble_sets} parameter sets of the calibrated ensemble"
            )
        )
    at = sol.at.probability
    runs = f"{sol.at.n} replications with common random numbers"
    if sol.ensemble_sets is not None:
        runs = f"{sol.at.n} runs over {sol.ensemble_sets} parameter sets of the calibrated ensemble, the same at every value"
    below = ""
    if sol.below:
        b = sol.below.probability
        below = f"; at {sol.below.value:g} it is {b['mean']:.2f} (95% interval {b['lo']:.2f}-{b['hi']:.2f})"
    return (
        f"{sol.param} = {sol.answer:g} is the smallest value at which the {target} target is met with probability "
        f">= {sol.probability:g}: {at['mean']:.2f} (95% interval {at['lo']:.2f}-{at['hi']:.2f}, "
        f"{runs}){below}"
    )
