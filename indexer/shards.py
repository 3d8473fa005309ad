"""A sharded index: N complete index folders (format 2 each, see indexer/segment.py) under one folder, and
the top-level manifest ``shards.json`` that lists them.

A document lives in exactly one shard, chosen by a hash of its doc_id (``shard_of``), so a build on any
engine puts it in the same shard and a write goes to the one shard that holds (or will hold) it. Each
shard is its own commit point: writes, deletes and merges commit in the shard alone, under the shard's
lock, exactly as in an index of one folder. ``shards.json`` is written once per build (the whole folder is
staged beside the old one and swapped in with os.replace) and records, per shard, its hash bucket and the
counts and manifest checksum it was built with; the index version of a sharded index is the sum of its
shards' versions, which every write raises.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corpus.types import Document
from indexer.build import BuildReport, build_index
from indexer.embedding import Encoder
from indexer.embedding_cache import EmbeddingCache
from indexer.errors import IndexMismatchError
from indexer.index_folder import (
    MANIFEST,
    StagedFolder,
    aside_path,
    content_hash,
    newer_format_at,
    read_manifest,
    sha256_file,
    utc_now,
)
from indexer.index_settings import IndexSettings
from indexer.staleness import index_damage, live_version

SHARDS_MANIFEST = "shards.json"
SHARDS_FORMAT = "citeqa-shards"
SHARDS_FORMAT_VERSION = 1
ASSIGNMENT = "blake2b-64(doc_id) mod shards"
MAX_SHARDS = 256


def shard_of(doc_id: str, shards: int) -> int:
    """The shard that holds ``doc_id``: the first 8 bytes of its BLAKE2b hash, big-endian, mod ``shards``
    (the same on every machine and Python, unlike ``hash()``)."""
    digest = hashlib.blake2b(doc_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


def shard_name(number: int) -> str:
    return f"shard-{number:03d}"


def split_by_shard(documents: Sequence[Document], shards: int) -> list[list[Document]]:
    """The documents of each shard, in corpus order."""
    parts: list[list[Document]] = [[] for _ in range(shards)]
    for document in documents:
        parts[shard_of(document.doc_id, shards)].append(document)
    return parts


def shard_fingerprint(content_hashes: Iterable[str]) -> str:
    """A shard's corpus fingerprint: sha256 over the content hashes of its documents, in corpus order."""
    digest = hashlib.sha256()
    for value in content_hashes:
        digest.update(f"{value}\n".encode())
    return digest.hexdigest()


def sharded_fingerprint(shard_fingerprints: Sequence[str]) -> str:
    """The corpus fingerprint of a sharded index: sha256 over its shards' fingerprints, in bucket order
    (each shard's can be computed where its documents are, on any engine)."""
    return shard_fingerprint(shard_fingerprints)


def corpus_sharded_fingerprint(documents: Sequence[Document], shards: int) -> str:
    """``sharded_fingerprint`` of ``documents`` split into ``shards``."""
    return sharded_fingerprint(
        [shard_fingerprint(map(content_hash, part)) for part in split_by_shard(documents, shards)]
    )


def is_sharded(folder: Path) -> bool:
    return (Path(folder) / SHARDS_MANIFEST).is_file()


def shard_folders_in(folder: Path) -> list[Path]:
    """The shard folders (``shard-000`` ...) under ``folder``, whatever its ``shards.json`` says."""
    return sorted(p for p in Path(folder).glob("shard-[0-9][0-9][0-9]") if p.is_dir())


def in_shard(error: IndexMismatchError, shard: Path, folder: Path) -> IndexMismatchError:
    """``error``, raised opening ``shard`` of the sharded index at ``folder``, with the rebuild a shard takes:
    from its stored documents, or the whole index from the corpus (`citeqa index --index SHARD` would build
    the whole corpus into that one shard). "Configure the index's model" is not said: the sharded index's
    model (shards.json) is the configured one, checked first, so a shard of another model is rebuilt."""
    message, hinted, hint = str(error).partition("; rebuild it from")
    if not hinted:
        return error
    stored = (
        f"its stored documents with `citeqa rebuild --index {shard}`, or " if "citeqa rebuild" in hint else ""
    )
    return IndexMismatchError(
        f"{message}; rebuild it from {stored}the whole sharded index from the corpus with `citeqa index "
        f"--index {folder}` (or `make run`)"
    )


def check_shard_count(shards: int) -> None:
    if not 1 <= shards <= MAX_SHARDS:
        raise IndexMismatchError(f"--shards must be between 1 and {MAX_SHARDS}, not {shards}")


@dataclass(frozen=True)
class ShardsManifest:
    """What ``shards.json`` holds: the shards in bucket order and the build they came from."""

    folder: Path
    data: dict[str, Any]

    @property
    def count(self) -> int:
        return len(self.data["shards"])

    @property
    def shard_folders(self) -> list[Path]:
        return [self.folder / entry["name"] for entry in self.data["shards"]]

    @property
    def model_name(self) -> str:
        return self.data["model"]["name"]

    def folder_of(self, doc_id: str) -> Path:
        return self.shard_folders[shard_of(doc_id, self.count)]


def read_shards_manifest(folder: Path) -> ShardsManifest:
    """The top-level manifest of a sharded index folder, checked."""
    folder = Path(folder)
    path = folder / SHARDS_MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        # e.g. `citeqa serve --engine ray` over a folder built without --shards
        one = (
            ": it holds one unsharded index, served as it is without --engine ray"
            if (folder / "manifest.json").is_file()
            else ""
        )
        raise IndexMismatchError(
            f"no sharded index at {folder} ({SHARDS_MANIFEST} missing){one}; build a sharded one with "
            "`citeqa index --shards N`"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise IndexMismatchError(
            f"{path} is not valid JSON; rebuild it with `citeqa index --shards N`"
        ) from None
    if not isinstance(data, dict):
        raise IndexMismatchError(
            f"{path} is not a citeqa shards manifest; rebuild it with `citeqa index --shards N`"
        )
    if (newer := newer_sharded_format(folder)) is not None and data.get("format") == SHARDS_FORMAT:
        where, version = newer
        raise IndexMismatchError(
            f"sharded index at {folder} was written by a newer citeqa ({where} has format_version "
            f"{version}): serve it with the citeqa that wrote it, or rebuild this format from the corpus "
            f"with `citeqa index --index {folder}` (or `make run`), which first moves the newer folder "
            f"aside, whole, to {aside_path(folder).name}"
        )
    if data.get("format") != SHARDS_FORMAT or data.get("format_version") != SHARDS_FORMAT_VERSION:
        raise IndexMismatchError(f"{path} is not a citeqa shards manifest of format {SHARDS_FORMAT_VERSION}")
    entries = data.get("shards") or []
    if [e.get("bucket") for e in entries] != list(range(len(entries))):
        raise IndexMismatchError(f"{path}: shards must be listed in bucket order 0..{len(entries) - 1}")
    for entry in entries:
        if not (folder / entry["name"] / MANIFEST).is_file():
            raise IndexMismatchError(f"{path} lists shard {entry['name']}, which has no index folder")
    return ShardsManifest(folder, data)


def shards_manifest(
    destination: Path, reports: Sequence[BuildReport], model: dict[str, Any], source: str, fingerprint: str
) -> dict[str, Any]:
    """The top-level manifest of shards just built into ``destination`` (each listed with its bucket,
    counts and the sha256 of the manifest it was built with)."""
    shards = []
    for bucket, report in enumerate(reports):
        shard_manifest = Path(destination) / shard_name(bucket) / MANIFEST
        shards.append(
            {
                "name": shard_name(bucket),
                "bucket": bucket,
                "documents": report.documents,
                "passages": report.passages,
                "built_manifest_sha256": sha256_file(shard_manifest),
            }
        )
    return {
        "format": SHARDS_FORMAT,
        "format_version": SHARDS_FORMAT_VERSION,
        "created_at": utc_now(),
        "model": model,
        "assignment": {"function": ASSIGNMENT, "shards": len(reports)},
        "corpus": {"source": source, "fingerprint": fingerprint},
        "counts": {
            "documents": sum(r.documents for r in reports),
            "passages": sum(r.passages for r in reports),
        },
        "shards": shards,
    }


def build_shard_folders(
    shards: int,
    destination: Path,
    build_shard: Callable[[int, Path], BuildReport],
    model: dict[str, Any],
    source: str,
    fingerprint: str,
) -> list[BuildReport]:
    """Stage a sharded index beside ``destination``, each shard built by ``build_shard(bucket, folder)``
    (by any engine), then ``shards.json`` last (with the corpus's ``sharded_fingerprint``), and swap the
    folder in (the previous index, of any format, stays whole until then)."""
    check_shard_count(shards)
    staged = StagedFolder.create(Path(destination))
    try:
        reports = [build_shard(bucket, staged.path / shard_name(bucket)) for bucket in range(shards)]
        top = shards_manifest(staged.path, reports, model, source, fingerprint)
        staged.commit(top, SHARDS_MANIFEST)
    except BaseException:
        staged.abort()
        raise
    return reports


def build_sharded_index(
    documents: Sequence[Document],
    encoder: Encoder,
    destination: Path,
    shards: int,
    settings: IndexSettings | None = None,
    source: str = "",
    on_passages: Callable[[int], Callable[[int], None]] | None = None,
    cache: EmbeddingCache | None = None,
) -> list[BuildReport]:
    """Build ``documents`` into ``shards`` shard folders in this process, one after the other."""

    check_shard_count(shards)
    parts = split_by_shard(documents, shards)

    def build_shard(bucket: int, folder: Path) -> BuildReport:
        return build_index(parts[bucket], encoder, folder, settings, source, on_passages, cache)

    model = {"name": encoder.name, "dimension": encoder.dimension, "normalized": True}
    fingerprint = corpus_sharded_fingerprint(documents, shards)
    return build_shard_folders(shards, destination, build_shard, model, source, fingerprint)


def sharded_is_current(
    folder: Path, fingerprint: str, model: str, shards: int, settings: IndexSettings
) -> bool:
    """Whether the sharded index at ``folder`` holds exactly the corpus of ``fingerprint`` (its
    ``sharded_fingerprint``), built with this model, shard count and index settings. A folder of the
    first sharded release (a fingerprint of the whole corpus in one hash) is not current: it is rebuilt."""
    manifest = readable_shards_manifest(folder)
    if manifest is None:
        return False
    if manifest.count != shards or manifest.model_name != model:
        return False
    if manifest.data["corpus"]["fingerprint"] != fingerprint:
        return False
    if damaged_shards(folder, model):
        return False
    view = settings.manifest_view()
    for shard in manifest.shard_folders:
        shard_manifest = read_manifest(shard)
        if any(shard_manifest.get(key) != value for key, value in view.items()):
            return False
    return True


def sharded_changed_by_writes(folder: Path) -> bool:
    """Whether any shard has taken writes since the sharded index was built (a shard whose manifest cannot
    be read says nothing, as an unsharded folder's does not)."""
    manifest = readable_shards_manifest(folder)
    if manifest is None:
        return False
    return any(live_version(shard) > 1 for shard in manifest.shard_folders)


def damaged_shards(folder: Path, model: str) -> list[tuple[Path, str]]:
    """Each shard of the sharded index at ``folder`` that the service would refuse to open with ``model``,
    with why (``indexer.staleness.index_damage``)."""
    manifest = readable_shards_manifest(folder)
    if manifest is None:
        return []
    found = ((shard, index_damage(shard, model)) for shard in manifest.shard_folders)
    return [(shard, damage) for shard, damage in found if damage is not None]


def sharded_index_holding(folder: Path) -> Path | None:
    """The sharded index that ``folder`` is a shard of (None when it is none): a document written into a
    shard folder directly may belong to another shard, where the sharded index would never look for it."""
    parent = Path(folder).resolve().parent
    manifest = readable_shards_manifest(parent)
    if manifest is None or Path(folder).resolve() not in manifest.shard_folders:
        return None
    return Path(folder).parent


def newer_sharded_format(folder: Path) -> tuple[Path, int] | None:
    """When a newer citeqa wrote the sharded index at ``folder`` (its shards.json, or a shard's manifest,
    of a higher format_version than this citeqa reads): that file and its format_version; else None."""
    path = Path(folder) / SHARDS_MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    version = data.get("format_version")
    if data.get("format") == SHARDS_FORMAT and isinstance(version, int) and version > SHARDS_FORMAT_VERSION:
        return path, version
    for shard in shard_folders_in(folder):
        if (version := newer_format_at(shard)) is not None:
            return shard / MANIFEST, version
    return None


def readable_shards_manifest(folder: Path) -> ShardsManifest | None:
    """The sharded index's manifest, or None when ``folder`` holds no readable sharded index."""
    if not is_sharded(folder):
        return None
    try:
        return read_shards_manifest(folder)
    except IndexMismatchError:
        return None
