"""Where parrot keeps its data, and the one way it writes files: atomically.

A kill at any moment leaves either the old file or the new one, never a half-written one
(and the temp file it leaves behind is removed by the next claim of the folder).
A data folder has one writer at a time: `claim_data_dir` locks it (flock) for the process's
life, so a second `parrot sim`/`run` on the same folder stops with a clear message instead of
silently overwriting the first one's dictionary and history.
"""

from __future__ import annotations

import fcntl
import os
import re
import tempfile
import time
from pathlib import Path

from parrot.errors import UserError

LOCK_NAME = ".lock"
# subfolders with writers of their own (a `parrot models pull` runs beside the app): not cleaned here
OWN_LOCK_SUBFOLDERS = ("models",)
# what atomic_write's mkstemp names look like: .<target>.<random>.tmp
_TEMP_NAME = re.compile(r"\..+\.[A-Za-z0-9_]{6,}\.tmp")
_claims: dict[Path, int] = {}  # folder -> fd holding its lock, for this process's life


class DataDirBusy(UserError):
    """Another process is the writer of this data folder."""


def data_dir() -> Path:
    """$PARROT_DATA_DIR, else $XDG_DATA_HOME/parrot, else ~/.local/share/parrot."""
    env = os.environ.get("PARROT_DATA_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "parrot"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike, data: bytes | str) -> None:
    """Write data to path via temp file + fsync + rename (+ fsync of the directory)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    try:
        fd, tmp = tempfile.mkstemp(prefix="." + path.name + ".", suffix=".tmp", dir=path.parent)
    except OSError as e:  # name the file the user asked for, not our temp name
        raise OSError(e.errno, e.strerror, str(path)) from None
    try:
        # mkstemp makes 0600 files: keep the old file's mode, else what the umask allows.
        try:
            mode = path.stat().st_mode & 0o7777
        except FileNotFoundError:
            mode = 0o666 & ~_umask()
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    fsync_dir(path.parent)


def fsync_dir(directory: str | os.PathLike) -> None:
    """Make a rename inside `directory` durable."""
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def claim_data_dir(path: str | os.PathLike) -> Path:
    """Make this process the one writer of the folder `path` (idempotent within a process).

    Raises DataDirBusy naming the other process when it is taken. The lock is an flock on
    `path/.lock`, so the kernel drops it when the holder dies, however it dies. Claiming also
    removes temp files that an earlier, killed writer left there (and in its subfolders).
    """
    folder = Path(path).resolve()
    if folder in _claims:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
        os.close(fd)
        raise DataDirBusy(
            f"{folder} is in use by another parrot (pid {holder}): stop that one first, "
            "or give this one its own folder with PARROT_DATA_DIR (or sim --fresh)"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    _claims[folder] = fd
    for sub in [folder, *(p for p in folder.iterdir() if p.is_dir() and p.name not in OWN_LOCK_SUBFOLDERS)]:
        remove_orphan_temps(sub)
    return folder


def release_data_dir(path: str | os.PathLike) -> None:
    fd = _claims.pop(Path(path).resolve(), None)
    if fd is not None:
        os.close(fd)  # closing the only descriptor drops the flock


def remove_orphan_temps(folder: str | os.PathLike, min_age_s: float = 0.0) -> list[Path]:
    """Delete atomic_write temp files in folder (left by a killed writer); returns them.

    Only call it as the folder's one writer (or with min_age_s long enough that no live
    write can own the file)."""
    removed = []
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return removed
    for entry in entries:
        if not _TEMP_NAME.fullmatch(entry.name) or not entry.is_file(follow_symlinks=False):
            continue
        try:
            if now - entry.stat(follow_symlinks=False).st_mtime >= min_age_s:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except FileNotFoundError:
            pass
    return removed
