"""Errors of the index layer."""

from __future__ import annotations

import errno
import os

from corpus.errors import CiteqaError


class IndexMismatchError(CiteqaError):
    """An index folder is missing, corrupt, or built for other settings: rebuild it.

    ``damage`` is what is wrong without the command that repairs it (the whole message when it names
    none), for a caller that says the damage with its own remedy (``IndexMismatchError.hinted``)."""

    def __init__(self, message: str, damage: str | None = None) -> None:
        super().__init__(message)
        self.damage = message if damage is None else damage

    @classmethod
    def hinted(cls, damage: str, hint: str) -> IndexMismatchError:
        """The error "DAMAGE; HINT", its ``damage`` kept apart."""
        return cls(f"{damage}; {hint}", damage)


class DocumentNotFoundError(CiteqaError):
    """No document has the requested doc_id."""


class EncoderError(CiteqaError):
    """The embedding model cannot be loaded or exported."""


class VersionNotReachedError(CiteqaError):
    """A reader asked for an index version that no commit has reached yet."""


# The errors with which a disk refuses bytes: full, over a quota, or past the process's file-size limit.
STORAGE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
# The errors with which a folder refuses any write: a read-only file system, or no permission to write.
UNWRITABLE_ERRNOS = (errno.EROFS, errno.EACCES, errno.EPERM)


def disk_refusal(error: BaseException) -> str | None:
    """The reason (e.g. "No space left on device") when ``error`` is a write the disk refused, else None.

    Most writers raise OSError with the errno; FAISS raises a RuntimeError that quotes the C library's
    text for it, e.g. "write error in .../dense.faiss: 19955 != 38400 (No space left on device)"."""
    if isinstance(error, OSError) and error.errno in STORAGE_ERRNOS:
        return os.strerror(error.errno)
    if isinstance(error, RuntimeError):
        text = str(error)
        return next((os.strerror(e) for e in STORAGE_ERRNOS if f"({os.strerror(e)})" in text), None)
    return None


def unwritable(error: BaseException) -> str | None:
    """What could not be written and why (e.g. "/srv/index.lock: Read-only file system") when ``error``
    is a file system refusing to let this process write a file at all, else None.

    OSError carries the errno and the file; FAISS raises a RuntimeError ending with the C library's text,
    e.g. "could not open .../dense.faiss for writing: Read-only file system"."""
    if isinstance(error, OSError) and error.errno in UNWRITABLE_ERRNOS:
        where = f"{error.filename}: " if error.filename else ""
        return f"{where}{os.strerror(error.errno)}"
    if isinstance(error, RuntimeError) and "for writing: " in (text := str(error)):
        reason = text.rsplit("for writing: ", 1)[1].strip()
        if reason in {os.strerror(e) for e in UNWRITABLE_ERRNOS}:
            path = text.rsplit("could not open ", 1)[-1].rsplit(" for writing", 1)[0]
            return f"{path}: {reason}"
    return None
