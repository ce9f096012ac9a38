"""Calibration targets: what the model must reproduce, each with its sd, discrepancy and source (``calibration/targets.toml``)."""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from pathlib import Path

from flowsim.errors import FlowsimError


class TargetsError(FlowsimError):
    """A targets file that cannot be used."""


def read_toml(path: Path, what: str) -> tuple[str, dict]:
    """A calibration file's text and its TOML, or a TargetsError naming the file (``what`` says what it should be)."""
    try:
        text = path.read_text(encoding="utf-8")
        return text, tomllib.loads(text)
    except FileNotFoundError:
        raise TargetsError(f"{path}: expected an existing {what}, found no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise TargetsError(f"{path}: expected valid TOML, found a syntax error: {exc}") from None


@dataclass(frozen=True)
class Target:
    name: str
    value: float
    sd: float
    source: str
    bound: str = ""  # "lower": the source says "or more" (only a shortfall counts)
    discrepancy: float = 0.0  # how far the model's measure may differ from the source's at the best parameters
    discrepancy_source: str = ""

    def z(self, simulated: float) -> float:
        """How many standard deviations the simulated value is from the target (0 above a lower bound)."""
        z = (simulated - self.value) / self.sd
        return min(z, 0.0) if self.bound == "lower" else z


@dataclass(frozen=True)
class Targets:
    path: str
    targets: tuple[Target, ...]
    scale: float
    seeds: tuple[int, ...]
    iterations: int
    text_sha256: str

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.targets)

    def __getitem__(self, name: str) -> Target:
        return next(t for t in self.targets if t.name == name)


def load_targets(path: str | Path) -> Targets:
    """Read a targets file (``calibration/targets.toml``).

    Raises:
        TargetsError: naming the file and key, for a missing file, bad TOML or a malformed target.
    """
    path = Path(path)
    text, doc = read_toml(path, "targets file")
    targets = []
    optional = {"bound", "discrepancy", "discrepancy_source"}
    for name, t in doc.get("targets", {}).items():
        if not isinstance(t, dict) or not {"value", "sd", "source"} <= set(t) <= {"value", "sd", "source"} | optional:
            raise TargetsError(
                f"{path}, key targets.{name}: expected value, sd, source (and {', '.join(sorted(optional))}), found {t!r}"
            )
        if t.get("bound", "lower") != "lower":
            raise TargetsError(f'{path}, key targets.{name}.bound: expected "lower", found {t["bound"]!r}')
        for key in ("value", "sd", "discrepancy"):
            v = t.get(key, 0.0)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or (key != "value" and v < 0):
                raise TargetsError(f"{path}, key targets.{name}.{key}: expected a number (>= 0 for sd), found {v!r}")
        if t.get("discrepancy", 0) and not t.get("discrepancy_source"):
            raise TargetsError(f"{path}, key targets.{name}: a discrepancy needs its discrepancy_source")
        targets.append(
            Target(
                name,
                float(t["value"]),
                float(t["sd"]),
                str(t["source"]),
                t.get("bound", ""),
                float(t.get("discrepancy", 0.0)),
                str(t.get("discrepancy_source", "")),
            )
        )
    s = doc.get("settings", {})
    return Targets(
        str(path),
        tuple(targets),
        float(s.get("scale", 0.05)),
        tuple(s.get("seeds", [101, 102])),
        int(s.get("iterations", 12)),
        hashlib.sha256(text.encode()).hexdigest(),
    )
