"""Progress bars on stderr for long runs: shown only on a terminal, never with --quiet."""

from __future__ import annotations

import sys

#: What compiling the event kernels takes, measured on a 2-core machine (model v2: 110 s; the ladder model: 25 s).
COMPILE_ESTIMATE = {"problems": "about 2 minutes", "ladder": "about 30 s"}


def compiled(structure: str) -> bool:
    """Whether numba's on-disk cache holds the event kernel of ``structure`` ("problems" or "ladder").

    Reads numba's cache index; if that internal layout ever changes, says True (no message beats a wrong one).
    """
    if structure == "problems":
        from flowsim.engine.v2.kernel import run_families
    else:
        from flowsim.engine.kernel import run_families
    try:
        return bool(run_families._cache._cache_file._load_index())
    except Exception:
        return True


def compile_kernel(structure: str) -> None:
    """Compile ``structure``'s event kernel into numba's cache by simulating a tiny scenario of registry defaults."""
    import tempfile
    from pathlib import Path

    from flowsim.engine.simulation import simulate
    from flowsim.scenario import load_scenario

    text = (
        f'name = "warm-up"\n[model]\nstructure = "{structure}"\n[population]\nscale = 0.002\n'
        "[time]\nend = 2011-06-30\ndeadline = 2011-06-30\n"
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "warm-up.toml"
        path.write_text(text)
        simulate(load_scenario(path), seed=0)


def ensure_compiled(structures, quiet: bool) -> None:
    """Compile the event kernels ``structures`` need, here and once, before any worker starts; say so and time it.

    Without this every worker process would compile the same kernel at once. Later
    runs load the compiled kernel from numba's cache (a fraction of a second).
    """
    import time

    for structure in sorted(set(structures)):
        if compiled(structure):
            continue
        if not quiet:
            model = "model v2's" if structure == "problems" else "the ladder model's"
            print(
                f"flowsim: compiling {model} event kernel, once after installing ({COMPILE_ESTIMATE[structure]} "
                "on a 2-core machine; `flowsim warm-up` does this ahead of time)...",
                file=sys.stderr,
                flush=True,
            )
        started = time.perf_counter()
        compile_kernel(structure)
        if not quiet:
            print(f"flowsim: compiled in {time.perf_counter() - started:.0f} s", file=sys.stderr)


def note_compile(quiet: bool, scenario=None) -> None:
    """Compile the kernel ``scenario`` needs (model v2 without one) before its run, saying so on stderr."""
    structure = scenario.value("model.structure") if scenario is not None else "problems"
    ensure_compiled([structure], quiet)


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
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=done, file=sys.stderr, unit=self.unit, desc=self.desc)
        self.bar.update(done - self.bar.n)


class Fraction(_Bar):
    """Percent done (of simulated time, or of replications), shown after 2 s."""

    def __init__(self, quiet: bool, desc: str = "simulating") -> None:
        super().__init__(quiet, desc)

    def __enter__(self):
        if not self.enabled:
            return None
        from tqdm import tqdm

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
