"""Read a scenario file: TOML, ``extends`` inheritance, ``--set`` overrides, validation.

Every failure a user can cause becomes a :class:`ScenarioError` naming the
file, the line, the dotted key, what was expected and what was found.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowsim.errors import ScenarioError
from flowsim.scenario.models import show_value
from flowsim.scenario.registry import META_KEYS, PARAMETERS
from flowsim.scenario.scenario import (
    Scenario,
    param_value,
    set_dotted,
    set_keys,
    switch_of,
    switched_on,
    validate,
)

_KEY_PART = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class _Layer:
    """One place values came from: a scenario file or one override, with every dotted key it sets."""

    origin: str  # the file, or "--set KEY=VALUE"
    keys: frozenset[str]  # tables and values alike
    lines: dict[str, int] = field(default_factory=dict)  # dotted key -> line, for files

    def line(self, dotted: str) -> int | None:
        """The line that sets ``dotted``: its own, or that of the inline table or array it sits in."""
        parts = dotted.split(".")
        for n in range(len(parts), 0, -1):
            if (line := self.lines.get(".".join(parts[:n]))) is not None:
                return line
        return None


def load_scenario(
    path: str | Path, overrides: list[str] | tuple[str, ...] = (), overrides_from: str = "--set"
) -> Scenario:
    """Load, merge and validate a scenario file.

    Args:
        path: the TOML scenario file.
        overrides: ``KEY=VALUE`` strings; VALUE is a TOML literal (``7``, ``0.5``,
            ``"text"``, ``2012-04-01``, ``[[2011-04-01, 500]]``).
        overrides_from: how errors and the assumption log name an override, before
            its text (``--set``, or a sweep file's ``set`` key).

    Raises:
        ScenarioError: for malformed TOML, a missing or cyclic parent, an
            unknown key, a wrong type, a value out of range or a bad override.
    """
    path = Path(path)
    doc, layers = _read_chain(path, ())
    for text in overrides:
        shown = text.replace("\n", "\\n").replace("\r", "\\r")  # on one line, as a message must be
        where = f"{overrides_from} {shown}"
        key, value = parse_override(text, where)
        if key.split(".")[0] == "extends":
            raise ScenarioError(
                "expected extends in a scenario file (files are read before any override), found an override of it",
                file=where,
                key="extends",
            )
        set_dotted(doc, key, value, where=where)
        layers.append(_Layer(where, frozenset(_flatten_keys(value, key))))
    meta = {k: doc.pop(k) for k in list(doc) if k in META_KEYS}

    def locate(dotted: str) -> tuple[str | None, int | None]:
        return _locate(dotted, layers)

    for key in ("name", "description", "calibrated_by"):
        if key in meta and not isinstance(meta[key], str):
            file, line = locate(key)
            raise ScenarioError(f"expected a string, found {show_value(meta[key])}", file=file, line=line, key=key)
    params = validate(doc, locate)
    _check_live(params, doc, layers)
    origins, lines = _provenance(doc, layers)
    return Scenario(
        name=meta.get("name", path.stem),
        description=meta.get("description", ""),
        params=params,
        origins=origins,
        overrides=tuple(overrides),
        path=str(path),
        calibrated_by=(locate("calibrated_by")[0] or "", meta["calibrated_by"]) if "calibrated_by" in meta else None,
        lines=lines,
    )


def parse_override(text: str, where: str | None = None) -> tuple[str, Any]:
    """Split ``KEY=VALUE`` and parse VALUE as a TOML literal.

    Args:
        where: how errors name the override [default: ``--set KEY=VALUE``].

    Raises:
        ScenarioError: if there is no ``=``, the key is not dotted words, or
            the value is not a TOML literal.
    """
    where = where or f"--set {text}"
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


def _read_chain(path: Path, chain: tuple[Path, ...]) -> tuple[dict, list[_Layer]]:
    """Read ``path`` and its ``extends`` parents; return the merged doc and the files as layers, the root first."""
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
    lines = key_lines(text)
    here = _Layer(str(path), frozenset(_flatten_keys(doc)), lines)
    parent = doc.pop("extends", None)
    if parent is None:
        return doc, [here]
    if not isinstance(parent, str):
        raise ScenarioError(
            f"expected a file name string, found {parent!r}",
            file=str(path),
            line=lines.get("extends"),
            key="extends",
        )
    parent_path = path.parent / parent
    if not parent_path.is_file():
        raise ScenarioError(
            f"expected an existing parent file, found no file at {parent_path}",
            file=str(path),
            line=lines.get("extends"),
            key="extends",
        )
    base, layers = _read_chain(parent_path, (*chain, resolved))
    _deep_merge(base, doc)
    return base, [*layers, here]


def _deep_merge(base: dict, child: dict) -> None:
    """Merge ``child`` into ``base``: tables merge, everything else (arrays too) is replaced."""
    for key, value in child.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _deep_merge(base[key], value)
        else:
            base[key] = value


def _flatten_keys(value: Any, prefix: str = "") -> list[str]:
    """Every dotted key a TOML value sets under ``prefix``: the prefix itself (if any), tables and values alike."""
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            out += _flatten_keys(child, f"{prefix}.{key}" if prefix else str(key))
    return out


_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_ASSIGN = re.compile(r"^\s*([A-Za-z0-9_.\-\"' ]+?)\s*=")


def key_lines(text: str) -> dict[str, int]:
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


def _present(doc: dict, dotted: str) -> bool:
    node: Any = doc
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _provenance(doc: dict, layers: list[_Layer]) -> tuple[dict[str, str], dict[str, int]]:
    """Which layer set each parameter, and on which line: only a layer that sets that exact key.

    The last layer to set a key is the one whose value stands: files are
    merged child over parent and overrides come last, and a key a later
    layer replaced by setting its whole table is no longer in the document.
    A parameter no layer sets is a registry default, credited to nobody.
    """
    origins: dict[str, str] = {}
    lines: dict[str, int] = {}
    for key in PARAMETERS:
        if not _present(doc, key):
            continue
        owner = next((layer for layer in reversed(layers) if key in layer.keys), None)
        if owner is not None:
            origins[key] = owner.origin
            if (line := owner.line(key)) is not None:
                lines[key] = line
    return origins, lines


#: Payment-by-results keys the councils' own rules replace when ``programme_2012.enabled`` (what to set instead).
SUPERSEDED_BY_2012 = {
    "finance.evidence_years": "programme_2012.evidence.crime_asb_years or programme_2012.evidence.education_years",
    "finance.employment_weeks": "programme_2012.rules.employment_weeks_jsa or programme_2012.rules.employment_weeks_other",
    "finance.min_problems": "the framework's definition, which the councils apply (classification.local_criteria)",
}


def _check_live(params, doc: dict, layers: list[_Layer]) -> None:
    """Refuse a key set with its switch off (:func:`~flowsim.scenario.scenario.switch_of`): the model would accept
    it and ignore it. A key a parent file set before a later file switched its section off is that later file's
    choice (``no_early_intervention.toml`` switches off programmes the baseline sizes), not a key ignored.

    Raises:
        ScenarioError: naming the key, the file and line (or override) that set it, and the switch.
    """

    def last(dotted: str) -> int:
        return next((i for i in range(len(layers) - 1, -1, -1) if dotted in layers[i].keys), -1)

    for key in set_keys(doc):
        instead = SUPERSEDED_BY_2012.get(key)
        off = [s for s in switch_of(key) if not switched_on(params, s) and last(key) >= last(s)]
        if key.startswith("programmes.key_worker.resolution_hr.") and _sharing(params):
            off = []  # a lead worker running takes its share of the key worker's effects
        if instead is not None and params.programme_2012.enabled:
            why = (
                f"expected no {key} while programme_2012.enabled = true: the councils' rules replace it and the model "
                f"would ignore it; set {instead} instead"
            )
        elif off:
            on, found = _switch_words(params, off[0])
            why = (
                f"expected {off[0]} {on} for this key to act, found {found}: the model would ignore {key}; "
                f"set {off[0]} {on}, or remove the key"
            )
        else:
            continue
        file, line = _locate(key, layers)
        raise ScenarioError(why, file=file, line=line, key=key)


def _switch_words(params, switch: str) -> tuple[str, str]:
    """How to say a switch is on, and what it is: '= true' and 'it false' for a flag; 'above 0' and '0' for a
    number that switches a key on (population.pilot_years)."""
    value = param_value(params, switch)
    if isinstance(value, bool):
        return "= true", "it false"
    return "above 0", f"{value:g}"


def _sharing(params) -> bool:
    """Whether a programme that runs takes a share of the key worker's effects (a lead worker)."""
    return any(p.enabled and getattr(p, "key_worker_effect_share", 0.0) for _, p in params.programmes)


def _locate(dotted: str, layers: list[_Layer]) -> tuple[str | None, int | None]:
    """The file (or override) and line to blame for a problem at ``dotted``.

    The last layer that sets ``dotted`` or anything under it: an unknown
    table is blamed on whoever wrote keys into it, and a value turned into a
    table by ``--set a.b.c=1`` on that ``--set``. No layer: a default, blamed on nobody.
    """
    below = dotted + "."
    for layer in reversed(layers):
        if dotted in layer.keys or any(k.startswith(below) for k in layer.keys):
            return layer.origin, layer.line(dotted)
    return None, None
