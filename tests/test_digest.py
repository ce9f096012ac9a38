"""The same seed gives the same tables and summary: pinned by tests/digests.json.

A change that is meant to alter results regenerates the file deliberately
(``python -m tests.digest --update``) and says why in its commit.
"""

from __future__ import annotations

import json

from .digest import STORED, compute_apart


def test_results_match_the_stored_digests():
    stored = json.loads(STORED.read_text())
    now = compute_apart()
    assert set(now) == set(stored)
    for case, tables in stored.items():
        assert now[case] == tables, f"{case}: results changed; if that is intended, run python -m tests.digest --update"
