"""The smallest value of a parameter at which a target is met with a given probability.

The probability at each trial value is the share of N replications that
meet the target. Every trial value uses the same N replication streams
(common random numbers), so the estimate rises with the parameter without
the noise of fresh draws. The search is bisection on a bracket known to
straddle the probability. Each probability is reported with a 95% Wilson
interval; where that interval still includes the probability asked for, the
trial adds replications (doubling, up to :data:`MAX_FACTOR` times N, on new
streams common to every value) until it excludes it, or says the trial is
undecided. The answer's uncertainty is the bracket together with those
intervals, and the answer says when either side of it is undecided.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from flowsim import __version__
from flowsim.charts import ChartMeta, save
from flowsim.charts.solve import solve as solve_chart
from flowsim.ensemble import EnsemblePlan
from flowsim.errors import FlowsimError
from flowsim.files import atomic_write
from flowsim.plan import LEAN_SHARE, Plan, count, estimate_seconds
from flowsim.replications import run_ensemble, run_replications
from flowsim.scenario import PARAMETERS, Scenario
from flowsim.statistics import wilson
from flowsim.structures import StructuresPlan
from flowsim.text import millions

TARGETS = ("count", "coverage", "prevalence")
#: A trial value whose 95% interval includes the probability asked for runs more replications, up to this many
#: times those asked for (not over an ensemble, whose runs are its parameter sets).
MAX_FACTOR = 4


@dataclass
class Trial:
    value: float
    met: int
    n: int
    turned_around: float
    cost_gbp: float = 0.0  # what the programmes cost, England's £, start date to deadline (mean over runs)
    decided: bool = True  # the 95% interval excludes the probability asked for
    by_structure: dict[str, tuple[int, int]] = field(default_factory=dict)  # over several structures: (met, runs)

    @property
    def probability(self) -> dict:
        return wilson(self.met, self.n)

    def as_dict(self) -> dict:
        return {
            "value": self.value,
            "met": self.met,
            "replications": self.n,
            "probability": self.probability,
            "decided": self.decided,
            "turned_around": self.turned_around,
            "cost_england_gbp": self.cost_gbp,
            **(
                {
                    "by_structure": {
                        name: {"met": met, "replications": n, "probability": wilson(met, n)}
                        for name, (met, n) in self.by_structure.items()
                    }
                }
                if self.by_structure
                else {}
            ),
        }


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
    structures: tuple[str, ...] = ()  # ... split over these structures' ensembles (pooled), when more than one


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
    ensemble: EnsemblePlan | StructuresPlan | None = None,
) -> Solution:
    """Bisect ``param`` in [low, high] for the smallest value whose P(target met) >= ``probability``.

    A trial value whose interval includes ``probability`` runs more replications (:data:`MAX_FACTOR`); if it still
    does, it is marked undecided and judged by its estimate, and the answer says so.

    ``ensemble``: each trial value runs its ``per_set`` replications at each of its
    parameter sets instead of ``replications`` at the scenario's own, the same sets and streams at every value.
    Over the shipped structures (a :class:`~flowsim.structures.StructuresPlan`), each structure's sets run under
    that structure on the streams after the one before's, and the probability is over the mixture of their runs
    (each structure's own in the trial's ``by_structure``).

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
        by: dict[str, list] = {}
        if isinstance(ensemble, StructuresPlan):  # each structure's sets under it, the trial value kept in each
            reps = []
            for c in ensemble.components:
                members = [{k: v for k, v in m.items() if k != param} for m in c.plan.members]
                under_c = c.scenario.with_values({param: x}, origin=origin)
                by[c.structure.name] = run_ensemble(
                    under_c, members, ensemble.per_set, seed, jobs, lean=True, first=len(reps)
                )
                reps += by[c.structure.name]
        elif ensemble is not None:  # the varied parameter keeps its trial value in every set
            members = [{k: v for k, v in m.items() if k != param} for m in ensemble.members]
            reps = run_ensemble(at_x, members, ensemble.per_set, seed, jobs, lean=True)
        else:
            reps = run_replications(at_x, seed, replications, jobs, lean=True)  # the target alone: no counterfactual

        def met(runs=None) -> int:
            return sum(bool(r.summary["target"][target]["met"]) for r in (reps if runs is None else runs))

        def straddles() -> bool:
            w = wilson(met(), len(reps))
            return w["lo"] < probability <= w["hi"]

        while ensemble is None and straddles() and len(reps) < MAX_FACTOR * replications:
            more = min(len(reps), MAX_FACTOR * replications - len(reps))  # new streams, the same at every value
            reps += run_replications(at_x, seed, more, jobs, lean=True, first=len(reps))
        ta = sum(r.summary["target"]["count"]["turned_around"] for r in reps) / len(reps)
        cost = sum(r.summary["cost"]["england_gbp"] for r in reps) / len(reps)
        split = {name: (met(runs), len(runs)) for name, runs in by.items()}
        t = Trial(x, met(), len(reps), ta, cost, not straddles(), split)
        trials.append(t)
        if progress is not None:
            progress(t)
        return t

    names: tuple[str, ...] = ()
    if isinstance(ensemble, StructuresPlan):
        sets = sum(len(c.plan.members) for c in ensemble.components)
        names = tuple(c.structure.name for c in ensemble.components)
        names = names if len(names) > 1 else ()  # one structure with an ensemble: nothing pooled
    else:
        sets = None if ensemble is None else len(ensemble.members)
    lo, hi = trial(low), trial(high)
    if lo.met / lo.n >= probability:
        return Solution(param, probability, True, lo.value, None, lo, trials, sets, names)
    if hi.met / hi.n < probability:
        return Solution(param, probability, False, None, hi, None, trials, sets, names)
    while hi.value - lo.value > tol:
        mid = trial((lo.value + hi.value) / 2)
        if mid.value in (lo.value, hi.value):
            break
        if mid.met / mid.n >= probability:
            hi = mid
        else:
            lo = mid
    return Solution(param, probability, True, hi.value, lo, hi, trials, sets, names)


def solve_plan(
    scenario: Scenario, param: str, low: float, high: float, replications: int, jobs: int | None, extends: bool = True
) -> Plan:
    """The most runs :func:`solve` may make: both ends, then bisection down to its tolerance, each x replications.
    ``extends``: an undecided trial value runs more replications (not over an ensemble, whose runs are its sets)."""
    p = PARAMETERS.get(param)
    integer = p is not None and isinstance(p.default, int) and not isinstance(p.default, bool)
    steps = math.ceil(math.log2(max(high - low, 1.0))) if integer else 6  # the float tolerance is 1/64 of the range
    trials = 2 + steps
    what = f"{count(replications, 'replication')} x up to {trials} trial values"
    if extends:
        what += (
            f" (up to {MAX_FACTOR} times the replications at a value whose interval includes the probability asked for)"
        )
    seconds = estimate_seconds(scenario) * LEAN_SHARE
    return Plan(replications * trials, seconds, jobs or os.cpu_count() or 1, what)


def describe_trial(param: str, t: Trial) -> str:
    """One trial value's result, e.g. 'programmes.key_worker.caseload = 10: met in 7/20 replications ...'."""
    p = t.probability
    return (
        f"{param} = {t.value:.4g}: met in {t.met}/{t.n} replications "
        f"(P {p['mean']:.2f}, 95% interval {p['lo']:.2f}-{p['hi']:.2f}"
        + _by_structure(t)
        + f"); {t.turned_around:,.0f} turned around on average"
        + ("" if t.decided else "; undecided: the interval still includes the probability asked for")
    )


def _by_structure(t: Trial) -> str:
    """'; baseline 0.85, clockwork 0.80, memoryless 0.76': each structure's share of runs meeting the target."""
    if len(t.by_structure) < 2:
        return ""
    return "; " + ", ".join(f"{name} {met / n:.2f}" for name, (met, n) in t.by_structure.items())


def _over(sol: Solution) -> str:
    """What the probability is over, beside the replications: the ensemble's sets, and the structures pooled."""
    if sol.structures:
        names = ", ".join(sol.structures)
        return f"{sol.ensemble_sets} parameter sets of {len(sol.structures)} structures' ensembles ({names}), pooled"
    return f"{sol.ensemble_sets} parameter sets of the calibrated ensemble"


def describe(sol: Solution, target: str, high: float) -> str:
    """The answer in one line: the smallest value that meets the target with the probability, or why none does."""
    if not sol.found:
        p = sol.below.probability
        return (
            f"Not reachable in the range: even at {sol.param} = {high:g} the {target} target is met with "
            f"probability {p['mean']:.2f} (95% interval {p['lo']:.2f}-{p['hi']:.2f}), below {sol.probability:g}"
            + ("" if sol.ensemble_sets is None else f", over {_over(sol)}{_by_structure(sol.below)}")
        )
    at = sol.at.probability
    runs = f"{sol.at.n} replications with common random numbers"
    if sol.ensemble_sets is not None:
        runs = f"{sol.at.n} runs over {_over(sol)}, the same at every value{_by_structure(sol.at)}"
    below = ""
    if sol.below:
        b = sol.below.probability
        below = f"; at {sol.below.value:.4g} it is {b['mean']:.2f} (95% interval {b['lo']:.2f}-{b['hi']:.2f})"
    undecided = [t for t in (sol.below, sol.at) if t is not None and not t.decided]
    caveat = ""
    if undecided:
        caveat = (
            "; undecided: at "
            + " and ".join(f"{t.value:.4g} ({t.n} replications)" for t in undecided)
            + f" the 95% interval still includes {sol.probability:g}, so the answer may lie a step either side"
        )
    return (
        f"{sol.param} = {sol.answer:.4g} is the smallest value at which the {target} target is met with probability "
        f">= {sol.probability:g}: {at['mean']:.2f} (95% interval {at['lo']:.2f}-{at['hi']:.2f}, "
        f"{runs}){below}; the programmes cost {millions(sol.at.cost_gbp)} there (England, start to deadline){caveat}"
    )


def solve_document(sol: Solution, scenario: Scenario, target: str, low: float, high: float, seed: int) -> dict:
    """What ``solve.json`` holds: the question, the answer with its evidence, and every trial value."""
    return {
        "scenario": scenario.name,
        "scenario_sha256": scenario.sha256,
        "scale": scenario.value("population.scale"),
        "target": target,
        "probability": sol.probability,
        "parameter": sol.param,
        "range": [low, high],
        "seed": seed,
        "found": sol.found,
        "answer": sol.answer,
        "decided": all(t.decided for t in (sol.below, sol.at) if t is not None),
        "at": sol.at.as_dict() if sol.at else None,
        "below": sol.below.as_dict() if sol.below else None,
        "ensemble_sets": sol.ensemble_sets,
        **({"structures": list(sol.structures)} if sol.structures else {}),
        "trials": [t.as_dict() for t in sorted(sol.trials, key=lambda t: t.value)],
        "headline": describe(sol, target, high),
    }


def write_solve(doc: dict, out_dir: Path) -> list[Path]:
    """Write ``solve.json`` and the chart of P(met) against the value (``solve.png``, ``solve.svg``) into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = atomic_write(out_dir / "solve.json", json.dumps(doc, indent=2) + "\n")
    runs = max(t["replications"] for t in doc["trials"])
    meta = ChartMeta(doc["scenario"], doc["scenario_sha256"], runs, __version__, doc["scale"])
    return [path, *save(solve_chart(doc, meta), out_dir / "solve")]
