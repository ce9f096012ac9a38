"""Every small integer code the engine writes or the kernel is compiled with, and the names tables give them.

Classifications of a family (its state code), programme statuses and event
kinds, outcome-domain bits, results-claim routes, trigger kinds, target
populations and the purposes of counter-based random draws. This is their
one home: the compiled kernel reads them from here, and
``flowsim.engine.compile`` recompiles it when this file changes. Pure
Python: reading a run's tables needs this module and nothing compiled.
"""

from __future__ import annotations

# --- a family's state: the classification it is in (a query over its problems) --------------------
# G not at risk, R at risk (no child problem, not in the flow group), H the flow group, S the stock.
# Code 4 is kept free so that the tables' layout stays that of every earlier run.
G, R, H, S, T, OUT = 0, 1, 2, 3, 4, 5
STATE_NAMES = ("G", "R", "H", "S", "T", "left")
#: Pseudo-state for families arriving from outside the model (new families).
OUTSIDE = 6
FLOW_STATE_NAMES = (*STATE_NAMES, "outside")

# --- programmes ---------------------------------------------------------------------------------
# A family's status in a programme.
NONE, WAITING, ENROLLED = 0, 1, 2
# Programme events.
REFERRED, DECLINED, STARTED, COMPLETED, DROPPED_OUT, SUCCEEDED, LEFT_MODEL, WITHDREW = range(8)
PROGRAMME_EVENT_NAMES = (
    "referred",
    "declined",
    "started",
    "completed",
    "dropped out",
    "turned around",
    "left model",
    "withdrew",
)

# --- outcome domains and results claims (the 2012 financial framework) ----------------------------
#: Bits of the framework's three problems (crime/ASB, education, worklessness).
CRIME, EDUCATION, WORKLESS = 1, 2, 4
#: Results-claim routes (bits of a family's claimed flags).
CLAIM_CRIME_EDUCATION, CLAIM_EMPLOYMENT, CLAIM_PROGRESS = 1, 2, 4

# --- trigger events and target populations -----------------------------------------------------------
# Trigger kinds (columns of the trigger tables, in the order of registry_problems.EVENT_NAMES). Job loss has no
# clock of its own: it is the onset of worklessness, and its profile applies then.
SEPARATION, REPARTNERING, BIRTH, EVICTION, CRISIS, JOB_LOSS = range(6)
N_TRIGGERS = 6
# Target populations (``target.population``, in the order of spec.TARGETS).
TARGET_STOCK, TARGET_AT_RISK, TARGET_FLOW_GROUP, TARGET_TROUBLED, TARGET_MULTIPLY_DISADVANTAGED = range(5)
#: Classifications counted at every observation.
N_CLASSES = 5

# --- random numbers ------------------------------------------------------------------------------
# Purposes of counter-based per-family draws (engine.crn; counters in the store's ``draws``): family-level first,
# then programme i's at FIRST_PROGRAMME + PER_PROGRAMME * i + (DRAW_ACCEPT, DRAW_LENGTH, DRAW_DROPOUT).
DRAW_CLOCK, DRAW_EVENT, DRAW_DURATION, DRAW_LINK, DRAW_PROFILE, DRAW_ROULETTE = range(6)
DRAW_ACCEPT, DRAW_LENGTH, DRAW_DROPOUT = range(3)
FIRST_PROGRAMME, PER_PROGRAMME = 6, 3

#: Batch numbers of monthly streams are the model month times this, so they never collide.
BATCHES_PER_MONTH = 1000


def month_batch(t0_years: float, t_start_years: float) -> int:
    """The batch number of the month starting at ``t0_years`` (months counted from the simulation's start)."""
    return int(round((t0_years - t_start_years) * (12 * BATCHES_PER_MONTH)))
