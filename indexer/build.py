"""Build an index folder (format 2) from documents: chunk, embed, tokenize, write segments, commit.

Into a folder that already holds a segmented index, a build is one commit that replaces every segment
(under the write lock, so a service serving the folder carries on and reopens); anywhere else the new
folder is staged beside the destination and swapped in. Either way a crash leaves the previous index.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from corpus.types import Document
from indexer.bm25_index import STEMMER_LANGUAGE, STOPWORDS
from indexer.commit_point import check_writable, write_lock
from indexer.embedding import Encoder, embed_batches
from indexer.errors import IndexMismatchError
from indexer.index_folder import (
    FORMAT,
    FORMAT_VERSION,
    StagedFolder,
    corpus_fingerprint,
    read_manifest,
    utc_now,
)
from indexer.index_settings import IndexSettings, embedding_text
from indexer.lexical import K1, B
from indexer.load import SegmentCache
from indexer.segment import SegmentContent, publish_segment
from indexer.text_rules import TEXT_RULES
from indexer.writer import Changes, NewSegment, commit_changes, prepare_segment, write_new_segment

if TYPE_CHECKING:
    from indexer.embedding_cache import EmbeddingCache

ProgressCallback = Callable[[int], None]

__all__ = ["BuildReport", "IndexSettings", "build_index", "embed_texts", "embedding_text", "new_manifest"]


@dataclass(frozen=True)
class BuildReport:
    path: Path
    documents: int
    passages: int
    seconds: float

    @property
    def passages_per_second(self) -> float:
        return self.passages / self.seconds if self.seconds > 0 else float("inf")


def new_manifest(encoder_name: str, dimension: int, settings: IndexSettings, source: str) -> dict[str, Any]:
    """The manifest of an empty index (no segments) with these model and settings."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created_at": utc_now(),
        "version": 0,
        "generation": 0,
        "model": {"name": encoder_name, "dimension": dimension, "normalized": True},
        **settings.manifest_view(),
        "text_rules": TEXT_RULES,
        "bm25": {"method": "lucene", "k1": K1, "b": B, "stopwords": STOPWORDS, "stemmer": STEMMER_LANGUAGE},
        "corpus": {"source": source, "fingerprint": None},
        "counts": {"documents": 0, "passages": 0},
        "segments": [],
        "files": {},
    }


def build_index(
    documents: Sequence[Document],
    encoder: Encoder,
    destination: Path,
    settings: IndexSettings | None = None,
    source: str = "",
    on_passages: Callable[[int], ProgressCallback] | None = None,
    cache: EmbeddingCache | None = None,
    version: int | None = None,
    vectors_of: Callable[[list[str]], np.ndarray] | None = None,
) -> BuildReport:
    """Build the index of ``documents`` into ``destination``, replacing any index there only at the end.
    ``version`` is the index version it is written as (default: one above the index it replaces, or 1).

    ``on_passages(total)`` is called once the passages are known and returns a callback that is
    told how many passages each embedded batch held (for a progress bar). With ``cache``, passages whose
    embedded text is cached for the encoder's model are not embedded again. ``vectors_of(texts)``, when
    given, supplies the vectors instead (computed elsewhere, e.g. by the Ray build).
    """
    started = time.perf_counter()
    settings = settings or IndexSettings()
    destination = Path(destination)

    def cached_vectors(texts: list[str]) -> np.ndarray:
        progress = on_passages(len(texts)) if on_passages else None
        return embed_texts(encoder, texts, settings.batch_size, progress, cache)

    if vectors_of is None and cache is not None:
        vectors_of = cached_vectors
    check_writable(destination)  # a read-only folder is said before the embedding, not after
    content = prepare_segment(list(documents), encoder, settings, on_passages, vectors_of)
    manifest = {
        **new_manifest(encoder.name, encoder.dimension, settings, source),
        "corpus": {"source": source, "fingerprint": corpus_fingerprint(documents)},
    }
    if has_segmented_index(destination):
        with write_lock(destination):
            old = read_manifest(destination)
            parts = [
                write_new_segment(destination, part, int(old.get("generation", 0)), settings.index_type)
                for part in split_content(content, settings.shard_size)
            ]
            updates = {
                k: v for k, v in manifest.items() if k not in ("version", "generation", "segments", "files")
            }
            changes = Changes(
                add=tuple(parts),
                drop=frozenset(e["name"] for e in old.get("segments", [])),
                manifest_updates=updates,
            )
            commit_changes(destination, changes, SegmentCache(destination), version=version)
    else:
        write_fresh(destination, content, manifest, settings, version or 1)
    return BuildReport(destination, len(documents), len(content.passages), time.perf_counter() - started)


def has_segmented_index(folder: Path) -> bool:
    try:
        read_manifest(folder)
    except IndexMismatchError:
        return False
    return True


def write_fresh(
    destination: Path,
    content: SegmentContent,
    manifest: dict[str, Any],
    settings: IndexSettings,
    version: int,
) -> None:
    """A new index folder staged beside ``destination`` and swapped in (replacing a format-1 index or
    anything else there)."""
    staged = StagedFolder.create(destination)
    try:
        parts = [
            write_new_segment(staged.path, part, 0, settings.index_type)
            for part in split_content(content, settings.shard_size)
        ]
        for part in parts:
            publish_segment(staged.path, part.entry["name"])
        staged.commit(manifest_with(manifest, parts, version))
    except BaseException:
        staged.abort()
        raise


def manifest_with(manifest: dict[str, Any], parts: Sequence[NewSegment], version: int) -> dict[str, Any]:
    files: dict[str, dict[str, Any]] = {}
    for part in parts:
        files.update(part.files)
    entries = [part.entry for part in parts]
    return {
        **manifest,
        "version": version,
        "generation": 1,
        "counts": {
            "documents": sum(e["documents"] for e in entries),
            "passages": sum(e["passages"] for e in entries),
        },
        "segments": entries,
        "files": files,
    }


def split_content(content: SegmentContent, shard_size: int) -> list[SegmentContent]:
    """One segment's content per ``shard_size`` passages or so (a document is never split); an empty
    corpus gives no segment."""
    if not content.documents:
        return []
    by_doc: dict[str, list[int]] = {}
    for position, passage in enumerate(content.passages):
        by_doc.setdefault(passage.doc_id, []).append(position)
    parts, documents, rows = [], [], []
    for document in content.documents:
        documents.append(document)
        rows.extend(by_doc.get(document.doc_id, []))
        if len(rows) >= shard_size:
            parts.append(subset(content, documents, rows))
            documents, rows = [], []
    if documents:
        parts.append(subset(content, documents, rows))
    return parts


def subset(content: SegmentContent, documents: list[Document], rows: list[int]) -> SegmentContent:
    """The documents, passage ``rows`` and those passages' sentences of ``content``, renumbered."""
    sentences, sentence_vectors = None, None
    if content.sentences is not None and content.sentence_vectors is not None:
        sentences, positions = content.sentences.of_passages(rows)
        sentence_vectors = content.sentence_vectors[positions]
    return SegmentContent(
        documents,
        [content.passages[r] for r in rows],
        content.vectors[rows] if rows else content.vectors[:0],
        [content.tokens[r] for r in rows],
        sentences=sentences,
        sentence_vectors=sentence_vectors,
    )


def embed_texts(
    encoder: Encoder,
    texts: list[str],
    batch_size: int,
    progress: ProgressCallback | None,
    cache: EmbeddingCache | None,
) -> np.ndarray:
    """Vectors of ``texts``, through ``cache`` when one is given."""
    if not texts:
        return np.empty((0, encoder.dimension), dtype=np.float32)
    if cache is None:
        return embed_batches(encoder, texts, batch_size, progress)
    return cache.embed(encoder, texts, batch_size, progress)
