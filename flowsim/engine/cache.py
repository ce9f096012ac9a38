"""numba's cache of the event kernel is never stale: a cache compiled from other sources is removed before use.

numba caches each compiled function beside its source and recompiles it when
*that file* changes. The kernel also compiles in constants of other modules
(``flowsim.engine.codes``), which numba does not see: an edit there would leave
a kernel compiled with the old values, and nothing said. So the sources the
kernel depends on are hashed into a stamp beside numba's cache, and a cache
whose stamp differs is removed before it is loaded (:func:`refresh_cache`),
which makes numba compile afresh. The kernel module calls it as it is imported.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

#: The source files whose contents the compiled kernel depends on (numba watches only the first).
KERNEL_SOURCES = ("kernel.py", "codes.py")
#: The stamp's file name, beside numba's cache files.
STAMP = "flowsim-kernel.sources"
_HERE = Path(__file__).resolve().parent


def model_digest() -> str:
    """SHA-256 of the model's code as it is now: every module of the engine, and the survey's and the measures'
    (what a simulated measure depends on beside the scenario). A calibration's run identity includes it, so a run
    started again after the model changed starts afresh instead of resuming passes of the model before."""
    package = _HERE.parent
    digest = hashlib.sha256()
    for path in sorted(_HERE.glob("*.py")) + [package / "survey.py", package / "measures.py"]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def sources_digest(folder: Path = _HERE) -> str:
    """SHA-256 of the kernel's source files (:data:`KERNEL_SOURCES`) as they are now."""
    digest = hashlib.sha256()
    for name in KERNEL_SOURCES:
        digest.update(name.encode() + b"\0" + (folder / name).read_bytes() + b"\0")
    return digest.hexdigest()


def refresh_cache(cache_dir: Path, digest: str, module: str = "kernel") -> bool:
    """Remove the cached compilations of ``module`` in ``cache_dir`` unless its stamp says ``digest``; stamp it.

    Returns True if a cache was removed (or there was no stamp), so the next call compiles afresh. Called before
    any kernel function is first called (numba reads its cache then), from the kernel module itself.
    """
    stamp = cache_dir / STAMP
    try:
        if stamp.read_text() == digest:
            return False
    except OSError:
        pass
    try:
        for entry in cache_dir.glob(f"{module}.*.nb[ic]"):
            entry.unlink(missing_ok=True)
        tmp = cache_dir / f"{STAMP}.{os.getpid()}"
        tmp.write_text(digest)
        os.replace(tmp, stamp)
    except OSError:  # a cache folder we cannot write: numba cannot cache there either, so nothing is stale
        pass
    return True


def cache_dir_of(dispatcher) -> Path:
    """The folder numba caches ``dispatcher``'s compilations in (``__pycache__`` beside it, or NUMBA_CACHE_DIR)."""
    return Path(dispatcher._cache._cache_path)
