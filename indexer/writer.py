"""Writes to a segmented index: a batch of documents becomes one new segment, a delete (or a document
replaced by a new version) marks rows in the segments that hold them, and every write is one commit.

``prepare_segment`` does the slow part (chunk, embed, tokenize) before the write lock is taken;
``commit_changes`` runs under the lock: it reads the newest commit (another process may have written),
writes the deletes files and the manifest, and removes what the new commit no longer names.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from corpus.types import Document
from indexer.chunking import chunk_document
from indexer.commit_point import collect_garbage, swap_manifest
from indexer.embedding import Encoder, embed_batches
from indexer.index_folder import content_hash, fsync_dir, read_manifest, utc_now
from indexer.index_settings import IndexSettings, embedding_text, indexed_title
from indexer.lexical import tokenize
from indexer.load import LoadedIndex, SegmentCache, open_commit
from indexer.segment import (
    SEGMENTS,
    SegmentContent,
    discard_segment,
    publish_segment,
    write_deletes,
    write_segment,
)
from indexer.sentences import split_sentences
from indexer.types import Passage


def new_segment_name(generation: int) -> str:
    """Unique among writers of any process: the generation it was started at, then random hex."""
    return f"seg-{generation:07d}-{uuid.uuid4().hex[:8]}"


def prepare_segment(
    documents: Sequence[Document],
    encoder: Encoder,
    settings: IndexSettings,
    on_passages: Callable[[int], Callable[[int], None] | None] | None = None,
    vectors_of: Callable[[list[str]], np.ndarray] | None = None,
) -> SegmentContent:
    """Chunk, embed and tokenize ``documents`` into the content of one segment (no lock held): the
    passages (title and text) and their distinct sentences (text alone, as the answer layer scores them)
    are embedded in one call. ``vectors_of`` replaces the embedding (a cache, or vectors already stored);
    ``on_passages`` is told how many texts (passages and sentences) will be embedded."""
    passages: list[Passage] = []
    for document in documents:
        passages.extend(chunk_document(document, settings.chunker, len(passages)))
    titles = {d.doc_id: indexed_title(d) for d in documents}
    texts = [embedding_text(p, titles[p.doc_id], settings.embed_title) for p in passages]
    document_texts = {d.doc_id: d.text for d in documents}
    sentences, sentence_texts, sentence_of_row = split_sentences(passages, document_texts)
    everything = texts + sentence_texts
    if vectors_of is not None:
        vectors = vectors_of(everything)
    elif everything:
        progress = on_passages(len(everything)) if on_passages else None
        vectors = embed_batches(encoder, everything, settings.batch_size, progress)
    else:
        vectors = np.empty((0, encoder.dimension), dtype=np.float32)
    bm25_texts = [embedding_text(p, titles[p.doc_id], settings.bm25_title) for p in passages]
    passage_vectors = vectors[: len(texts)]
    sentence_vectors = vectors[len(texts) :][sentence_of_row] if len(sentences) else vectors[:0]
    return SegmentContent(
        list(documents), passages, passage_vectors, tokenize(bm25_texts), None, sentences, sentence_vectors
    )


@dataclass(frozen=True)
class NewSegment:
    """A segment written to its pending folder, to be named by the next commit. ``origins`` (for a
    merge or a rebuild): the (segment name, document row) each of its documents came from, so that a
    delete committed meanwhile on the source is carried over."""

    entry: dict[str, Any]
    files: dict[str, dict[str, Any]]
    origins: tuple[tuple[str, int], ...] = ()


def write_new_segment(
    folder: Path,
    content: SegmentContent,
    generation: int,
    index_type: str,
    origins: Sequence[tuple[str, int]] = (),
) -> NewSegment:
    entry, files = write_segment(folder, new_segment_name(generation), content, index_type)
    return NewSegment(entry, files, tuple(origins))


@dataclass(frozen=True)
class Changes:
    """One commit: segments to add, documents to delete wherever they are live, segments to drop (merged
    away), and whether the documents change (a new index version) or only their layout (a merge)."""

    add: tuple[NewSegment, ...] = ()
    delete: frozenset[str] = frozenset()
    drop: frozenset[str] = frozenset()
    new_version: bool = True
    manifest_updates: dict[str, Any] = field(default_factory=dict)


def commit_changes(
    folder: Path,
    changes: Changes,
    cache: SegmentCache,
    version: int | None = None,
    current: LoadedIndex | None = None,
) -> LoadedIndex:
    """Apply ``changes`` on top of the newest commit and commit them (the caller holds the write lock).
    ``current``: that commit, if the caller opened it under the lock. Returns the new commit, opened
    through ``cache``. If it fails before its manifest is in place, the new segments are removed (no
    commit names them; the deletes files it wrote are removed by the next writer)."""
    folder = Path(folder)
    try:
        new_manifest = stage_changes(folder, changes, cache, version, current)
    except BaseException:
        for new in changes.add:
            discard_segment(folder, new.entry["name"])
        raise
    fsync_dir(folder)
    collect_garbage(folder, new_manifest)
    return open_commit(folder, new_manifest, cache)


def stage_changes(
    folder: Path,
    changes: Changes,
    cache: SegmentCache,
    version: int | None,
    current: LoadedIndex | None,
) -> dict[str, Any]:
    """The commit of ``commit_changes`` up to its manifest's rename, done: returns that manifest."""
    manifest = read_manifest(folder)
    if current is not None and current.manifest != manifest:
        current = None
    # Only deletes need the segments open (a rebuild from stored documents drops damaged ones unopened).
    needs_open = bool(changes.delete) or any(new.origins for new in changes.add)
    if needs_open and current is None:
        current = open_commit(folder, manifest, cache)
    generation = int(manifest.get("generation", manifest.get("version", 1))) + 1
    files = dict(manifest.get("files", {}))
    to_sync: list[Path] = []  # fsync'ed with the staged manifest, in one round, before the commit
    live_now = {s.reader.name: s for s in current.segments} if current is not None else {}
    entries: list[dict[str, Any]] = []
    for entry in manifest.get("segments", []):
        name = entry["name"]
        if name in changes.drop:
            drop_files(files, name)
            continue
        segment = live_now.get(name)
        if segment is not None and changes.delete:
            hit = [row for d in changes.delete if (row := segment.reader.doc_index.get(d)) is not None]
            rows = np.asarray([r for r in hit if segment.doc_live[r]], dtype=np.int64)
            if len(rows):
                reader = segment.reader
                entry = with_deletes(
                    folder, entry, segment.doc_live, rows, generation, files, reader.doc_rows, to_sync
                )
        if entry["deleted_documents"] < entry["documents"]:
            entries.append(entry)
        else:
            drop_files(files, name)
    for new in changes.add:
        entry = dict(new.entry)
        publish_segment(folder, entry["name"], sync=False)
        files.update(new.files)
        gone = [
            row
            for row, (source, source_row) in enumerate(new.origins)
            if not still_live(live_now, changes, source, source_row)
        ]
        if gone:
            doc_live = np.ones(entry["documents"], dtype=bool)
            reader = cache.reader(entry, {**manifest, "files": files})
            entry = with_deletes(
                folder, entry, doc_live, np.asarray(gone), generation, files, reader.doc_rows, to_sync
            )
        if entry["deleted_documents"] < entry["documents"]:
            entries.append(entry)
        else:
            drop_files(files, entry["name"])
    next_version = (
        int(manifest.get("version", 1)) + 1 if changes.new_version else int(manifest.get("version", 1))
    )
    if version is not None:
        next_version = version
    documents = sum(e["documents"] - e["deleted_documents"] for e in entries)
    passages = sum(e["passages"] - e.get("deleted_passages", 0) for e in entries)
    new_manifest = {
        **manifest,
        **changes.manifest_updates,
        "created_at": utc_now(),
        "version": next_version,
        "generation": generation,
        "counts": {"documents": documents, "passages": passages},
        "segments": entries,
        "files": files,
    }
    if changes.new_version and "corpus" not in changes.manifest_updates:
        # The documents no longer are the corpus the index was built from (see indexer.staleness).
        new_manifest["corpus"] = {**manifest.get("corpus", {}), "fingerprint": None}
    if changes.add:
        to_sync.append(folder / SEGMENTS)  # the renames of publish_segment
    swap_manifest(folder, new_manifest, to_sync)
    return new_manifest


def still_live(live_now: dict[str, Any], changes: Changes, source: str, row: int) -> bool:
    """Whether a document a merge copied is live in the newest commit and not deleted by this one."""
    segment = live_now.get(source)
    if segment is None or not segment.doc_live[row]:
        return False
    return segment.reader.doc_ids[row] not in changes.delete


def with_deletes(
    folder: Path,
    entry: dict[str, Any],
    doc_live: np.ndarray,
    rows: np.ndarray,
    generation: int,
    files: dict[str, dict[str, Any]],
    doc_rows: np.ndarray,
    to_sync: list[Path],
) -> dict[str, Any]:
    """The segment's entry with ``rows`` deleted too: a new deletes file (every deleted row) replaces
    the old one in ``files``; its path goes to ``to_sync`` (fsync'ed before the commit)."""
    live = doc_live.copy()
    live[rows] = False
    deleted = np.flatnonzero(~live)
    if entry.get("deletes"):
        files.pop(entry["deletes"], None)
    checksum = write_deletes(folder, entry["name"], generation, deleted, sync=False)
    to_sync.extend(Path(folder) / path for path in checksum)
    files.update(checksum)
    return {
        **entry,
        "deletes": next(iter(checksum)),
        "deleted_documents": len(deleted),
        "deleted_passages": int((~live[doc_rows]).sum()),
    }


def drop_files(files: dict[str, dict[str, Any]], name: str) -> None:
    prefix = f"segments/{name}/"
    for path in [p for p in files if p.startswith(prefix)]:
        del files[path]


def changed_documents(documents: Iterable[Document], index: LoadedIndex) -> list[Document]:
    """The documents whose content differs from (or is missing in) ``index``."""
    changed = []
    for document in documents:
        found = index.documents.locate(document.doc_id)
        if found is None or found[0].reader.content_hashes[found[1]] != content_hash(document):
            changed.append(document)
    return changed
