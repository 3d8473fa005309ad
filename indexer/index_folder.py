"""What every index folder shares: the manifest (``manifest.json``: format, versions, model, settings,
counts, the sha256 and size of every file it names) and how it is read and checked, document records,
checksums, fsync and the staged-folder swap.

Format 2 (segments and a commit point) is laid out in indexer/segment.py and committed by
indexer/commit_point.py; format 1 (one block: documents.jsonl, passages.jsonl, shards/dense-NNN.faiss,
bm25/) is only read, by indexer/format1.py, to be upgraded. A fresh folder is written to a temporary
sibling and moved into place with os.replace, so a crash leaves the previous index untouched.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from corpus.types import Document
from indexer.errors import IndexMismatchError
from indexer.types import Passage

FORMAT = "citeqa-index"
FORMAT_VERSION = 2
FORMAT1 = 1
MANIFEST = "manifest.json"
# The answerability calibration fitted for this index (`citeqa eval --calibrate --index`): not part of the
# index's files (not in the manifest), kept by writes, merges and rebuilds in place (they touch segments/
# and the manifest only); a build that swaps in a new folder (StagedFolder) does not carry it over.
CALIBRATION_FILE = "calibration.json"
DOCUMENTS = "documents.jsonl"
PASSAGES = "passages.jsonl"
BM25_FOLDER = "bm25"
REBUILD_HINT = (
    "rebuild it from its stored documents with `citeqa rebuild --index {path}`, or from the corpus with "
    "`citeqa index --index {path}` (or `make run`)"
)


CORPUS_HINT = "rebuild it from the corpus with `citeqa index --index {path}` (or `make run`)"


def corpus_fingerprint(documents: Iterable[Document]) -> str:
    """A hash of everything that a document contributes to an index."""
    digest = hashlib.sha256()
    for document in documents:
        digest.update(json.dumps(document_record(document), sort_keys=True, ensure_ascii=False).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def content_hash(document: Document) -> str:
    """sha256 of everything one document contributes to an index (its corpus fingerprint alone)."""
    return corpus_fingerprint([document])


def document_record(document: Document) -> dict[str, Any]:
    """The JSON record of a document; ``page_starts`` only when it has pages, so the record (and the
    corpus fingerprint) of a document without pages is what it was before pages existed."""
    record = asdict(document)
    record["metadata"] = dict(document.metadata)
    if document.page_starts:
        record["page_starts"] = list(document.page_starts)
    else:
        del record["page_starts"]
    return record


def document_from_record(record: dict[str, Any]) -> Document:
    return Document(
        **{
            **record,
            "metadata": dict(record.get("metadata") or {}),
            "page_starts": tuple(record.get("page_starts") or ()),
        }
    )


def passage_record(passage: Passage) -> dict[str, Any]:
    return asdict(passage)


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False))
            out.write("\n")


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                raise IndexMismatchError(f"{path}: line {number} is not valid JSON") from None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as data:
        for block in iter(lambda: data.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checksums(folder: Path) -> dict[str, dict[str, Any]]:
    """sha256 and size of every file in ``folder`` but the manifest, by relative POSIX path."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)
    return {
        p.relative_to(folder).as_posix(): {"sha256": sha256_file(p), "bytes": p.stat().st_size} for p in files
    }


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# What marks a folder as an index a build may replace (a damaged one too): its manifest, a sharded index's
# shards.json, format 2's segments/ or format 1's documents.jsonl.
INDEX_MARKS = frozenset({MANIFEST, "shards.json", "segments", DOCUMENTS})


def check_replaceable(destination: Path) -> None:
    """Refuse to build over what is not an index folder: a file, or a folder holding other files (a build
    swaps in a new folder and deletes the old one whole: `citeqa index --corpus docs --index docs`
    deleted the documents). A folder that does not exist, is empty or holds an index may be replaced."""
    destination = Path(destination)
    if not destination.exists():
        return
    if not destination.is_dir():
        raise IndexMismatchError(
            f"{destination} is a file, not an index folder: building the index there would replace it; "
            "pass a new or empty folder to --index"
        )
    names = sorted(entry.name for entry in destination.iterdir())
    if not names or INDEX_MARKS.intersection(names):
        return
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    raise IndexMismatchError(
        f"{destination} is not an index folder (it holds {shown}): building the index there would delete "
        "what it holds; pass a new or empty folder to --index"
    )


@dataclass(frozen=True)
class StagedFolder:
    """A temporary folder beside ``destination`` that becomes it on commit."""

    path: Path
    destination: Path

    @classmethod
    def create(cls, destination: Path) -> StagedFolder:
        destination = Path(destination)
        check_replaceable(destination)
        destination.parent.mkdir(parents=True, exist_ok=True)
        path = destination.parent / f".{destination.name}.tmp-{os.getpid()}-{time.time_ns()}"
        path.mkdir()
        return cls(path, destination)

    def commit(self, manifest: dict[str, Any], name: str = MANIFEST) -> None:
        """Write the manifest (as ``name``) last, fsync, then swap the folder into place."""
        manifest_path = self.path / name
        manifest_path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        _fsync_tree(self.path)
        old = None
        if self.destination.exists():
            old = self.destination.parent / f".{self.destination.name}.old-{time.time_ns()}"
            os.replace(self.destination, old)
        os.replace(self.path, self.destination)
        fsync_dir(self.destination.parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def abort(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def recover_interrupted_swap(destination: Path) -> None:
    """If a crash fell between the two renames of a commit, put the previous index back."""
    destination = Path(destination)
    if destination.exists():
        return
    leftovers = sorted(destination.parent.glob(f".{destination.name}.old-*"))
    if leftovers:
        os.replace(leftovers[-1], destination)


def nearest_existing(path: Path, folder: bool = False) -> Path:
    """``path`` itself or its nearest ancestor that exists (that is a folder, with ``folder``), else ".":
    where the folders missing on the way to ``path`` would be made, so where a write to it is tried."""
    return next((p for p in [path, *path.parents] if (p.is_dir() if folder else p.exists())), Path("."))


def read_manifest(folder: Path, formats: tuple[int, ...] = (FORMAT_VERSION,)) -> dict[str, Any]:
    """The manifest of an index folder of one of ``formats``; a format-1 folder (one block, before
    segments) is refused with the command that upgrades it unless ``formats`` admits it."""
    folder = Path(folder)
    # Without a manifest it can read, `citeqa rebuild` cannot tell the live segments: the corpus it is.
    hint = CORPUS_HINT.format(path=folder)
    path = folder / MANIFEST
    if folder.exists() and not folder.is_dir():
        # The corpus hint would name `citeqa index --index FILE`, which refuses a path holding a file.
        raise IndexMismatchError(
            f"{folder} is a file, not an index folder: point --index (or CITEQA_INDEX_PATH) at the folder "
            "that citeqa index wrote"
        )
    if not path.is_file():
        if (folder / "shards.json").is_file():
            raise IndexMismatchError(
                f"index at {folder} is sharded (shards.json): this command takes one shard folder, such as "
                f"{folder / 'shard-000'}"
            )
        raise IndexMismatchError.hinted(f"no index at {folder} (manifest.json missing)", hint)
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise IndexMismatchError.hinted(f"{path} is not valid JSON", hint) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise IndexMismatchError.hinted(f"{path} is not a citeqa index manifest", hint)
    if manifest.get("format_version") == FORMAT1 and FORMAT1 not in formats:
        raise IndexMismatchError(
            f"index at {folder} is in format 1 (one block, before segments); upgrade it in place, its "
            f"passage vectors kept (its sentences are embedded), with `citeqa upgrade --index {folder}` "
            "(`make run` and `citeqa serve` upgrade it themselves)"
        )
    if newer_format_version(manifest) is not None:
        raise IndexMismatchError(
            f"index at {folder} was written by a newer citeqa ({MANIFEST} has format_version "
            f"{manifest['format_version']}; this citeqa reads up to {FORMAT_VERSION}): serve it with the "
            "citeqa that wrote it, or rebuild this format from the corpus with `citeqa index --index "
            f"{folder}` (or `make run`), which first moves the newer folder aside, whole, to "
            f"{aside_path(folder).name}"
        )
    if manifest.get("format_version") not in formats:
        raise IndexMismatchError.hinted(
            f"{path} has format_version {manifest.get('format_version')}, "
            f"this citeqa reads {' or '.join(map(str, formats))} here",
            hint,
        )
    # A hand-edited null was a TypeError in every command (format 1's are checked by indexer.format1).
    for counter in ("version", "generation") if manifest["format_version"] == FORMAT_VERSION else ():
        value = manifest.get(counter, 1)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise IndexMismatchError.hinted(
                f"{path} has {counter} {json.dumps(value)}, not a whole number of at least 1", hint
            )
    return manifest


def newer_format_version(manifest: Any) -> int | None:
    """The format_version of a citeqa manifest written by a newer citeqa than this one, else None."""
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        return None
    version = manifest.get("format_version")
    return version if isinstance(version, int) and version > FORMAT_VERSION else None


def aside_path(folder: Path) -> Path:
    """Where ``set_aside_newer`` moves the index folder ``folder``: beside it, a name not taken yet (an
    absolute path: "." or ".." names no folder to put a name beside)."""
    folder = Path(os.path.abspath(folder))
    candidate, n = folder.with_name(f"{folder.name}.newer-format"), 1
    while candidate.exists():
        n += 1
        candidate = folder.with_name(f"{folder.name}.newer-format-{n}")
    return candidate


def newer_format_at(folder: Path) -> int | None:
    """The format_version of the index folder at ``folder`` when a newer citeqa wrote it, else None."""
    try:
        return newer_format_version(json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None


def set_aside_newer(folder: Path, version: int | None = None) -> tuple[Path, int] | None:
    """Move an index folder written by a newer citeqa (its manifest's format_version above this one's,
    or ``version`` when the caller found one, as in a sharded index) aside, whole, so that a build from
    the corpus replaces none of it (nor what was written into it): its new path and format_version, or
    None when ``folder`` holds no such index."""
    folder = Path(os.path.abspath(folder))
    version = version if version is not None else newer_format_at(folder)
    if version is None:
        return None
    aside = aside_path(folder)
    os.replace(folder, aside)
    fsync_dir(folder.parent)
    return aside, version


def verify_files(folder: Path, manifest: dict[str, Any], checksums: bool = True) -> None:
    """Every file the manifest lists exists with its size and sha256 (size only without ``checksums``);
    in format 1, also no data file is unlisted."""
    listed: dict[str, dict[str, Any]] = manifest.get("files", {})
    verify_listed(folder, listed, checksums)
    if manifest.get("format_version") != FORMAT1:
        return
    hint = REBUILD_HINT.format(path=folder)
    required = [DOCUMENTS, PASSAGES] + [shard["faiss"] for shard in manifest.get("shards", [])]
    on_disk = {
        p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST
    }
    for name in [*required, *sorted(on_disk)]:
        if name not in listed:
            raise IndexMismatchError.hinted(f"manifest.json in {folder} does not list {name}", hint)


def verify_listed(folder: Path, listed: dict[str, dict[str, Any]], checksums: bool = True) -> None:
    """Each file of ``listed`` (relative path -> sha256 and bytes) exists with its size and checksum."""
    hint = REBUILD_HINT.format(path=folder)
    for name, expected in listed.items():
        path = Path(folder) / name
        if not path.is_file():
            raise IndexMismatchError.hinted(f"index file {path} is missing", hint)
        if path.stat().st_size != expected["bytes"] or (
            checksums and sha256_file(path) != expected["sha256"]
        ):
            raise IndexMismatchError.hinted(
                f"index file {path} does not match its checksum in manifest.json", hint
            )


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
    for path in [folder, *(p for p in folder.rglob("*") if p.is_dir())]:
        fsync_dir(path)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
