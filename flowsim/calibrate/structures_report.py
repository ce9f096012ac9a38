"""Every shipped structure's ensemble in one table, kept in each structure's calibration report.

``calibration/structures.toml`` lists the structures an answer is pooled over; each has its own ensemble beside its
fitted file (``ensemble.json``). A report on one structure's calibration states every structure's ensemble (how it
was drawn, its members, its effective sample size and chains' R-hat, its weight in the pool), so that drawing one
ensemble again restates the table in every report: :func:`refresh` runs at the end of every ``--method
history-matching`` and ``--method posterior`` calibration, and ``python -m flowsim.calibrate.structures_report``
runs it alone.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from flowsim import structures
from flowsim.errors import FlowsimError
from flowsim.files import atomic_write

SECTION = "## Every structure's ensemble"


def rows(path: Path, shipped: list | None = None) -> list[str]:
    """The section for the structures listed in ``path`` (``shipped``, if already loaded from it): a sentence and
    one table row a structure."""
    shipped = structures.load(path) if shipped is None else shipped
    meta_paths = {s.name: Path(s.fitted).parent / "ensemble.json" for s in shipped}
    total = sum(s.weight for s in shipped if meta_paths[s.name].is_file())
    lines = [
        SECTION,
        "",
        f"`flowsim run`, `compare` and `solve` with `--ensemble N` answer under each structure in `{_shown(path)}` "
        "over its own ensemble and pool them by their weights (normalised over the structures with an ensemble). "
        "A posterior's members each pass the joint criterion and carry importance weights (effective sample size "
        "by Kish); history matching's are equally weighted. R-hat is the largest rank-normalised split R-hat over "
        "the last batch's chains.",
        "",
        "| structure | what sets it apart | method | run | runs | members | effective sample size | largest R-hat "
        "(parameter) | weight in the pool |",
        "|---|---|---|---|---:|---:|---:|---|---:|",
    ]
    for s in shipped:
        meta_path = meta_paths[s.name]
        if not meta_path.is_file():
            lines.append(f"| {s.name} | {s.label} | no ensemble yet | – | – | – | – | – | – |")
            continue
        share = f"{s.weight / total:.0%}"
        meta = json.loads(meta_path.read_text())
        method = meta["method"].split(":")[0]
        ess, rhat = "– (equal weights)", "–"
        if method == "posterior":
            last = meta["batches"][-1]
            ess = f"{meta['effective_sample_size']:.0f}"
            rhat = f"{last['rhat']:.3f} (`{last['rhat_key']}`)"
        lines.append(
            f"| {s.name} | {s.label} | {method} | `{meta['run_id']}` | {meta['runs']:,} | {meta['members']:,} | "
            f"{ess} | {rhat} | {share} |"
        )
    return lines + [""]


def _shown(path: Path) -> str:
    """The structures file as its project names it (``calibration/structures.toml``), from wherever this runs."""
    full = Path(path).resolve()
    return str(full.relative_to(full.parents[1]))


def section_of(text: str) -> str:
    """The section as it stands in a report's ``text`` ('' if none)."""
    _, found, rest = text.partition(SECTION)
    if not found:
        return ""
    nxt = rest.find("\n## ")
    return found + (rest[:nxt] if nxt >= 0 else rest)


def refresh(path: Path, shipped: list | None = None) -> list[Path]:
    """Write the section into the report beside each fitted file listed in ``path`` (``shipped``, if already loaded
    from it), replacing it in place or appending it; return the reports written. A structure with no report yet
    gets none."""
    shipped = structures.load(path) if shipped is None else shipped
    section = "\n".join(rows(path, shipped))
    written = []
    for s in shipped:
        report = Path(os.path.normpath(Path(s.fitted).parent / "report.md"))
        if not report.is_file():
            continue
        text = report.read_text()
        old = section_of(text)
        new = text.replace(old, section.rstrip("\n") + "\n") if old else text.rstrip("\n") + "\n\n" + section
        if new != text:
            atomic_write(report, new)
        written.append(report)
    return written


def refresh_for(scenario, out_dir: Path) -> str | None:
    """After a calibration into ``out_dir``: :func:`refresh` for the project ``scenario`` belongs to, when
    ``out_dir`` holds one of its listed structures' fits (a scratch calibration elsewhere touches no report).

    Never raises: the calibration is written by then. Returns a line saying why the table was not restated, if
    it was not (None when it was, or had nothing to do)."""
    try:
        path = structures.find(scenario)
        if path is None:
            return None
        shipped = structures.load(path)
        folders = {Path(os.path.normpath(Path(s.fitted).parent)).resolve() for s in shipped}
        if Path(out_dir).resolve() not in folders:
            return None
        refresh(path, shipped)
    except (FlowsimError, OSError, KeyError, ValueError, json.JSONDecodeError) as exc:
        return f"the table of every structure's ensemble in the reports was not restated: {exc}"
    return None


if __name__ == "__main__":
    where = Path(sys.argv[1]) if len(sys.argv) > 1 else structures.PATH
    for report in refresh(where):
        print(report)
