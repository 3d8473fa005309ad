"""The answer layer's caches, keyed by text: sentence vectors (preloaded ones first, then an LRU), the
content-term sets of sentences (an LRU; a question's are not kept), and the sentence blocks of results'
passages (citeqa.sentence_blocks, an LRU keyed by document text and bounds) with their sentences' vectors.

Popular passages recur across queries, so a cached sentence costs no encoding and no tokenizing (tokenizing
costs about as much per query as the rest of the answer layer). Being keyed by text, the caches hold for
the answerer of any snapshot of the index: unchanged documents keep their sentences.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from citeqa.sentence_blocks import BlockKey, SentenceBlock
from indexer.embedding import Encoder
from indexer.lru import LRU

# Sentence vectors (and term sets) kept per answerer, least recently used dropped first. 20,000 vectors of
# 384 floats is about 30 MB.
SENTENCE_CACHE_SIZE = 20_000
ENCODE_BATCH_SIZE = 64
# Sentence blocks (a result's passage, about a dozen sentences each) kept, shared by every snapshot, and
# each snapshot's vector matrices of them (1,024 blocks of 13 vectors of 384 floats: about 20 MB).
BLOCK_CACHE_SIZE = 1_024

TermSets = list[frozenset[str]]


def _vector_lru() -> LRU[str, np.ndarray]:
    return LRU(SENTENCE_CACHE_SIZE)


def _term_lru() -> LRU[str, frozenset[str]]:
    return LRU(SENTENCE_CACHE_SIZE)


def _block_lru() -> LRU[BlockKey, SentenceBlock]:
    return LRU(BLOCK_CACHE_SIZE)


def _block_vector_lru() -> LRU[BlockKey, np.ndarray]:
    return LRU(BLOCK_CACHE_SIZE)


@dataclass
class SentenceCaches:
    """``stored``: the vectors the index stores (citeqa.stored_sentences), of one snapshot; ``preloaded``:
    vectors computed ahead (citeqa.sentence_vectors, for segments that store none); both are looked up
    before the LRU and never evicted. ``vectors`` and ``terms``: LRUs of what was computed at query time.
    ``blocks``: sentence blocks by passage; their vectors are kept apart, as ``sentence_vectors`` gives
    them with this ``stored`` and ``preloaded`` (forgotten when either is replaced)."""

    vectors: LRU[str, np.ndarray] = field(default_factory=_vector_lru)
    terms: LRU[str, frozenset[str]] = field(default_factory=_term_lru)
    preloaded: Mapping[str, np.ndarray] = field(default_factory=dict)
    stored: Mapping[str, np.ndarray] = field(default_factory=dict)
    blocks: LRU[BlockKey, SentenceBlock] = field(default_factory=_block_lru)
    _block_vectors: LRU[BlockKey, np.ndarray] = field(
        default_factory=_block_vector_lru, init=False, repr=False
    )
    _vector_sources: tuple[Mapping[str, np.ndarray], Mapping[str, np.ndarray]] | None = field(
        default=None, init=False, repr=False
    )

    def shared(self, stored: Mapping[str, np.ndarray] | None = None) -> SentenceCaches:
        """New caches over the same LRUs and preloaded vectors (preloading either one later leaves the other
        as it is), with ``stored`` vectors of their own snapshot (default: none)."""
        stored = {} if stored is None else stored
        return SentenceCaches(self.vectors, self.terms, self.preloaded, stored, self.blocks)

    def sentence_blocks(
        self, keys: Sequence[BlockKey], make: Callable[[BlockKey], SentenceBlock]
    ) -> list[SentenceBlock]:
        """The block of each passage: the ones not cached are made by ``make``."""
        return self.blocks.get_many(keys, lambda missing: [make(key) for key in missing])

    def block_vectors(
        self, keys: Sequence[BlockKey], blocks: Sequence[SentenceBlock], encoder: Encoder
    ) -> list[np.ndarray]:
        """The vectors of each block's sentences as one matrix, a row per sentence (``blocks``: those of
        ``keys``), as ``sentence_vectors`` gives them: the sentences of the blocks not cached are looked up
        (or embedded) in one call."""
        sources = (self.stored, self.preloaded)
        known = self._vector_sources
        if known is None or known[0] is not sources[0] or known[1] is not sources[1]:
            self._block_vectors, self._vector_sources = _block_vector_lru(), sources
        by_key = dict(zip(keys, blocks, strict=True))

        def compute(missing: list[BlockKey]) -> list[np.ndarray]:
            texts = list(dict.fromkeys(t for key in missing for t in by_key[key].texts))
            found = self.sentence_vectors(texts, encoder)
            return [block_matrix([found[t] for t in by_key[key].texts]) for key in missing]

        return self._block_vectors.get_many(keys, compute)

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


def block_matrix(vectors: Sequence[np.ndarray]) -> np.ndarray:
    """The vectors as the rows of one contiguous matrix (a block without sentences: no rows)."""
    return np.stack(vectors) if vectors else np.zeros((0, 0), dtype=np.float32)
