"""Progress bars on stderr for long runs: shown only on a terminal, never with --quiet."""

from __future__ import annotations

import sys


class _Bar:
    """A tqdm bar on stderr, only when stderr is a terminal and the user did not ask for quiet; closed on exit."""

    def __init__(self, quiet: bool, desc: str) -> None:
        self.enabled = not quiet and sys.stderr.isatty()
        self.desc = desc
        self.bar = None

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.close()


class Counter(_Bar):
    """Counts runs (with ETA); the bar opens at the first update, which says how many runs are already done."""

    def __init__(self, quiet: bool, unit: str, desc: str = "sweep") -> None:
        super().__init__(quiet, desc)
        self.unit = unit

    def __enter__(self):
        return self.update if self.enabled else None

    def update(self, done: int, total: int) -> None:
        if self.bar is None:
            from tqdm import tqdm  # import time: tqdm loads only for a bar on a terminal

            self.bar = tqdm(total=total, initial=done, file=sys.stderr, unit=self.unit, desc=self.desc)
        self.bar.update(done - self.bar.n)


class Fraction(_Bar):
    """Percent done (of simulated time, or of replications), shown after 2 s."""

    def __init__(self, quiet: bool, desc: str = "simulating") -> None:
        super().__init__(quiet, desc)

    def __enter__(self):
        if not self.enabled:
            return None
        from tqdm import tqdm  # import time: tqdm loads only for a bar on a terminal

        self.bar = tqdm(
            total=100,
            delay=2,
            file=sys.stderr,
            unit="%",
            desc=self.desc,
            bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining}",
        )
        return self.update

    def update(self, fraction: float) -> None:
        # tqdm checks its start-up delay only inside update(), so advance by the difference.
        self.bar.update(round(100 * fraction, 1) - self.bar.n)
