"""Every small integer code the engine writes, and the names tables give them.

Ladder states, causes of flows, programme statuses and programme event
kinds, outcome-domain bits, results-claim routes, and the purposes and
streams of random draws. Pure Python: reading a run's tables needs this
module and nothing compiled.
"""

from __future__ import annotations

# --- ladder states ---------------------------------------------------------------------------
G, R, H, S, T, OUT = 0, 1, 2, 3, 4, 5
STATE_NAMES = ("G", "R", "H", "S", "T", "left")
#: Pseudo-state for families arriving from the untracked general population.
OUTSIDE = 6
FLOW_STATE_NAMES = (*STATE_NAMES, "outside")

# --- causes of flows between states -------------------------------------------------------------
(
    ENTRY,
    TRIGGER,
    ESCALATION,
    RESOLUTION,
    DEESCALATION,
    TURNED_AROUND,
    RELAPSE,
    SUSTAINED,
    AGED_OUT,
    OTHER_EXIT,
    FORMED,
) = range(11)
CAUSE_NAMES = (
    "entry",
    "trigger",
    "escalation",
    "resolution",
    "de-escalation",
    "turned around",
    "relapse",
    "sustained",
    "aged out",
    "other exit",
    "new family",  # universe "all": a family formed, in place of one that left
)

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
#: Bits of a family's problem flags, in the order of ``registry.DOMAINS`` (crime_asb, education, workless).
CRIME, EDUCATION, WORKLESS = 1, 2, 4
#: Results-claim routes (bits of a family's claimed flags).
CLAIM_CRIME_EDUCATION, CLAIM_EMPLOYMENT, CLAIM_PROGRESS = 1, 2, 4

# --- random numbers ------------------------------------------------------------------------------
# Purposes of counter-based per-family draws (engine.crn). Programme i's purposes are
# FIRST_PROGRAMME + PER_PROGRAMME * i + (DRAW_ACCEPT ... DRAW_EFFECT).
DRAW_CLOCK, DRAW_EVENT, DRAW_TRIGGER, DRAW_SPELL, DRAW_EXIT, DRAW_DOMAIN = range(6)
DRAW_ACCEPT, DRAW_DURATION, DRAW_DROPOUT, DRAW_SUCCESS, DRAW_EFFECT = range(5)
FIRST_PROGRAMME, PER_PROGRAMME = 6, 5

# Kinds of family key (engine.crn.family_keys): the first argument after the seed.
KEYS_INITIAL, KEYS_ARRIVAL = 0, 1
# numpy streams seeded per month: [seed low, seed high, month batch, (pass, REPLACEMENTS)].
STREAM_REPLACEMENTS = 2
#: Batch numbers of monthly streams are the model month times this, so they never collide.
BATCHES_PER_MONTH = 1000


def month_batch(t0_years: float, t_start_years: float) -> int:
    """The batch number of the month starting at ``t0_years`` (months counted from the survey's start)."""
    return int(round((t0_years - t_start_years) * (12 * BATCHES_PER_MONTH)))
