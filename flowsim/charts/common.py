"""What every chart shares: the style, the footnote, saving as PNG and SVG.

Charts never touch matplotlib's global state: figures are made without
pyplot (so no backend is chosen or changed), and the style sheet applies
only inside :func:`styled`, so a notebook that imports flowsim keeps its
own backend and rcParams.
"""

from __future__ import annotations

import functools
import math
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
    import matplotlib  # import time: matplotlib loads only when drawing

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
    from matplotlib.figure import Figure  # import time: matplotlib loads only when drawing

    fig_kw = {k: kwargs.pop(k) for k in ("figsize",) if k in kwargs}
    fig = Figure(**fig_kw)
    return fig, fig.subplots(nrows, ncols, **kwargs)


def figure(**kwargs):
    """An empty figure (no pyplot)."""
    from matplotlib.figure import Figure  # import time: matplotlib loads only when drawing

    return Figure(**kwargs)


def size_of(scale: float) -> str:
    """The simulated population's size against England's: "5% of England's size", "2 times England's size"."""
    if scale > 1:
        return f"{scale:g} times England's size"
    return f"{scale * 100:.3g}% of England's size"


def scale_note(scale: float, counts: str | None = None) -> str:
    """Below (or above) full scale, a sentence saying so and what the counts are (``counts``: unless the counts of
    families are for the simulated population); "" at full scale."""
    if scale == 1:
        return ""
    if counts is None:
        counts = (
            "counts of families are for that imaginary larger country"
            if scale > 1
            else "counts of families are for that share of England, not all of it"
        )
    return f"Simulated at {size_of(scale)} (population.scale {scale:g}): {counts}."


@dataclass(frozen=True)
class ChartMeta:
    """Provenance printed under every chart: the scenario, the replications and, below full scale, the scale."""

    scenario: str
    scenario_sha256: str
    replications: int
    version: str
    #: The population scale the chart's runs simulated (``population.scale``); said in the footnote unless 1.
    scale: float = 1.0

    def scaled(self) -> str:
        """The scale and what the counts are, below (or above) full scale; "" at full scale."""
        return scale_note(self.scale)

    def source(self) -> str:
        reps = f"{self.replications} replication{'s' if self.replications != 1 else ''}"
        return (
            f"Source: flowsim {self.version} simulation; scenario '{self.scenario}' "
            f"(sha256 {self.scenario_sha256[:12]}), {reps}."
        )

    def footnote(self) -> str:
        """The scale (unless 1), then the source: scenario, its hash and the replications."""
        return "\n".join(line for line in (self.scaled(), self.source()) if line)

    def spread(self, what: str = "Lines") -> str:
        """What the lines and bands are, said only as far as it is true for this many replications."""
        if self.replications > 1:
            return f"{what}: mean of {self.replications} replications; shaded: 95% of replications (thin where they agree)."
        return f"{what}: one replication."


def titled(fig, message: str, subtitle: str) -> None:
    """The chart's finding as its title, and what it shows as a grey subtitle, above the axes (call last)."""
    from matplotlib.transforms import ScaledTranslation  # import time: matplotlib loads only when drawing

    top = max(ax.get_position().y1 for ax in fig.axes if ax.get_visible())
    tops = [ax for ax in fig.axes if ax.get_visible() and ax.get_position().y1 >= top - 1e-6]
    above = [t.get_text() for ax in tops for t in (ax.title, ax._left_title) if t.get_text()]  # noqa: SLF001
    lift = 0.12 + 0.2 * max((t.count("\n") + 1 for t in above), default=0)  # inches: clear the panels' own titles
    base = fig.transFigure + ScaledTranslation(0, lift, fig.dpi_scale_trans)
    fig.text(0.01, top, subtitle, ha="left", va="bottom", fontsize=9.5, color="#444444", transform=base, gid="subtitle")
    lines = subtitle.count("\n") + 1
    up = fig.transFigure + ScaledTranslation(0, lift + 0.08 + 0.17 * lines, fig.dpi_scale_trans)
    fig.text(0.01, top, message, ha="left", va="bottom", fontsize=12.5, fontweight="bold", transform=up, gid="title")


def years_axis(ax, every: int | None = None) -> None:
    """Ticks at 1 April labelled with the date they mark ("Apr 2012"), every year or, where the axis is too narrow
    for that, every ``every`` years (chosen from the axis's width unless given); no axis label (the ticks say it).

    Call after drawing the data (the span of the axis sets how many years a tick spans)."""
    import matplotlib.dates as mdates  # import time: matplotlib loads only when drawing

    if every is None:
        lo, hi = ax.get_xlim()
        years = max((hi - lo) / 365.25, 1.0)
        inches = ax.get_position().width * ax.figure.get_figwidth()
        size = ax.xaxis.get_major_ticks()[0].label1.get_fontsize()
        room = 8 * 0.55 * size / 72 * 1.4  # "Apr 2012" and a gap, in inches
        every = max(1, math.ceil(years / max(inches / room, 1.0)))
    ax.xaxis.set_major_locator(mdates.YearLocator(every, month=4, day=1))
    if every > 1:  # the years between the labels still ticked, unlabelled
        ax.xaxis.set_minor_locator(mdates.YearLocator(1, month=4, day=1))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%b %Y"))
    ax.set_xlabel("")


def end_label(ax, x, y: float, text: str, colour: str, dy: float = 0) -> None:
    """A value written at the end of its line."""
    ax.annotate(
        text,
        (x, y),
        xytext=(5, dy),
        textcoords="offset points",
        va="center",
        fontsize=9,
        color=colour,
        fontweight="bold",
        annotation_clip=False,
    )


def thousands(ax) -> None:
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:,.0f}")


def finish(fig, meta: ChartMeta, note: str | None = None) -> None:
    """Add the footnote at the bottom left of ``fig``: the scale (unless 1), an optional note, then the source."""
    text = "\n".join(line for line in (meta.scaled(), note, meta.source()) if line)
    fig.text(
        0.01, -0.02, text, ha="left", va="top", fontsize=7.5, color="#555555", transform=fig.transFigure, gid="footnote"
    )


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
            wide.index, wide.quantile(0.025, axis=1), wide.quantile(0.975, axis=1), color=colour, alpha=0.3, linewidth=0
        )
    return mean


def save_png(fig, path: Path, dpi: int | None = None) -> Path:
    """Save ``fig`` as one PNG (atomically, in the flowsim style)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with styled():
        return save_figure(fig, path, **({"dpi": dpi} if dpi else {}))
