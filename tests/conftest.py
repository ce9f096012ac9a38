from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
BASELINE = SCENARIOS / "baseline.toml"
#: The ladder model (v1), kept for comparison until it is removed: the tests of its engine use it.
LADDER = SCENARIOS / "ladder.toml"

#: Overrides that make an engine test fast: 1% of England, a run ending in April 2012.
SMALL = ["population.scale=0.01", "time.end=2012-04-30", "time.deadline=2012-04-30"]


@pytest.fixture
def write(tmp_path: Path):
    """Write a scenario file into a temporary directory and return its path."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return _write
