"""Build folders in an index folder: which build is current, writing one atomically, pruning
old ones, one build at a time, and checking a build's files against its manifest.

Layout of the index folder:
    CURRENT               the name of the active build, replaced atomically
    builds/<id>/          the build's files (store.py names them)
A build is written to `builds/<id>.partial`, renamed when complete, and only then named in
CURRENT. A build killed at any moment leaves the previous index loadable.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from qa_bot.errors import BuildInProgress, IndexCorrupt, IndexMissing, IndexUnwritable
from qa_bot.indexing.manifest import REBUILD, Manifest

# Why a write failed, for the errors a person can fix: (errno, what to do).
WRITE_PROBLEMS = {
    errno.ENOSPC: "the disk is full; free some space",
    errno.EDQUOT: "the disk quota is used up; free some space",
    errno.EROFS: "the file system is read-only; use a writable folder",
    errno.EACCES: "permission is denied; use a folder you may write to",
    errno.EPERM: "permission is denied; use a folder you may write to",
    errno.EEXIST: "a file stands where its folder must be; choose another folder",
    errno.ENOTDIR: "a file stands where its folder must be; choose another folder",
    errno.ENOENT: "its folder cannot be created there; choose another folder",
}


def current_build(index_dir: Path) -> str | None:
    """The active build's id, or None when there is no index. Cheap: one small read."""
    try:
        return (index_dir / "CURRENT").read_text(encoding="utf-8").strip() or None
    except (FileNotFoundError, NotADirectoryError):  # --index names a file: no index there
        return None


def older_builds(index_dir: Path) -> list[str]:
    """The complete builds kept beside the active one (`prune_builds`), newest first: what a
    server may answer from while the active one cannot be loaded."""
    current = current_build(index_dir)
    return [p.name for p in reversed(_complete_builds(index_dir)) if p.name != current]


def _complete_builds(index_dir: Path) -> list[Path]:
    """The folders of the builds that were finished, oldest first (build ids sort by time)."""
    builds = index_dir / "builds"
    if not builds.is_dir():
        return []
    return sorted(p for p in builds.iterdir() if not p.name.endswith(".partial"))


def require_build(index_dir: Path, build_id: str | None = None) -> Path:
    """The folder of build `build_id`, by default the active one; IndexMissing when there is
    none."""
    build_id = build_id or current_build(index_dir)
    if build_id is None or not (index_dir / "builds" / build_id).is_dir():
        raise IndexMissing(f"No index in {index_dir}. Run 'python -m qa_bot build' first.")
    return index_dir / "builds" / build_id


def save_build(index_dir: Path, write: Callable[[Path], None]) -> str:
    """Have `write` fill a new build folder, then make it current in one atomic step.
    Returns its id. A build that fails on the way leaves nothing behind."""
    builds = index_dir / "builds"
    build_id = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + f"-{time.time_ns() % 10**9:09d}"
    partial = builds / f"{build_id}.partial"
    with writing(index_dir):
        partial.mkdir(parents=True)
        try:
            write(partial)
            for path in partial.iterdir():
                _fsync(path)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        os.rename(partial, builds / build_id)
        _make_current(index_dir, build_id)
    return build_id


def _make_current(index_dir: Path, build_id: str) -> None:
    (index_dir / "CURRENT.tmp").write_text(build_id + "\n", encoding="utf-8")
    _fsync(index_dir / "CURRENT.tmp")
    os.replace(index_dir / "CURRENT.tmp", index_dir / "CURRENT")
    _fsync(index_dir)


def prune_builds(index_dir: Path, keep: int = 2) -> None:
    """Delete partial builds and all but the newest `keep` complete ones.

    The previous build is kept so that a server still reading it is never pulled from under."""
    builds = index_dir / "builds"
    if not builds.is_dir():
        return
    current = current_build(index_dir)
    complete = _complete_builds(index_dir)
    old = [p for p in complete[:-keep] if p.name != current]
    for path in [*builds.glob("*.partial"), *old]:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def writing(index_dir: Path) -> Iterator[None]:
    """A full disk, a read-only file system or a missing permission as one IndexUnwritable
    sentence, not a traceback."""
    try:
        yield
    except OSError as error:
        if error.errno not in WRITE_PROBLEMS:
            raise
        raise IndexUnwritable(
            f"Cannot write the index in {index_dir}: "
            f"{WRITE_PROBLEMS[error.errno]}, then build again."
        ) from error


@contextlib.contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """One build at a time per index folder; the lock dies with its process."""
    with writing(index_dir):
        index_dir.mkdir(parents=True, exist_ok=True)
        lock = open(index_dir / ".build.lock", "w")
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BuildInProgress(
                f"Another build of {index_dir} is running; wait for it to finish."
            ) from None
        yield


def verify_build(index_dir: Path, build_id: str, manifest: Manifest, *, checksums: bool) -> None:
    """Raise IndexCorrupt naming the first index file whose size (and, with `checksums`,
    content) differs from what the build recorded. Sizes cost one stat per file; checksums
    read every byte (BENCHMARKS.md)."""
    folder = index_dir / "builds" / build_id
    for name, record in manifest.index_files.items():
        path = folder / name
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise IndexCorrupt(f"Index file {path} is missing. {REBUILD}") from None
        if size != record.size:
            raise IndexCorrupt(
                f"Index file {path} is damaged: it has {size:,} bytes, the "
                f"build wrote {record.size:,}. {REBUILD}"
            )
        if checksums and file_checksum(path) != record.sha256:
            raise IndexCorrupt(
                f"Index file {path} is damaged: its checksum differs from the "
                f"one the build recorded. {REBUILD}"
            )


def file_checksum(path: Path) -> str:
    """The SHA-256 of a file, in hex, as the manifest records it."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
