"""The answer layer's caches, keyed by text: sentence vectors (preloaded ones first, then an LRU) and the
content-term sets of sentences and questions (an LRU).

Popular passages recur across queries, so a cached sentence costs no encoding and no tokenizing (tokenizing
costs about as much per query as the rest of the answer layer). Being keyed by text, the caches hold for
the answerer of any snapshot of the index: unchanged documents keep their sentences.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from indexer.embedding import Encoder
from indexer.lru import LRU

# Sentence vectors (and term sets) kept per answerer, least recently used dropped first. 20,000 vectors of
# 384 floats is about 30 MB.
SENTENCE_CACHE_SIZE = 20_000
ENCODE_BATCH_SIZE = 64

TermSets = list[frozenset[str]]


def _vector_lru() -> LRU[str, np.ndarray]:
    return LRU(SENTENCE_CACHE_SIZE)


def _term_lru() -> LRU[str, frozenset[str]]:
    return LRU(SENTENCE_CACHE_SIZE)


@dataclass
class SentenceCaches:
    """``stored``: the vectors the index stores (citeqa.stored_sentences), of one snapshot; ``preloaded``:
    vectors computed ahead (citeqa.sentence_vectors, for segments that store none); both are looked up
    before the LRU and never evicted. ``vectors`` and ``terms``: LRUs of what was computed at query time."""

    vectors: LRU[str, np.ndarray] = field(default_factory=_vector_lru)
    terms: LRU[str, frozenset[str]] = field(default_factory=_term_lru)
    preloaded: Mapping[str, np.ndarray] = field(default_factory=dict)
    stored: Mapping[str, np.ndarray] = field(default_factory=dict)

    def shared(self, stored: Mapping[str, np.ndarray] | None = None) -> SentenceCaches:
        """New caches over the same LRUs and preloaded vectors (preloading either one later leaves the other
        as it is), with ``stored`` vectors of their own snapshot (default: none)."""
        return SentenceCaches(self.vectors, self.terms, self.preloaded, {} if stored is None else stored)

    def sentence_vectors(self, texts: Sequence[str], encoder: Encoder) -> dict[str, np.ndarray]:
        """Text -> vector of the given sentences: the ones neither stored, preloaded nor cached are embedded
        in one encode call."""
        stored, preloaded = self.stored, self.preloaded
        found: dict[str, np.ndarray] = {}
        for text in texts:
            vector = stored.get(text)
            if vector is None:
                vector = preloaded.get(text)
            if vector is not None:
                found[text] = vector
        rest = [t for t in texts if t not in found]
        if rest:
            vectors = self.vectors.get_many(
                rest, lambda missing: list(encoder.encode(missing, batch_size=ENCODE_BATCH_SIZE))
            )
            found.update(zip(rest, vectors, strict=True))
        return found

    def term_sets(self, texts: Sequence[str], tokenize: Callable[[Sequence[str]], TermSets]) -> TermSets:
        """Content terms of each text: the ones not cached are tokenized in one ``tokenize`` call."""
        return self.terms.get_many(texts, tokenize)
