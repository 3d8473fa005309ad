"""Immutable index snapshots built in memory from the previous one, and written out as checkpoints.

``compose`` makes the snapshot of a new document set: a document whose content hash (of its whole record:
text, title, metadata) is unchanged keeps its passages and its vectors, which are copied and never
embedded again; only new or changed documents are chunked and embedded. Passages are renumbered 0..n-1,
a new flat FAISS index is made from the kept + new vectors, and BM25 is rebuilt over the passage texts.

A passage's stable key is ``passage_key`` (``doc_id:start-end``): it does not change while its document
is unchanged, whatever the renumbering.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from corpus.types import Document
from indexer.bm25_index import Bm25Index
from indexer.build import IndexSettings, embed_texts, embedding_text, write_index_folder
from indexer.chunking import ChunkerSettings, chunk_document
from indexer.embedding import Encoder
from indexer.index_folder import content_hash, corpus_fingerprint, utc_now
from indexer.load import LoadedIndex
from indexer.types import Passage
from indexer.vector_index import FaissIndex


def passage_key(passage: Passage) -> str:
    return f"{passage.doc_id}:{passage.start}-{passage.end}"


def settings_of(manifest: dict[str, Any]) -> IndexSettings:
    """The IndexSettings an index was built with, from its manifest."""
    return IndexSettings(
        chunker=ChunkerSettings(**manifest["chunker"]),
        embed_title=bool(manifest["embed_title"]),
        bm25_title=bool(manifest["bm25_title"]),
    )


def all_vectors(dense: FaissIndex) -> np.ndarray:
    """Every stored vector, in id order."""
    n = len(dense)
    if n == 0:
        return np.empty((0, dense.dimension), dtype=np.float32)
    return dense.vectors(np.arange(n, dtype=np.int64))


@dataclass(frozen=True)
class Composed:
    index: LoadedIndex
    embedded_documents: int
    embedded_passages: int


def compose(
    documents: Sequence[Document],
    base: LoadedIndex | None,
    encoder: Encoder,
    manifest: dict[str, Any],
    version: int,
    path: Path,
    tokens: dict[str, list[str]] | None = None,
) -> Composed:
    """The snapshot of ``documents`` at ``version``, reusing ``base``'s passages and vectors of every
    unchanged document (``base`` None: everything is embedded, a full rebuild). ``manifest`` supplies
    the model and the index settings. ``tokens`` (BM25 text -> tokens) is a cache the caller keeps between
    snapshots: only texts missing from it are tokenized, and it is left holding this snapshot's texts."""
    settings = settings_of(manifest)
    old_vectors = all_vectors(base.dense) if base is not None else None
    old_passages: dict[str, list[Passage]] = {}
    if base is not None:
        for passage in base.passages:
            old_passages.setdefault(passage.doc_id, []).append(passage)
    passages: list[Passage] = []
    source_rows: list[int] = []  # row in old_vectors, or -1 for a passage to embed
    fresh: list[Document] = []
    for document in documents:
        previous = base.documents.get(document.doc_id) if base is not None else None
        if previous is not None and content_hash(previous) == content_hash(document):
            for passage in old_passages.get(document.doc_id, []):
                passages.append(replace(passage, passage_id=len(passages)))
                source_rows.append(passage.passage_id)
        else:
            fresh.append(document)
            for passage in chunk_document(document, settings.chunker, len(passages)):
                passages.append(passage)
                source_rows.append(-1)
    titles = {d.doc_id: d.title for d in documents}
    to_embed = [i for i, row in enumerate(source_rows) if row < 0]
    texts = [embedding_text(passages[i], titles[passages[i].doc_id], settings.embed_title) for i in to_embed]
    new_vectors = embed_texts(encoder, texts, settings.batch_size, None, None)
    dimension = int(manifest["model"]["dimension"])
    vectors = np.empty((len(passages), dimension), dtype=np.float32)
    kept = [i for i, row in enumerate(source_rows) if row >= 0]
    if kept:
        assert old_vectors is not None
        vectors[kept] = old_vectors[[source_rows[i] for i in kept]]
    if to_embed:
        vectors[to_embed] = new_vectors
    bm25_texts = [embedding_text(p, titles[p.doc_id], settings.bm25_title) for p in passages]
    new_manifest = {
        **manifest,
        "created_at": utc_now(),
        "version": version,
        "corpus": {**manifest.get("corpus", {}), "fingerprint": corpus_fingerprint(documents)},
        "counts": {"documents": len(documents), "passages": len(passages)},
    }
    index = LoadedIndex(
        path=Path(path),
        manifest=new_manifest,
        documents={d.doc_id: d for d in documents},
        passages=passages,
        dense=FaissIndex.build(vectors),
        bm25=bm25_of(bm25_texts, tokens),
    )
    return Composed(index, len(fresh), len(to_embed))


def bm25_of(texts: list[str], cache: dict[str, list[str]] | None) -> Bm25Index:
    if cache is None:
        return Bm25Index.build(texts)
    missing = sorted({t for t in texts if t not in cache})
    fresh = dict(zip(missing, Bm25Index.tokenize(missing), strict=True))
    known = {t: cache[t] if t in cache else fresh[t] for t in texts}
    cache.clear()
    cache.update(known)
    return Bm25Index.build_from_tokens([known[t] for t in texts])


def write_checkpoint(index: LoadedIndex, destination: Path) -> None:
    """Write ``index`` as an index folder at ``destination`` (staged beside it, swapped in at the end)."""
    vectors = all_vectors(index.dense)
    write_index_folder(
        destination,
        index.documents.values(),
        index.passages,
        vectors,
        index.bm25,
        index.manifest,
        shard_size=max(len(vectors), 1),
    )
