"""Ladder states, event causes and programme statuses as small integer codes."""

from __future__ import annotations

G, R, H, S, T, OUT = 0, 1, 2, 3, 4, 5
STATE_NAMES = ("G", "R", "H", "S", "T", "left")
#: Pseudo-state for families arriving from the untracked general population.
OUTSIDE = 6
FLOW_STATE_NAMES = (*STATE_NAMES, "outside")
AT_RISK = (R, H, S)

# Causes of flows between states.
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

# Programme status of a family.
NONE, WAITING, ENROLLED = 0, 1, 2
