"""Writing files so that a reader never sees half of one: write beside it, then rename over it.

Every file flowsim writes goes through :func:`atomic_write` or
:func:`atomic_path`. A rename within one directory is atomic, so a process
killed at any moment leaves either the old file or the new one. Files get
the mode an ordinary ``open()`` would give them (0666 less the user's
umask), not the 0600 of a temporary file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _mode() -> int:
    """0666 less the process's umask (read without changing it for good)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; renamed over ``path`` when the block ends without error.

    For libraries that write to a path themselves (``pyarrow.parquet.write_table``,
    ``Figure.savefig``: give it ``format=`` explicitly). The temporary file is
    hidden and ends in ``.tmp``, so no glob for ``*.parquet`` or ``*.png`` finds it.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, _mode())
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def atomic_write(path: str | Path, data: bytes | str) -> Path:
    """Write ``data`` (text is UTF-8) to ``path`` atomically; return the path."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data.encode() if isinstance(data, str) else data)
    return path
