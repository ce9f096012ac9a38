"""Writing files and directories so that a reader never sees half of one.

Every file flowsim writes goes through :func:`atomic_write` or
:func:`atomic_path`: written beside its target, then renamed over it. A
rename within one directory is atomic, so a process killed at any moment
leaves either the old file or the new one.

A run directory goes one step further (:func:`staged_dir`): the whole run is
written into a fresh hidden directory beside the target, which is then
swapped in whole, so a killed run leaves the old complete run or the new
complete run, never a mix of their files.

Files and directories get the mode an ordinary ``open()`` or ``mkdir()``
would give them: 0666 or 0777 less the user's umask, one rule for all.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import io
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from flowsim.errors import FlowsimError


def umask() -> int:
    """The process's umask. Read from /proc where it can be, so that no other thread sees a changed umask."""
    with contextlib.suppress(OSError, StopIteration, ValueError):
        status = Path("/proc/self/status").read_text()
        return int(next(line for line in status.splitlines() if line.startswith("Umask:")).split()[1], 8)
    mask = os.umask(0o22)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """0666 less the umask: the mode ``open()`` gives a new file."""
    return 0o666 & ~umask()


def dir_mode() -> int:
    """0777 less the umask: the mode ``mkdir()`` gives a new directory."""
    return 0o777 & ~umask()


class WriteError(FlowsimError):
    """A file could not be written: the disk is full, a file is too large, or the place is not writable."""


def write_error(path: str | Path, exc: OSError) -> WriteError:
    """One line naming what could not be written and why (``No space left on device``)."""
    reason = exc.strerror or str(exc) or exc.__class__.__name__
    return WriteError(f"could not write {path}: {reason}")


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
        os.chmod(tmp_path, file_mode())
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


def save_figure(fig, path: str | Path, **savefig) -> Path:
    """Render ``fig`` in memory in the format ``path``'s suffix names, then write it atomically.

    A full disk then fails in one plain write (an ``OSError``), not inside matplotlib's writer, whose own
    clean-up can raise a different error.
    """
    path = Path(path)
    buffer = io.BytesIO()
    fig.savefig(buffer, format=savefig.pop("format", path.suffix[1:]), **savefig)
    return atomic_write(path, buffer.getvalue())


def absolute(path: str | Path) -> Path:
    """``path`` made absolute, with a name to stage beside: ``.`` is the working directory, a final ``..`` resolved.

    Inner ``..`` are left to the operating system, as it reads them (``a/b/../c`` needs ``a/b``), not
    collapsed by text, which would disagree with it when ``a/b`` is missing or a symbolic link.
    """
    path = Path.cwd() / Path(path)  # pathlib drops "." components
    return path.resolve() if path.name in ("", "..") else path


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(name: str, limit: int = 100) -> str:
    """A directory name derived from a scenario or sweep name: one path component, never ``..`` or hidden.

    Runs of anything but letters, digits, ``.``, ``_`` and ``-`` become one
    ``_``; leading and trailing dots, underscores and dashes are dropped, so
    ``"../../escaped_run"`` gives ``"escaped_run"`` and ``"a/b"`` gives ``"a_b"``.
    An empty result is ``"scenario"``.
    """
    return _UNSAFE.sub("_", name).strip("._-")[:limit].rstrip("._-") or "scenario"


def writable_dir(path: str | Path, replaced: Callable[[Path], bool] | None = None) -> Path:
    """Check, before any work, that ``path`` can be a directory flowsim writes into; create it (and its parents).

    Args:
        replaced: for a directory that will be swapped in whole (a run directory), whether an existing directory
            is one flowsim wrote: its parent must be writable, and an existing directory must be empty or pass
            this test, so that no directory of other files is ever replaced.

    Raises:
        WriteError: if ``path`` or one of its parents is a file, a test file cannot be created there,
            or ``path`` holds files but fails ``replaced``.
    """
    given = Path(path)
    path = absolute(given)
    for parent in (path, *path.parents):
        if parent.exists() or parent.is_symlink():
            if not parent.is_dir():
                what = "is a file" if parent == path else f"is under {parent}, which is a file"
                raise WriteError(f"{given}: expected a directory to write to, but it {what}")
            break
    # A directory swapped in whole is written beside itself, in its parent; it need not exist yet.
    place = path.parent if replaced else path
    try:
        if replaced and path.is_dir() and any(path.iterdir()) and not replaced(path):
            raise WriteError(
                f"{given}: holds files but no manifest flowsim wrote, so it is not a directory flowsim wrote; a run "
                "replaces its directory whole, so give a new or empty directory, or an earlier run's"
            )
        place.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=place, prefix=".flowsim-probe.")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise WriteError(f"{given}: cannot write here ({exc.strerror or exc})") from None
    return given


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two directories in one atomic step (Linux renameat2 RENAME_EXCHANGE); False where that is unavailable."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _swap_in(new: Path, target: Path) -> None:
    """Put directory ``new`` at ``target``, replacing whatever directory is there, in one atomic step where possible.

    Without renameat2 the old directory is first renamed aside to a
    ``.previous`` name, which :func:`_recover` puts back if we are killed
    before the new one is in place.
    """
    if not target.exists():
        os.rename(new, target)
    elif _exchange(new, target):
        shutil.rmtree(new, ignore_errors=True)  # ``new`` now holds the old run
    else:
        aside = new.with_suffix(".previous")
        os.rename(target, aside)
        os.rename(new, target)
        shutil.rmtree(aside, ignore_errors=True)


def _leftovers(target: Path, kind: str) -> list[Path]:
    """Staging (``partial``) or set-aside (``previous``) directories of ``target``, named as :func:`staged_dir` names them."""
    pattern = re.compile(rf"\.{re.escape(target.name)}\.[A-Za-z0-9_]{{8}}\.{kind}")
    return [p for p in target.parent.iterdir() if pattern.fullmatch(p.name)]


def _recover(target: Path) -> None:
    """Tidy after a killed writer (called under the parent's lock, so no other writer is staging here).

    An old run left aside by a fallback swap goes back in place if the new
    one never arrived; half-written staging directories are removed.
    """
    for old in _leftovers(target, "previous"):
        if not target.exists():
            os.rename(old, target)
        else:
            shutil.rmtree(old, ignore_errors=True)
    for stale in _leftovers(target, "partial"):
        shutil.rmtree(stale, ignore_errors=True)


@contextmanager
def parent_lock(target: Path, wait: float | None = None) -> Iterator[None]:
    """Hold an exclusive lock on ``target``'s parent directory: one writer swaps directories there at a time.

    ``wait``: after this many seconds go ahead without the lock (for a writer whose file is atomic anyway, such as
    the runs index, which only wants to see every run swapped in before it); None waits as long as it takes.
    """
    import fcntl  # POSIX only

    fd = os.open(target.parent, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if wait is None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        else:
            deadline = time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.1)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


@contextmanager
def claimed(target: str | Path, what: str = "run") -> Iterator[None]:
    """Hold ``target`` for one writer from before its work starts until it is written: a second is refused at once.

    The claim is an exclusive lock on a hidden file beside ``target`` (``.NAME.lock``, holding the writer's
    process id), removed when the block ends; the lock dies with the process, so a killed writer never blocks
    the next.

    Raises:
        WriteError: if another process holds ``target`` (naming it), or the lock file cannot be written.
    """
    import fcntl  # POSIX only

    target = absolute(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    lock = target.parent / f".{target.name}.lock"
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise write_error(target, exc) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise WriteError(
                f"{target}: another flowsim {what} (process {holder}) is writing this directory now; wait for it "
                "to finish, or give another --out"
            ) from None
        try:  # the file may have been removed by the holder we waited on: then lock the new one
            same = os.stat(lock).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        lock.unlink(missing_ok=True)  # while still held, so no one locks a file that is about to go
        os.close(fd)  # closing the descriptor releases the lock


@contextmanager
def staged_dir(target: str | Path, copy: bool = False) -> Iterator[Path]:
    """A fresh directory beside ``target`` to write a whole run into; swapped in for ``target`` when the block ends.

    Args:
        copy: start from ``target``'s files (hard links, so nothing is copied), to rewrite some of them.

    If the block raises, the staging directory is removed and ``target`` is
    untouched. While the block runs, the parent directory is locked, so two
    flowsim processes never swap the same directory at once; a staging
    directory left by a killed process is removed by the next one.

    Raises:
        WriteError: if writing fails with an OSError (a full disk, a file too large, no permission).
    """
    target = absolute(target)
    if target.is_symlink():
        target = target.resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    with parent_lock(target):
        _recover(target)
        new = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial"))
        try:
            os.chmod(new, dir_mode())  # mkdtemp makes 0700
            if copy and target.is_dir():
                shutil.rmtree(new)
                shutil.copytree(target, new, copy_function=_link_or_copy)
            yield new
            _swap_in(new, target)
        except OSError as exc:
            shutil.rmtree(new, ignore_errors=True)
            raise write_error(target, exc) from None
        except BaseException:
            shutil.rmtree(new, ignore_errors=True)
            raise


def _link_or_copy(src: str, dst: str) -> None:
    """Hard-link a file into a staging directory (atomic_path replaces, never edits, so the original is safe)."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
