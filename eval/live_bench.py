"""Per-write cost of the living index at a given size: `python -m eval.live_bench --passages 10000`.

The base snapshot's vectors are random unit vectors (their values do not change the cost of copying them,
building the flat FAISS index and BM25), the written document is embedded by the real model. Prints the
median of a few single-document puts and deletes."""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from corpus.types import Document
from indexer.bm25_index import Bm25Index
from indexer.build import IndexSettings
from indexer.chunking import chunk_corpus
from indexer.embedding import SentenceTransformerEncoder
from indexer.live import LiveIndex
from indexer.load import LoadedIndex
from indexer.vector_index import FaissIndex

WORDS = "seal walrus tusk ice shore breath dive pup colony krill fish coast tide rock sand".split()


def synthetic_index(passages: int, encoder: SentenceTransformerEncoder, seed: int = 0) -> LoadedIndex:
    rng = np.random.default_rng(seed)
    settings = IndexSettings()
    per_doc = 10  # sentences of 12 words; ~1 passage each at 120 words max
    documents = []
    for n in range(passages // 1 + 1):
        sentences = [" ".join(rng.choice(WORDS, 12)).capitalize() + "." for _ in range(per_doc * 10)]
        documents.append(Document(doc_id=f"d{n}", title=f"Doc {n}", text=" ".join(sentences)))
        if sum(1 for _ in chunk_corpus(documents[-1:], settings.chunker)) * len(documents) >= passages:
            break
    chunked = list(chunk_corpus(documents, settings.chunker))
    vectors = rng.normal(size=(len(chunked), encoder.dimension)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    manifest = {
        "version": 1,
        "created_at": "",
        "model": {"name": encoder.name, "dimension": encoder.dimension, "normalized": True},
        **settings.manifest_view(),
        "corpus": {},
        "counts": {"documents": len(documents), "passages": len(chunked)},
    }
    return LoadedIndex(
        Path("unused"),
        manifest,
        {d.doc_id: d for d in documents},
        chunked,
        FaissIndex.build(vectors),
        Bm25Index.build([p.text for p in chunked]),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--passages", type=int, default=10_000)
    parser.add_argument("--writes", type=int, default=5)
    args = parser.parse_args()
    encoder = SentenceTransformerEncoder()
    base = synthetic_index(args.passages, encoder)
    live = LiveIndex(base, encoder, journal=None)
    live._require_journal = lambda: _NoJournal()  # measure the snapshot work, not the disk
    puts, deletes = [], []
    for n in range(args.writes):
        text = "Harbor seals can hold their breath for thirty minutes. Pups swim within hours. " * 3
        started = time.perf_counter()
        live.put([Document(doc_id=f"new{n}", title="Seals", text=text)])
        puts.append(time.perf_counter() - started)
        started = time.perf_counter()
        live.delete([f"new{n}"])
        deletes.append(time.perf_counter() - started)
    print(
        f"{len(base.passages)} passages, {len(base.documents)} documents: one-document put median "
        f"{statistics.median(puts) * 1000:.0f} ms, delete median {statistics.median(deletes) * 1000:.0f} ms "
        f"({args.writes} each; snapshot work only, journal fsync excluded)"
    )


class _NoJournal:
    def append(self, entry: object) -> None:
        pass


if __name__ == "__main__":
    main()
