"""What a person reads: the self-contained HTML report, the one-page brief and the terminal's text."""

from __future__ import annotations

import shutil
from pathlib import Path

from flowsim.charts import draw_run_charts
from flowsim.files import claimed, staged_dir
from flowsim.report.brief import write_brief
from flowsim.report.html import write_report
from flowsim.report.index import rebuild_index, write_index
from flowsim.rundir import DOCUMENTS, RunDirectory

__all__ = ["draw_documents", "rebuild_index", "write_brief", "write_documents", "write_index", "write_report"]


def draw_documents(run_dir: Path) -> Path:
    """Draw a run directory's charts and write its ``brief.pdf`` and ``report.html`` in place; return the report's path.

    Raises:
        FlowsimError: if ``run_dir`` is not a complete run directory, or one of its files is not the run's.
    """
    run = RunDirectory(run_dir)
    charts = draw_run_charts(run)
    write_brief(run)
    return write_report(run, charts)


def write_documents(run_dir: Path) -> Path:
    """Redraw a run directory's charts, ``brief.pdf`` and ``report.html``, swapping the directory in whole.

    The run's files are linked into a fresh directory beside it, the documents
    drawn there, and the result swapped in: a redraw killed at any point leaves
    the run with the old documents or the new ones, never a mix.
    Then the ``index.html`` of the folder holding ``run_dir`` is rebuilt (a failure there only warns).

    Raises:
        FlowsimError: if ``run_dir`` is not a complete run directory, or one of its files is not the run's.
        WriteError: if the documents cannot be written (a full disk, say); the run is left as it was.
    """
    RunDirectory(run_dir)  # a clear error before anything is written
    with claimed(run_dir, "report"), staged_dir(run_dir, copy=True) as staging:
        shutil.rmtree(staging / "charts", ignore_errors=True)  # no chart of an older drawing survives
        for name in DOCUMENTS:
            (staging / name).unlink(missing_ok=True)
        draw_documents(staging)
    rebuild_index(run_dir)
    return Path(run_dir) / "report.html"
