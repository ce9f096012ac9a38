"""What every chart shares: the style sheet, the footnote, saving as PNG and SVG."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

STYLE = Path(__file__).with_name("flowsim.mplstyle")
OKABE_ITO = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]


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


def pyplot():
    """matplotlib.pyplot with the Agg backend and the flowsim style (imported only when charts are drawn)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.style.use(str(STYLE))
    return plt


def finish(fig, meta: ChartMeta, note: str | None = None) -> None:
    """Add the footnote (and an optional note) at the bottom left of ``fig``."""
    text = meta.footnote() if note is None else f"{note}\n{meta.footnote()}"
    fig.text(0.01, -0.02, text, ha="left", va="top", fontsize=7.5, color="#555555", transform=fig.transFigure)


def save(fig, base: Path) -> list[Path]:
    """Save ``fig`` as ``base``.png and ``base``.svg; return both paths."""
    base.parent.mkdir(parents=True, exist_ok=True)
    paths = [base.with_suffix(".png"), base.with_suffix(".svg")]
    for path in paths:
        fig.savefig(path)
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
