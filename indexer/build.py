"""Build an index folder from documents: chunk, embed, FAISS + BM25, manifest; atomically."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from corpus.types import Document
from indexer.bm25_index import STEMMER_LANGUAGE, STOPWORDS, Bm25Index
from indexer.chunking import ChunkerSettings, chunk_corpus
from indexer.embedding import Encoder, embed_batches
from indexer.faiss_factory import INDEX_TYPES, choose_index_spec, tune_search_parameter
from indexer.index_folder import (
    BM25_FOLDER,
    DOCUMENTS,
    FORMAT,
    FORMAT_VERSION,
    PASSAGES,
    StagedFolder,
    checksums,
    corpus_fingerprint,
    document_record,
    passage_record,
    utc_now,
    write_jsonl,
)
from indexer.types import Passage

if TYPE_CHECKING:
    from indexer.embedding_cache import EmbeddingCache

ProgressCallback = Callable[[int], None]


@dataclass(frozen=True)
class IndexSettings:
    """Everything that decides an index's contents besides the corpus itself.

    ``embed_title`` / ``bm25_title``: the document title is put before each passage's text in what is
    embedded / what BM25 indexes (citations always quote the passage's own text).
    ``index_type``: the FAISS index of each shard, "auto" (by size: indexer/faiss_factory.py), "flat", "hnsw"
    or "ivf"; the parameters chosen are recorded per shard in the manifest.
    """

    chunker: ChunkerSettings = field(default_factory=ChunkerSettings)
    embed_title: bool = True
    bm25_title: bool = True
    shard_size: int = 1_000_000
    batch_size: int = 64
    index_type: str = "auto"

    def __post_init__(self) -> None:
        if self.index_type not in INDEX_TYPES:
            raise ValueError(f"index_type must be one of {', '.join(INDEX_TYPES)}, not {self.index_type!r}")

    def manifest_view(self) -> dict[str, Any]:
        return {
            "chunker": asdict(self.chunker),
            "embed_title": self.embed_title,
            "bm25_title": self.bm25_title,
            "index_type": self.index_type,
        }


@dataclass(frozen=True)
class BuildReport:
    path: Path
    documents: int
    passages: int
    seconds: float

    @property
    def passages_per_second(self) -> float:
        return self.passages / self.seconds if self.seconds > 0 else float("inf")


def embedding_text(passage: Passage, title: str, embed_title: bool) -> str:
    """What is embedded for a passage; citations always use the passage's own text and offsets."""
    return f"{title}\n{passage.text}" if embed_title and title else passage.text


def build_index(
    documents: Sequence[Document],
    encoder: Encoder,
    destination: Path,
    settings: IndexSettings = IndexSettings(),
    source: str = "",
    on_passages: Callable[[int], ProgressCallback] | None = None,
    cache: EmbeddingCache | None = None,
    version: int = 1,
) -> BuildReport:
    """Build the index of ``documents`` into ``destination``, replacing any index there only at the end.
    ``version`` is the index version it is written as (above any version the old index had served).

    ``on_passages(total)`` is called once the passages are known and returns a callback that is
    told how many passages each embedded batch held (for a progress bar). With ``cache``, passages whose
    embedded text is cached for the encoder's model are not embedded again.
    """
    started = time.perf_counter()
    titles = {d.doc_id: d.title for d in documents}
    passages = list(chunk_corpus(list(documents), settings.chunker))
    texts = [embedding_text(p, titles[p.doc_id], settings.embed_title) for p in passages]
    progress = on_passages(len(passages)) if on_passages else None
    vectors = embed_texts(encoder, texts, settings.batch_size, progress, cache)
    bm25_texts = [embedding_text(p, titles[p.doc_id], settings.bm25_title) for p in passages]
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created_at": utc_now(),
        "version": version,
        "model": {"name": encoder.name, "dimension": encoder.dimension, "normalized": True},
        **settings.manifest_view(),
        "bm25": {"folder": BM25_FOLDER, "stopwords": STOPWORDS, "stemmer": STEMMER_LANGUAGE},
        "corpus": {"source": source, "fingerprint": corpus_fingerprint(documents)},
        "counts": {"documents": len(documents), "passages": len(passages)},
    }
    write_index_folder(
        destination,
        documents,
        passages,
        vectors,
        Bm25Index.build(bm25_texts),
        manifest,
        settings.shard_size,
        settings.index_type,
    )
    return BuildReport(Path(destination), len(documents), len(passages), time.perf_counter() - started)


def write_index_folder(
    destination: Path,
    documents: Iterable[Document],
    passages: Iterable[Passage],
    vectors: np.ndarray,
    bm25: Bm25Index,
    manifest: dict[str, Any],
    shard_size: int,
    index_type: str = "flat",
) -> None:
    """Write an index folder at ``destination``: staged beside it, the manifest (completed with the shards
    and the checksums of every file) written last, then swapped in; a failure leaves the old folder."""
    staged = StagedFolder.create(destination)
    try:
        write_jsonl(staged.path / DOCUMENTS, (document_record(d) for d in documents))
        write_jsonl(staged.path / PASSAGES, (passage_record(p) for p in passages))
        shards = write_shards(staged.path, vectors, shard_size, index_type)
        bm25.save(staged.path / BM25_FOLDER)
        staged.commit({**manifest, "shards": shards, "files": checksums(staged.path)})
    except BaseException:
        staged.abort()
        raise


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


def write_shards(
    folder: Path, vectors: np.ndarray, shard_size: int, index_type: str = "flat"
) -> list[dict[str, Any]]:
    """One FAISS file per ``shard_size`` vectors, of the type ``index_type`` picks for the shard's size;
    an approximate shard's efSearch / nprobe is tuned to recall@10 >= 0.95 and recorded with the recall."""
    from indexer.vector_index import FaissIndex

    (folder / "shards").mkdir()
    shards = []
    for number, first in enumerate(range(0, max(len(vectors), 1), shard_size)):
        part = vectors[first : first + shard_size].reshape(-1, vectors.shape[1])
        name = f"shards/dense-{number:03d}.faiss"
        spec = choose_index_spec(len(part), vectors.shape[1], index_type)
        if spec.kind == "flat":
            index, recall = FaissIndex.build(part), 1.0
        else:
            index = FaissIndex.build_typed(part, spec)
            spec, recall = tune_search_parameter(index.shard(0), part, spec)
        index.save(folder / name)
        shards.append(
            {
                "faiss": name,
                "first_passage_id": first,
                "passages": len(part),
                "index": spec.manifest_view(),
                "tuned_recall_at_10": round(recall, 4),
            }
        )
    return shards
