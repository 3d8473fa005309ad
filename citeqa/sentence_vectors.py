"""Sentence vectors of a whole index, computed ahead of queries for the answer layer.

Answers score every sentence of a response's first results against the question (citeqa.sentence_scoring).
Embedding those sentences at query time costs several times the question's own encoding whenever the results
are new, so the service embeds every sentence of every passage once, through the persistent embedding cache
(keyed by model and text, see indexer.embedding_cache): the first start of a new index embeds its sentences,
later starts only read them. A sentence of a merged or trimmed result that is not a passage sentence is
still embedded at query time (and kept in the answerer's LRU, see citeqa.sentence_caches).
"""

from __future__ import annotations

import numpy as np

from citeqa.sentence_scoring import passage_sentences
from indexer.embedding import Encoder
from indexer.embedding_cache import EmbeddingCache
from indexer.load import LoadedIndex


def index_sentences(index: LoadedIndex) -> list[str]:
    """The distinct sentence texts of every passage of ``index``, in passage order."""
    texts: dict[str, None] = {}
    for passage in index.passages:
        document_text = index.documents[passage.doc_id].text
        for span in passage_sentences(document_text, passage.start, passage.end):
            texts.setdefault(document_text[span.start : span.end])
    return list(texts)


def precompute_sentence_vectors(
    encoder: Encoder, index: LoadedIndex, cache: EmbeddingCache, batch_size: int = 64
) -> dict[str, np.ndarray]:
    """Text -> vector of every sentence of ``index``: cached ones read, the others embedded and cached."""
    texts = index_sentences(index)
    vectors = cache.embed(encoder, texts, batch_size) if texts else np.empty((0, encoder.dimension))
    return dict(zip(texts, vectors, strict=True))
