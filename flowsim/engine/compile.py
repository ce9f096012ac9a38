"""The compiled event kernel: whether numba's on-disk cache holds it, and compiling it once, before any worker.

(That the cache is never stale is :mod:`flowsim.engine.cache`'s job.) Importing this module loads neither numba
nor the kernel.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

#: What compiling the event kernel takes, measured on a 2-core machine (110-370 s).
COMPILE_ESTIMATE = "about 2-6 minutes"


def compiled() -> bool:
    """Whether numba's on-disk cache holds the event kernel (for the kernel's sources as they are now).

    Reads numba's cache index; if that internal layout ever changes, says True (no message beats a wrong one).
    """
    from flowsim.engine.kernel import run_families  # import time: loads numba

    try:
        return bool(run_families._cache._cache_file._load_index())
    except Exception:
        return True


def compile_kernel() -> None:
    """Compile the event kernel into numba's cache by simulating a tiny scenario of registry defaults."""
    from flowsim.engine.simulation import simulate  # import time: loads numba and simpy
    from flowsim.scenario import load_scenario  # with the simulation, when compiling

    text = 'name = "warm-up"\n[population]\nscale = 0.002\n[time]\nend = 2011-06-30\ndeadline = 2011-06-30\n'
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "warm-up.toml"
        path.write_text(text)
        simulate(load_scenario(path), seed=0)


def ensure_compiled(say: Callable[[str], None] | None = None) -> float | None:
    """Compile the event kernel here, once, if numba's cache lacks it; return the seconds it took (None: it was there).

    Call it before any worker process starts: otherwise every worker compiles the same kernel at once. ``say`` is
    told before and after (a command prints it on stderr).
    """
    if compiled():
        return None
    if say is not None:
        say(
            f"flowsim: compiling the event kernel, once after installing ({COMPILE_ESTIMATE} on a 2-core machine; "
            "`flowsim warm-up` does this ahead of time)..."
        )
    started = time.perf_counter()
    compile_kernel()
    seconds = time.perf_counter() - started
    if say is not None:
        say(f"flowsim: compiled in {seconds:.0f} s")
    return seconds
