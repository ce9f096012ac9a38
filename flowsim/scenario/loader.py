"""Read a scenario file: TOML, ``extends`` inheritance, ``--set`` overrides, validation.

Every failure a user can cause becomes a :class:`ScenarioError` naming the
file, the line, the dotted key, what was expected and what was found.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from flowsim.errors import ScenarioError
from flowsim.scenario.models import parameters_model, valid_children
from flowsim.scenario.registry import META_KEYS, PARAMETERS, Param

_KEY_PART = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class Scenario:
    """A validated scenario: its parameters and where each value came from.

    Attributes:
        name: the scenario's name (its ``name`` key, or the file's stem).
        params: the validated parameter model (``params.programmes.key_worker.caseload``).
        origins: dotted parameter path -> the file (or ``--set``) that set it;
            parameters left at their registry default are absent.
        overrides: the ``--set`` arguments applied, in order.
    """

    name: str
    description: str
    params: BaseModel
    origins: dict[str, str] = field(default_factory=dict)
    overrides: tuple[str, ...] = ()
    path: str | None = None
    #: (file, text) of the calibration run that set the parameters in that file, if any.
    calibrated_by: tuple[str, str] | None = None

    def resolved(self) -> dict[str, Any]:
        """The resolved scenario as JSON-ready data (dates as ISO strings)."""
        return {"name": self.name, "description": self.description, **self.params.model_dump(mode="json")}

    @property
    def sha256(self) -> str:
        """SHA-256 of the resolved scenario's canonical JSON."""
        text = json.dumps(self.resolved(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


def load_scenario(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Scenario:
    """Load, merge and validate a scenario file.

    Args:
        path: the TOML scenario file.
        overrides: ``KEY=VALUE`` strings; VALUE is a TOML literal (``7``, ``0.5``,
            ``"text"``, ``2012-04-01``, ``[[2011-04-01, 500]]``).

    Raises:
        ScenarioError: for malformed TOML, a missing or cyclic parent, an
            unknown key, a wrong type, a value out of range or a bad override.
    """
    path = Path(path)
    doc, origins, lines = _read_chain(path, ())
    for text in overrides:
        key, value = parse_override(text)
        _set_dotted(doc, key, value, where=f"--set {text}")
        origins[key] = f"--set {text}"
        lines[(f"--set {text}", key)] = None
    meta = {k: doc.pop(k) for k in list(doc) if k in META_KEYS}
    for key in ("name", "description", "calibrated_by"):
        if key in meta and not isinstance(meta[key], str):
            file, line = _locate(key, origins, lines)
            raise ScenarioError(f"expected a string, found {meta[key]!r}", file=file, line=line, key=key)
    try:
        params = parameters_model().model_validate(doc)
    except ValidationError as exc:
        raise _to_scenario_error(exc, origins, lines) from None
    _check_consistency(params, origins, lines)
    leaf_origins = {p: origins[o] for p in PARAMETERS if (o := _origin_key(p, origins))}
    return Scenario(
        name=meta.get("name", path.stem),
        description=meta.get("description", ""),
        params=params,
        origins=leaf_origins,
        overrides=tuple(overrides),
        path=str(path),
        calibrated_by=(origins["calibrated_by"], meta["calibrated_by"]) if "calibrated_by" in meta else None,
    )


def parse_override(text: str) -> tuple[str, Any]:
    """Split ``KEY=VALUE`` and parse VALUE as a TOML literal.

    Raises:
        ScenarioError: if there is no ``=``, the key is not dotted words, or
            the value is not a TOML literal.
    """
    where = f"--set {text}"
    if "=" not in text:
        raise ScenarioError(f"expected KEY=VALUE, found {text!r}", file=where)
    key, _, raw = text.partition("=")
    key = key.strip()
    if not key or not all(_KEY_PART.match(part) for part in key.split(".")):
        raise ScenarioError(f"expected a dotted key such as programmes.key_worker.caseload, found {key!r}", file=where)
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        raise ScenarioError(
            f'expected a TOML literal such as 7, 0.5, true, "text", 2012-04-01 or [[2011-04-01, 500]], found {raw!r}',
            file=where,
            key=key,
        ) from None
    return key, value


def _read_chain(path: Path, chain: tuple[Path, ...]) -> tuple[dict, dict[str, str], dict]:
    """Read ``path`` and its ``extends`` parents; return merged doc, origins and key lines."""
    resolved = path.resolve()
    if resolved in chain:
        cycle = " -> ".join(str(p) for p in (*chain, resolved))
        raise ScenarioError(f"expected no cycle in 'extends', found {cycle}", file=str(path), key="extends")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError("expected an existing scenario file, found no such file", file=str(path)) from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise ScenarioError(
            f"expected a readable UTF-8 TOML file, found {exc.__class__.__name__}", file=str(path)
        ) from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"at line (\d+)", str(exc))
        line = int(match.group(1)) if match else None
        msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise ScenarioError(f"expected valid TOML, found a syntax error: {msg}", file=str(path), line=line) from None
    key_lines = {(str(path), k): n for k, n in _key_lines(text).items()}
    here = _flatten_origins(doc, str(path))
    parent = doc.pop("extends", None)
    if parent is None:
        return doc, here, key_lines
    if not isinstance(parent, str):
        raise ScenarioError(
            f"expected a file name string, found {parent!r}",
            file=str(path),
            line=key_lines.get((str(path), "extends")),
            key="extends",
        )
    parent_path = path.parent / parent
    if not parent_path.is_file():
        raise ScenarioError(
            f"expected an existing parent file, found no file at {parent_path}",
            file=str(path),
            line=key_lines.get((str(path), "extends")),
            key="extends",
        )
    base, origins, base_lines = _read_chain(parent_path, (*chain, resolved))
    _deep_merge(base, doc)
    origins.update(here)
    base_lines.update(key_lines)
    return base, origins, base_lines


def _deep_merge(base: dict, child: dict) -> None:
    """Merge ``child`` into ``base``: tables merge, everything else (arrays too) is replaced."""
    for key, value in child.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _deep_merge(base[key], value)
        else:
            base[key] = value


def _flatten_origins(doc: dict, file: str, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in doc.items():
        dotted = f"{prefix}{key}"
        out[dotted] = file
        if isinstance(value, dict):
            out.update(_flatten_origins(value, file, dotted + "."))
    return out


def _set_dotted(doc: dict, key: str, value: Any, where: str) -> None:
    node = doc
    parts = key.split(".")
    for i, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            prefix = ".".join(parts[: i + 1])
            raise ScenarioError(f"expected {prefix} to be a table, found {child!r}", file=where, key=key)
        node = child
    node[parts[-1]] = value


_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_ASSIGN = re.compile(r"^\s*([A-Za-z0-9_.\-\"' ]+?)\s*=")


def _key_lines(text: str) -> dict[str, int]:
    """Map each dotted key (and table header) in a TOML text to its 1-based line."""
    out: dict[str, int] = {}
    table = ""
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            parts = [p.strip().strip("\"'") for p in header.group(1).split(".")]
            table = ".".join(parts)
            for n in range(1, len(parts) + 1):
                out.setdefault(".".join(parts[:n]), number)
            continue
        assign = _ASSIGN.match(line)
        if assign:
            key = ".".join(p.strip().strip("\"'") for p in assign.group(1).split("."))
            out.setdefault(f"{table}.{key}" if table else key, number)
    return out


def _origin_key(dotted: str, origins: dict[str, str]) -> str | None:
    parts = dotted.split(".")
    for n in range(len(parts), 0, -1):
        candidate = ".".join(parts[:n])
        if candidate in origins:
            return candidate
    return None


def _locate(dotted: str, origins: dict[str, str], lines: dict) -> tuple[str | None, int | None]:
    """The file and line that set ``dotted`` (or its nearest enclosing table)."""
    okey = _origin_key(dotted, origins)
    if okey is None:
        return None, None
    file = origins[okey]
    parts = okey.split(".")
    for n in range(len(parts), 0, -1):
        line = lines.get((file, ".".join(parts[:n])))
        if line is not None:
            return file, line
    return file, None


def _expected(p: Param) -> str:
    d = p.default
    if p.is_schedule:
        rng = f" with values between {p.lo:g} and {p.hi:g}" if p.hi is not None else f" with values >= {p.lo:g}"
        return f"a list of [date, number] pairs in date order{rng} ({p.unit})"
    if isinstance(d, bool):
        return "true or false"
    if isinstance(d, (int, float)):
        kind = "an integer" if isinstance(d, int) else "a number"
        if p.lo is not None and p.hi is not None:
            return f"{kind} between {p.lo:g} and {p.hi:g} ({p.unit})"
        return f"{kind} ({p.unit})"
    if isinstance(d, dt.date):
        return "a date such as 2012-04-01"
    if isinstance(d, list):
        return f"a list of names from {list(p.choices or ())}"
    if p.choices:
        return "one of " + ", ".join(repr(c) for c in p.choices)
    return "a string"


def _to_scenario_error(exc: ValidationError, origins: dict[str, str], lines: dict) -> ScenarioError:
    err = exc.errors(include_url=False)[0]
    loc = [str(part) for part in err["loc"] if not isinstance(part, int)]
    dotted = ".".join(loc)
    file, line = _locate(dotted, origins, lines)
    if err["type"] == "extra_forbidden":
        parent = tuple(loc[:-1])
        options = valid_children(parent) + ([*META_KEYS] if not parent else [])
        close = difflib.get_close_matches(loc[-1], options, n=1, cutoff=0.5)
        hint = f"; did you mean {'.'.join((*parent, close[0]))!r}?" if close else ""
        valid = ", ".join(options)
        return ScenarioError(
            f"unknown key{hint} (expected one of: {valid}), found {loc[-1]!r}", file=file, line=line, key=dotted
        )
    param = PARAMETERS.get(dotted)
    if param is not None:
        expected = _expected(param)
    elif valid_children(tuple(loc)):
        expected = "a table of settings"
    else:
        expected = err["msg"]
    detail = err["msg"].removeprefix("Value error, ")
    found = err.get("input")
    return ScenarioError(f"expected {expected}, found {found!r} ({detail})", file=file, line=line, key=dotted)


def _check_consistency(params: Any, origins: dict[str, str], lines: dict) -> None:
    """Rules that involve two parameters at once."""
    t, pop = params.time, params.population
    rules = [
        ("time.end", t.end > t.start, f"a date after time.start ({t.start})", t.end),
        (
            "time.deadline",
            t.start < t.deadline <= t.end,
            f"a date after time.start and no later than time.end ({t.end})",
            t.deadline,
        ),
        (
            "population.initial_at_risk",
            pop.initial_stock + pop.initial_flow_group <= pop.initial_at_risk,
            f"at least initial_stock + initial_flow_group ({pop.initial_stock + pop.initial_flow_group:,})",
            pop.initial_at_risk,
        ),
        (
            "population.families_with_children",
            pop.families_with_children >= pop.initial_at_risk,
            f"at least initial_at_risk ({pop.initial_at_risk:,})",
            pop.families_with_children,
        ),
    ]
    for key, ok, expected, found in rules:
        if not ok:
            file, line = _locate(key, origins, lines)
            raise ScenarioError(f"expected {expected}, found {found!r}", file=file, line=line, key=key)
