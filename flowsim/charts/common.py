"""What every chart shares: the style, the footnote, saving as PNG and SVG.

Charts never touch matplotlib's global state: figures are made without
pyplot (so no backend is chosen or changed), and the style sheet applies
only inside :func:`styled`, so a notebook that imports flowsim keeps its
own backend and rcParams.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from flowsim.files import save_figure

STYLE = Path(__file__).with_name("flowsim.mplstyle")
OKABE_ITO = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]


@contextmanager
def styled() -> Iterator[None]:
    """matplotlib's defaults plus the flowsim style sheet, for the block only."""
    import matplotlib

    with matplotlib.rc_context(fname=str(STYLE)):
        yield


def chart(fn: Callable) -> Callable:
    """Draw the decorated figure function's figure in the flowsim style."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with styled():
            return fn(*args, **kwargs)

    return wrapper


def subplots(nrows: int = 1, ncols: int = 1, **kwargs):
    """``(figure, axes)`` like ``pyplot.subplots``, without pyplot: the figure belongs to no backend."""
    from matplotlib.figure import Figure

    fig_kw = {k: kwargs.pop(k) for k in ("figsize",) if k in kwargs}
    fig = Figure(**fig_kw)
    return fig, fig.subplots(nrows, ncols, **kwargs)


def figure(**kwargs):
    """An empty figure (no pyplot)."""
    from matplotlib.figure import Figure

    return Figure(**kwargs)


@dataclass(frozen=True)
class ChartMeta:
    """Provenance printed under every chart."""

    scenario: str
    scenario_sha256: str
    replications: int
    version: str

    def footnote(self) -> str:
        reps = f"{self.replications} replication{'s' if self.replications != 1 else ''}"
        return f"Source: flowsim {self.version} simulation; scenario '{self.scenario}' (sha256 {self.scenario_sha256[:12]}), {reps}."


def finish(fig, meta: ChartMeta, note: str | None = None) -> None:
    """Add the footnote (and an optional note) at the bottom left of ``fig``."""
    text = meta.footnote() if note is None else f"{note}\n{meta.footnote()}"
    fig.text(0.01, -0.02, text, ha="left", va="top", fontsize=7.5, color="#555555", transform=fig.transFigure)


def save(fig, base: Path) -> list[Path]:
    """Save ``fig`` as ``base``.png and ``base``.svg (atomically, in the flowsim style); return both paths."""
    base.parent.mkdir(parents=True, exist_ok=True)
    paths = [base.with_suffix(".png"), base.with_suffix(".svg")]
    with styled():
        for path in paths:
            save_figure(fig, path)
    return paths


def band(ax, x, frame, column: str, by: str = "replication", colour: str = OKABE_ITO[0], label: str | None = None):
    """Mean line and, with several replications, a 2.5-97.5 percentile band across them."""
    wide = frame.pivot_table(index=x, columns=by, values=column, aggfunc="mean", dropna=False)
    mean = wide.mean(axis=1)
    ax.plot(wide.index, mean, color=colour, label=label)
    if wide.shape[1] > 1:
        ax.fill_between(
            wide.index, wide.quantile(0.025, axis=1), wide.quantile(0.975, axis=1), color=colour, alpha=0.2, linewidth=0
        )
    return mean


def save_png(fig, path: Path, dpi: int | None = None) -> Path:
    """Save ``fig`` as one PNG (atomically, in the flowsim style)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with styled():
        return save_figure(fig, path, **({"dpi": dpi} if dpi else {}))
