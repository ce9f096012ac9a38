"""Plans: how many runs a command is about to start and about how long they will take, said before starting.

The rule for a plan nobody meant: more than :data:`MAX_RUNS` runs, or more than
:data:`MAX_SECONDS` of wall time by the estimate. Such a plan is refused unless
the user passes ``--yes``; ``flowsim run --replications 1000000`` is almost
always a typo, and a day of computing is worth a second look.

The estimate is deliberately simple: starting up, then for each run a fixed
overhead plus a cost per family-year simulated, measured on a 2-core machine
(``benchmarks/README.md``: the full-size baseline, 290,000 families at risk,
takes about 15 s a replication). It is a guide to the order of
magnitude, not a promise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from flowsim.errors import FlowsimError

#: More runs than this is taken for a mistake unless --yes is given.
MAX_RUNS = 10_000
#: More wall time than this (seconds, by the estimate) is taken for a mistake unless --yes is given.
MAX_SECONDS = 24 * 3600.0

#: Seconds per run that do not depend on its size (setting up, tables, the summary).
OVERHEAD_SECONDS = 0.2
#: Seconds before the first run: starting workers and loading the compiled event kernel in each (in parallel).
STARTUP_SECONDS = 1.5
#: Seconds per family at risk (at the start) per simulated year, burn-in and counterfactual included
#: (``flowsim run scenarios/baseline.toml --ensemble 50``: 100 runs of 290k x 23.3 years in 733 s on 2 workers).
SECONDS_PER_FAMILY_YEAR = 2.15e-6
#: Families at risk per family with children (seed 000 slide 4: 290k of 5.8M); the estimate's size.
AT_RISK_SHARE = 0.05
#: With payment by results (claims, the 2012 programme: councils' administration and about 46,000 key-worker places a
#: year) against without: one replication each, whole process, December 2026, tf_programme_2012 in 24.2 s against
#: the baseline's 7.55 s at a quarter of England (4.3 times, start-up aside) and 93 s against 22.7 s at full scale
#: (4.1 times). Before the councils' administration was rebuilt it was 1.28 (940 s against 733 s over 50 sets).
PAID_FACTOR = 4.2
#: With every family tracked one by one (``population.sample_weight = 1``) against the 1-in-20 sample: the
#: full baseline, 83.7 s against 17.7 s whole process (benchmarks/README.md); between the two, linear in 1 / weight.
EVERY_FAMILY_FACTOR = 4.7
#: A lean replication (no counterfactual, no tables: ``solve``'s trials) against a full one: the full baseline in a
#: warm process, 10.1 s against 15.7 s.
LEAN_SHARE = 0.65


def estimate_seconds(scenario, counterfactual: bool = True) -> float:
    """Estimated seconds one replication of ``scenario`` takes on one core (its counterfactual included, unless
    ``counterfactual`` is false)."""
    p = scenario.params
    t, pop = p.time, p.population
    policy_years = (t.end - t.start).days / 365.25
    # The simulation starts with its pilot (a share of the families) and burn-in; every run forks its counterfactual
    # at the start.
    survey_years = (p.survey.waves - 1) + (t.start - p.survey.last_wave).days / 365.25  # first wave to the start
    pilot = pop.pilot_years * min(max(pop.pilot_share, 1000 / (pop.families_with_children * pop.scale)), 1.0)
    years = pilot + pop.burn_in_years + survey_years + (2 if counterfactual else 1) * policy_years
    seconds = SECONDS_PER_FAMILY_YEAR * AT_RISK_SHARE * pop.families_with_children * pop.scale * years
    if pop.sample_weight < 20:  # fewer families sampled, more tracked one by one: more events
        seconds *= 1 + (EVERY_FAMILY_FACTOR - 1) * (20 / pop.sample_weight - 1) / 19
    return seconds * (PAID_FACTOR if p.finance.enabled else 1.0) + OVERHEAD_SECONDS


def count(n: int, word: str) -> str:
    """'1 replication', '2 replications', '10,000 design points'."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def duration(seconds: float) -> str:
    """'about 40 s', 'about 12 min', 'about 5.5 hours', 'about 3 days'."""
    if seconds < 60:
        return f"about {max(1, round(seconds))} s"
    if seconds < 3600:
        return f"about {round(seconds / 60)} min"
    if seconds < 48 * 3600:
        return f"about {seconds / 3600:.1f} hours"
    return f"about {seconds / 86400:,.0f} days"


@dataclass(frozen=True)
class Plan:
    """What a command is about to run.

    Attributes:
        runs: runs in the plan (a sweep's distinct runs, or replications).
        seconds: estimated seconds per run, on one core.
        jobs: worker processes requested.
        what: how the runs are made up, e.g. "4 design points x 2 replications".
        done: runs a resumable store already holds.
    """

    runs: int
    seconds: float
    jobs: int
    what: str
    done: int = 0

    @property
    def todo(self) -> int:
        return max(self.runs - self.done, 0)

    @property
    def workers(self) -> int:
        return max(1, min(self.jobs, self.todo))

    @property
    def wall_seconds(self) -> float:
        """Estimated wall time: starting up, then the runs to go in rounds of ``workers``."""
        return (STARTUP_SECONDS if self.todo else 0.0) + math.ceil(self.todo / self.workers) * self.seconds

    @property
    def absurd(self) -> bool:
        """More than MAX_RUNS runs, or more than MAX_SECONDS of wall time."""
        return self.runs > MAX_RUNS or self.wall_seconds > MAX_SECONDS

    def describe(self) -> str:
        """One line: 'flowsim: 8 runs (4 design points x 2 replications), about 10 s on 2 workers'."""
        text = f"flowsim: {count(self.runs, 'run')} ({self.what})"
        if self.done:
            text += f"; {count(self.todo, 'run')} to go ({self.done:,} already done)"
        if self.todo:
            text += f", {duration(self.wall_seconds)} on {count(self.workers, 'worker')}"
        return text + ("; more than the limit, so it needs --yes" if self.absurd else "")

    def check(self, yes: bool) -> None:
        """Refuse an absurd plan unless ``yes``.

        Raises:
            FlowsimError: saying the plan's size and time, the rule, and that --yes runs it anyway.
        """
        if self.absurd and not yes:
            raise FlowsimError(
                f"{count(self.runs, 'run')} ({self.what}) would take {duration(self.wall_seconds)} on "
                f"{count(self.workers, 'worker')}: more than {MAX_RUNS:,} runs or {MAX_SECONDS / 3600:.0f} hours is taken "
                "for a mistake; pass --yes to run it anyway"
            )
