"""What the gatherer and a shard say to each other: two phases per question, as Elasticsearch's
``dfs_query_then_fetch``. First every shard reports its statistics for the question's terms
(``ShardStats``); then every shard is asked for its candidates under the corpus-wide statistics
(``ShardQuery`` -> ``ShardCandidates``), with, when the answer layer uses them, the shard's sentences
closest to the question (``ShardSentence``) and each candidate's best sentence score (sentence-level
fusion). All plain frozen dataclasses of numbers, strings and arrays, so they cross a process boundary
as they are."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from citeqa.filters import NormalizedFilters
from corpus.types import Document
from indexer.errors import IndexMismatchError
from indexer.lexical import CorpusStatistics
from indexer.types import Passage


class StaleShardError(IndexMismatchError):
    """A shard was asked about a commit it no longer holds (a write or merge landed between the two
    phases of one question): the gatherer asks again from the first phase."""


@dataclass(frozen=True)
class ShardState:
    """Where one shard is: its commit and what it holds."""

    bucket: int
    version: int
    generation: int
    documents: int
    passages: int


@dataclass(frozen=True)
class ShardStats:
    """Phase one: a shard's state, its BM25 statistics and the document frequency of each term asked
    about, and the filter keys its documents carry."""

    state: ShardState
    corpus: CorpusStatistics
    frequencies: dict[str, int]
    filter_keys: tuple[str, ...]


@dataclass(frozen=True)
class ShardQuery:
    """Phase two: the question, the vector retrieval searches with (None in bm25 mode), how deep each
    retriever goes, the corpus-wide statistics, the commit of the shard that phase one saw
    (``generation``) and the filters (already checked against every shard's keys). ``sentences``: how many
    of the shard's sentences closest to ``sentence_vector`` (the question's own vector, which the answer
    layer's sentence retrieval uses: not the adapted one) to send, 0 for none; ``sentence_scores``: whether
    to send each candidate's best sentence score for ``vector`` (sentence-level fusion)."""

    question: str
    vector: np.ndarray | None
    mode: str
    depth: int
    corpus: CorpusStatistics
    frequencies: dict[str, int]
    generation: int
    filters: NormalizedFilters | None = None
    sentences: int = 0
    sentence_vector: np.ndarray | None = None
    sentence_scores: bool = False


@dataclass(frozen=True)
class ShardSentence:
    """One of a shard's sentences closest to the question (citeqa.sentence_search.top_sentences): its
    document and offsets, its cosine, and the position of its passage in ``ShardCandidates.passages``
    (-1: a passage the filters leave out, sent only so that it keeps its rank among the hits)."""

    doc_id: str
    start: int
    end: int
    cosine: float
    passage: int


@dataclass(frozen=True)
class ShardCandidates:
    """A shard's answer to phase two: its ``depth`` best passages by each retriever (``dense_top`` and
    ``bm25_top``: positions into ``passages``, best first) and, for every passage of their union (and of
    the passages holding ``sentence_hits``, which the filters allow), both scores (BM25 under the
    corpus-wide statistics), its vector and its document, and the stored vectors of the sentences the
    answer may come from. When asked: the shard's closest sentences to the question, best first
    (``sentence_hits``), and each passage's best sentence score (``best_sentence_scores``, aligned with
    ``passages``, NaN where the shard stores no sentences for it)."""

    state: ShardState
    passages: list[Passage]
    documents: list[Document]
    vectors: np.ndarray
    dense_scores: np.ndarray
    bm25_scores: np.ndarray
    dense_top: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    bm25_top: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    sentence_vectors: dict[str, np.ndarray] = field(default_factory=dict)
    """The stored vectors of the sentences of the first passages of each list and of the passages holding
    ``sentence_hits`` (by text): what the answer layer scores, so the gatherer embeds none of them."""
    sentence_hits: tuple[ShardSentence, ...] = ()
    best_sentence_scores: np.ndarray | None = None
