"""Calibration targets: what the baseline must reproduce, each with its tolerance and source (``calibration/targets.toml``)."""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from pathlib import Path

from flowsim.errors import FlowsimError
from flowsim.measures import CALIBRATION, used_in


class TargetsError(FlowsimError):
    """A targets file that cannot be used."""


@dataclass(frozen=True)
class Target:
    name: str
    value: float
    tolerance: float
    source: str


@dataclass(frozen=True)
class Targets:
    path: str
    targets: tuple[Target, ...]
    scale: float
    seeds: tuple[int, ...]
    max_evaluations: int
    text_sha256: str


def read_toml(path: Path, what: str) -> tuple[str, dict]:
    """A calibration file's text and its TOML, or a TargetsError naming the file (``what`` says what it should be)."""
    try:
        text = path.read_text(encoding="utf-8")
        return text, tomllib.loads(text)
    except FileNotFoundError:
        raise TargetsError(f"{path}: expected an existing {what}, found no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise TargetsError(f"{path}: expected valid TOML, found a syntax error: {exc}") from None


#: The measures a target can name (the catalogue's calibration measures).
KNOWN_MEASURES = tuple(m.column for m in used_in(CALIBRATION))


def load_targets(path: str | Path) -> Targets:
    """Read a targets file.

    Raises:
        TargetsError: naming the file and key, for a missing file, bad TOML,
            an unknown measure, or a value, tolerance or setting of the wrong kind.
    """
    path = Path(path)
    text, doc = read_toml(path, "targets file")
    settings = doc.get("settings", {})
    unknown = set(doc) - {"settings", "targets"} | set(settings) - {"scale", "seeds", "max_evaluations"}
    if unknown:
        raise TargetsError(f"{path}: unknown key(s) {sorted(unknown)}; expected [settings] and [targets.<measure>]")
    targets = []
    for name, t in doc.get("targets", {}).items():
        if name not in KNOWN_MEASURES:
            raise TargetsError(
                f"{path}, key targets.{name}: expected one of {', '.join(KNOWN_MEASURES)}, found {name!r}"
            )
        if not isinstance(t, dict) or set(t) != {"value", "tolerance", "source"}:
            raise TargetsError(f"{path}, key targets.{name}: expected value, tolerance and source, found {t!r}")
        if not all(isinstance(t[k], (int, float)) and not isinstance(t[k], bool) for k in ("value", "tolerance")):
            raise TargetsError(f"{path}, key targets.{name}: expected numbers for value and tolerance")
        if t["tolerance"] <= 0:
            raise TargetsError(f"{path}, key targets.{name}.tolerance: expected a number > 0, found {t['tolerance']!r}")
        targets.append(Target(name, float(t["value"]), float(t["tolerance"]), str(t["source"])))
    if not targets:
        raise TargetsError(f"{path}: expected at least one [targets.<measure>] table")
    seeds = settings.get("seeds", [101, 102])
    scale = settings.get("scale", 0.05)
    if not (isinstance(seeds, list) and seeds and all(isinstance(s, int) for s in seeds)):
        raise TargetsError(f"{path}, key settings.seeds: expected a list of integers, found {seeds!r}")
    if not (isinstance(scale, (int, float)) and 0 < scale <= 1):
        raise TargetsError(f"{path}, key settings.scale: expected a number in (0, 1], found {scale!r}")
    return Targets(
        str(path),
        tuple(targets),
        float(scale),
        tuple(seeds),
        int(settings.get("max_evaluations", 400)),
        hashlib.sha256(text.encode()).hexdigest(),
    )
