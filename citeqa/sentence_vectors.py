"""Sentence vectors of segments that do not store them, computed ahead of queries for the answer layer.

Answers score every sentence of a response's first results against the question (citeqa.sentence_scoring).
An index written by this release stores every passage sentence's vector (indexer.sentences, read through
citeqa.stored_sentences), so nothing is embedded at start-up. A segment written by an earlier release (format
2 before sentences were stored) has none: its sentences are embedded once at start-up, through the
persistent embedding cache (keyed by model and text, see indexer.embedding_cache), so later starts only read
them; `citeqa rebuild` (or a merge of only new segments) stores them in the index for good. A sentence of a
merged or trimmed result that is not a passage sentence is still embedded at query time (and kept in the
answerer's LRU, see citeqa.sentence_caches).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from indexer.embedding import Encoder
from indexer.embedding_cache import EmbeddingCache
from indexer.load import LoadedIndex
from indexer.sentences import passage_sentences


def index_sentences(index: LoadedIndex, unstored_only: bool = False) -> list[str]:
    """The distinct sentence texts of every passage of ``index`` (``unstored_only``: of the segments that
    store no sentence vectors), in passage order."""
    texts: dict[str, None] = {}
    for segment in index.segments:
        reader = segment.reader
        if unstored_only and reader.has_sentences:
            continue
        for row in segment.live_rows:
            passage = reader.passage(int(row), 0)
            document_text = reader.document(int(reader.doc_rows[row])).text
            for span in passage_sentences(document_text, passage.start, passage.end):
                texts.setdefault(document_text[span.start : span.end])
    return list(texts)


def unstored_segments(index: LoadedIndex) -> list[str]:
    """Names of the segments of ``index`` written without sentence vectors (by an earlier release)."""
    return [s.reader.name for s in index.segments if not s.reader.has_sentences]


def precompute_sentence_vectors(
    encoder: Encoder,
    index: LoadedIndex,
    cache: EmbeddingCache,
    batch_size: int = 64,
    on_start: Callable[[int], Callable[[int], None] | None] | None = None,
) -> dict[str, np.ndarray]:
    """Text -> vector of every sentence of the segments of ``index`` that store none: cached ones read,
    the others embedded and cached. ``on_start(count)`` is told how many sentences there are (only when
    there are some) and may return a callback told how many each batch finished."""
    texts = index_sentences(index, unstored_only=True)
    if not texts:
        return {}
    progress = on_start(len(texts)) if on_start is not None else None
    vectors = cache.embed(encoder, texts, batch_size, progress)
    return dict(zip(texts, vectors, strict=True))
