"""The write-ahead journal of a format-1 index (before segments), read once when the folder is upgraded
(indexer.upgrade): one JSON line per acknowledged write batch, kept beside the index folder
(``<index>.journal.jsonl``). Format 2 needs no journal: every write is a commit.

A line is ``{"version": v, "ops": [...], "sha256": <of the canonical JSON of version and ops>}`` with ops
``{"op": "put", "document": {...}}`` or ``{"op": "delete", "doc_id": "..."}``. On replay, a torn or
bad-checksum LAST line was never acknowledged (the crash fell inside its write): it is dropped and cut
off. A bad line anywhere else means the file was damaged after the fact: replay refuses.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from indexer.errors import IndexMismatchError

JOURNAL_SUFFIX = ".journal.jsonl"


class JournalError(IndexMismatchError):
    """The journal is damaged in a way replay cannot repair, or another process holds it."""


def journal_path(index_folder: Path) -> Path:
    index_folder = Path(index_folder)
    return index_folder.parent / f"{index_folder.name}{JOURNAL_SUFFIX}"


@dataclass(frozen=True)
class JournalEntry:
    version: int
    ops: tuple[dict[str, Any], ...]


def payload_digest(version: int, ops: list[dict[str, Any]] | tuple[dict[str, Any], ...]) -> str:
    canonical = json.dumps({"version": version, "ops": list(ops)}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def encode_entry(entry: JournalEntry) -> bytes:
    digest = payload_digest(entry.version, entry.ops)
    record = {"version": entry.version, "ops": list(entry.ops), "sha256": digest}
    return (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")


def decode_line(line: bytes) -> JournalEntry | None:
    """The entry of one complete line, or None if the line is not a whole, intact entry."""
    try:
        record = json.loads(line.decode("utf-8"))
        version, ops, digest = record["version"], record["ops"], record["sha256"]
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError):
        return None
    if not isinstance(version, int) or not isinstance(ops, list) or payload_digest(version, ops) != digest:
        return None
    return JournalEntry(version, tuple(ops))


def read_journal(path: Path, repair: bool = False) -> list[JournalEntry]:
    """Every intact entry, in order. A damaged last line is ignored (and cut off with ``repair``); a
    damaged line before the last raises JournalError."""
    path = Path(path)
    if not path.is_file():
        return []
    data = path.read_bytes()
    entries: list[JournalEntry] = []
    position = 0
    lines = data.split(b"\n")
    # A file that ends in "\n" splits into a last empty piece; anything else in that slot is a torn line.
    for number, line in enumerate(lines[:-1], 1):
        entry = decode_line(line)
        is_last = number == len(lines) - 1 and not lines[-1]
        if entry is None:
            if is_last:
                break
            raise JournalError(
                f"journal {path}: line {number} is damaged (not an intact entry) and later entries follow; "
                "the journal cannot be replayed safely: restore it from a backup, or move it away to serve "
                "the last checkpoint without the writes it held"
            )
        if entries and entry.version <= entries[-1].version:
            raise JournalError(
                f"journal {path}: line {number} has version {entry.version}, not above the line before"
            )
        entries.append(entry)
        position += len(line) + 1
    if repair and position < len(data):
        with path.open("r+b") as handle:
            handle.truncate(position)
            handle.flush()
            os.fsync(handle.fileno())
    return entries
