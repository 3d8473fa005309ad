"""The commit point of a segmented index (format 2): ``manifest.json`` names the live segments, each with
its deletes file, plus the checksums of every file it names. A commit writes its new files first (fsync'ed),
then replaces the manifest in one ``os.replace``; a crash at any point leaves the previous commit whole
(files no commit names are removed by the next writer, see ``collect_garbage``).

One writer at a time per index, across threads and processes: ``write_lock`` (flock on ``<index>.lock``
beside the folder). Readers take no lock: they read the manifest and open the files it names.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from indexer.errors import IndexMismatchError
from indexer.index_folder import MANIFEST, nearest_existing
from indexer.segment import PENDING_PREFIX, SEGMENTS, fsync_files

LOCK_SUFFIX = ".lock"
MERGE_LOCK_SUFFIX = ".merge.lock"
LOCK_TIMEOUT_SECONDS = 120.0
PENDING_MAX_AGE_SECONDS = 3600.0
_process_locks: dict[str, threading.Lock] = {}
_process_locks_guard = threading.Lock()


class WriteLockTimeout(IndexMismatchError):
    """Another writer held the index's write lock for longer than the timeout."""


def lock_path(index_folder: Path) -> Path:
    index_folder = Path(index_folder)
    return index_folder.parent / f"{index_folder.name}{LOCK_SUFFIX}"


def merge_lock_path(index_folder: Path) -> Path:
    """The lock a merge holds while it writes its segment (indexer.merging)."""
    index_folder = Path(index_folder)
    return index_folder.parent / f"{index_folder.name}{MERGE_LOCK_SUFFIX}"


@contextmanager
def no_merge_running(index_folder: Path) -> Iterator[bool]:
    """True (and no merge can start until the block ends) when no process merges ``index_folder``: a
    merge is the one writer of a pending segment outside the write lock."""
    path = merge_lock_path(index_folder)
    with path.open("a") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _thread_lock(path: Path) -> threading.Lock:
    with _process_locks_guard:
        return _process_locks.setdefault(str(path.resolve()), threading.Lock())


def check_writable(index_folder: Path) -> None:
    """Before work that ends in a write to ``index_folder``: the file system's own OSError (read-only, no
    permission), naming the folder, raised now rather than after the embedding. The folder that holds the
    index (its lock, a build's staging folder) is tried, or the nearest above it that exists (where the
    missing ones will be made), and the index folder when it exists."""
    index_folder = Path(index_folder)
    holder = nearest_existing(index_folder.parent, folder=True)
    for folder in (holder, index_folder):
        if folder.is_dir():
            try_writing_in(folder)


def try_writing_in(folder: Path) -> None:
    """Make and remove a file in ``folder``: the file system's own OSError (read-only, no permission),
    naming the folder, when this process may not write there."""
    try:
        handle, name = tempfile.mkstemp(prefix=".citeqa-write-check-", dir=folder)
    except OSError as err:
        raise OSError(err.errno, err.strerror, str(folder)) from None
    os.close(handle)
    os.unlink(name)


@contextmanager
def write_lock(index_folder: Path, timeout: float = LOCK_TIMEOUT_SECONDS) -> Iterator[None]:
    """Hold the index's write lock: one writer at a time among this process's threads (a thread lock)
    and among processes (flock). Waits up to ``timeout`` seconds."""
    path = lock_path(index_folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    local = _thread_lock(path)
    deadline = time.monotonic() + timeout
    if not local.acquire(timeout=timeout):
        raise WriteLockTimeout(f"another writer held the write lock of {index_folder} for {timeout:.0f} s")
    try:
        with path.open("a") as handle:
            while True:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise WriteLockTimeout(
                            f"another process held the write lock {path} for {timeout:.0f} s; try again"
                        ) from None
                    time.sleep(0.005)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    finally:
        local.release()


def swap_manifest(index_folder: Path, manifest: dict[str, Any], sync_first: Sequence[Path] = ()) -> None:
    """Commit: the new manifest is written beside the old, fsync'ed, and swapped in by one rename.
    ``sync_first``: files and folders the commit needs on disk (deletes files, the segments folder after a
    rename), fsync'ed in the same parallel round as the staged manifest, all before the rename. When it
    returns the commit is made (the caller fsyncs the folder), when it raises it is not, and its staged
    manifest is removed."""
    folder = Path(index_folder)
    staged = folder / f".{MANIFEST}.tmp-{os.getpid()}-{threading.get_ident()}"
    try:
        with staged.open("w", encoding="utf-8") as out:
            out.write(json.dumps(manifest, ensure_ascii=False, separators=(",", ":")) + "\n")
        fsync_files([staged, *sync_first])
        os.replace(staged, folder / MANIFEST)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise


def manifest_stamp(index_folder: Path) -> tuple[int, int] | None:
    """(inode, mtime_ns) of the manifest: it changes with every commit (a commit renames a new file in)."""
    try:
        stat = (Path(index_folder) / MANIFEST).stat()
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_mtime_ns


def referenced_files(manifest: dict[str, Any]) -> set[str]:
    return set(manifest.get("files", {}))


def collect_garbage(index_folder: Path, manifest: dict[str, Any]) -> None:
    """Under the write lock: remove segment folders and deletes files that ``manifest`` does not name
    (dropped by a merge or a delete), and pending segments left by a crash: every one when no merge runs
    (the other writers write theirs under the write lock), else those older than PENDING_MAX_AGE_SECONDS
    (younger ones may be that merge's). Readers that still have a removed segment open keep reading it
    (an unlinked file lives while it is open). Staged manifests are removed too: a writer stages one only
    under the write lock, so one found here was left by a writer killed before its rename."""
    for staged in Path(index_folder).glob(f".{MANIFEST}.tmp-*"):
        staged.unlink(missing_ok=True)
    root = Path(index_folder) / SEGMENTS
    if not root.is_dir():
        return
    named = referenced_files(manifest)
    live_segments = {entry["name"] for entry in manifest.get("segments", [])}
    pending = list(root.glob(f"{PENDING_PREFIX}*"))
    if pending:
        with no_merge_running(index_folder) as abandoned:
            for folder in pending:
                if abandoned or time.time() - folder.stat().st_mtime > PENDING_MAX_AGE_SECONDS:
                    shutil.rmtree(folder, ignore_errors=True)
    for folder in root.iterdir():
        if folder.name.startswith(PENDING_PREFIX):
            continue
        if folder.name not in live_segments:
            shutil.rmtree(folder, ignore_errors=True)
            continue
        for path in folder.glob("deletes-*.npy"):
            if path.relative_to(index_folder).as_posix() not in named:
                path.unlink(missing_ok=True)
