"""The passages the shards sent for one question, as an index the query core searches like any other.

Each shard sent its ``depth`` best passages by each retriever with both exact scores (BM25 under the
corpus-wide statistics), so the ``depth`` best of all shards by either retriever are among them, with the
scores one index of every shard's documents would give: ``Searcher`` and ``Answerer`` run over this
index unchanged and rank, fuse, page, answer and cite as they do over one folder (for any depth up to the
shards' ``depth``). A passage's id here is its position in this index; the API does not show it.

When the answer layer retrieves sentences, the index also carries the closest sentences of all shards
(``known_sentences``: each shard's best, merged), and when fusion weighs sentences, every candidate's best
sentence score as its shard computed it (``CandidateVectors.best_sentence_scores``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from citeqa.sentence_search import KnownSentences, SentenceHit
from citeqa.sharded.messages import ShardCandidates
from corpus.types import Document
from indexer.lexical import CorpusStatistics, top_positive
from indexer.types import Passage


class CandidateDocuments(Mapping[str, Document]):
    def __init__(self, documents: dict[str, Document], total: int) -> None:
        self._documents = documents
        self._total = total

    def __getitem__(self, doc_id: str) -> Document:
        return self._documents[doc_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._documents)

    def __len__(self) -> int:
        return len(self._documents)

    @property
    def total(self) -> int:
        """Documents in every shard (this mapping holds only the candidates')."""
        return self._total


class CandidateVectors:
    """The VectorIndex protocol over the candidates: a search for the question ranks them by the scores
    the shards' vector indexes gave (any other query vector is scored exactly against the vectors); each
    candidate's best sentence score for the question is the one its shard sent (``sentence_scores``, when
    the shards were asked for them)."""

    def __init__(
        self,
        vectors: np.ndarray,
        scores: np.ndarray,
        query: np.ndarray | None,
        sentence_scores: np.ndarray | None = None,
    ) -> None:
        self._vectors = vectors
        self._scores = scores
        self._query = query
        self._sentence_scores = sentence_scores
        self.dimension = vectors.shape[1]

    def __len__(self) -> int:
        return len(self._vectors)

    def search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        queries = np.asarray(queries, dtype=np.float32).reshape(-1, self.dimension)
        ids = np.arange(len(self._vectors)) if allowed is None else np.asarray(allowed, dtype=np.int64)
        out_scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        out_ids = np.full((len(queries), k), -1, dtype=np.int64)
        for q, vector in enumerate(queries):
            same = self._query is not None and np.array_equal(vector, self._query)
            scores = self._scores[ids] if same else self._vectors[ids] @ vector
            order = np.lexsort((ids, -scores))[:k]
            out_scores[q, : len(order)] = scores[order]
            out_ids[q, : len(order)] = ids[order]
        return out_scores, out_ids

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        return self._vectors[np.asarray(ids, dtype=np.int64)]

    def best_sentence_scores(self, ids: np.ndarray, query: np.ndarray) -> np.ndarray:
        """Per candidate id, the highest inner product of its stored sentence vectors with the question's
        search vector, as its shard computed it (NaN where the shard stores none); the shards hold the
        sentence vectors, so only for the vector they were asked with."""
        same = self._query is not None and np.array_equal(np.asarray(query, dtype=np.float32), self._query)
        if self._sentence_scores is None or not same:
            raise ValueError("the shards sent no best sentence scores for this query vector")
        return self._sentence_scores[np.asarray(ids, dtype=np.int64)]


class CandidateLexical:
    """The BM25 side of the candidates: their corpus-wide scores for the question, and the corpus-wide
    document frequencies of its terms (what the answer layer asks)."""

    def __init__(
        self, question: str, scores: np.ndarray, corpus: CorpusStatistics, frequencies: Mapping[str, int]
    ) -> None:
        self._question = question
        self._scores = scores
        self.corpus = corpus
        self._frequencies = frequencies

    def __len__(self) -> int:
        """Live passages corpus-wide (the N of idf)."""
        return self.corpus.rows

    def _check(self, question: str) -> None:
        if question != self._question:
            raise ValueError("a candidate index answers only the question its shards were asked")

    def scores(self, question: str) -> np.ndarray:
        self._check(question)
        return self._scores

    def scores_of(self, question: str, ids: np.ndarray | Sequence[int]) -> np.ndarray:
        self._check(question)
        return self._scores[np.asarray(ids, dtype=np.int64)]

    def search(
        self, question: str, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        self._check(question)
        return top_positive(self._scores, k, allowed)

    def document_frequency(self, term: str) -> int:
        return int(self._frequencies.get(term, 0))

    def has_term(self, term: str) -> bool:
        return self.document_frequency(term) > 0


@dataclass(frozen=True)
class CandidateIndex:
    """The LoadedIndex shape (what the query core reads) over one question's candidates."""

    path: Path
    manifest: dict[str, Any]
    documents: CandidateDocuments
    passages: list[Passage]
    dense: CandidateVectors
    bm25: CandidateLexical
    version: int
    generation: int = 0
    segments: tuple[Any, ...] = field(default=())
    sentence_vectors: dict[str, np.ndarray] = field(default_factory=dict)
    """The stored vectors of sentences the shards sent, by text."""
    known_sentences: KnownSentences | None = None
    """The closest sentences of all shards to the question (citeqa.sentence_search.closest_sentences reads
    them), if the shards were asked for them."""

    @property
    def model_name(self) -> str:
        return self.manifest["model"]["name"]


def candidate_index(
    answers: Sequence[ShardCandidates],
    question: str,
    query: np.ndarray | None,
    corpus: CorpusStatistics,
    frequencies: Mapping[str, int],
    path: Path,
    manifest: dict[str, Any],
    dimension: int,
    known: KnownSentences | None = None,
) -> CandidateIndex:
    """The candidates of every shard in one index (shards in bucket order, each shard's in its order);
    ``known`` (if the shards were asked for their closest sentences): the question's vector and how many
    sentences were asked for, whose hits are filled in from the shards' (see ``merged_sentences``)."""
    passages: list[Passage] = []
    documents: dict[str, Document] = {}
    sentences: dict[str, np.ndarray] = {}
    firsts: list[int] = []
    for answer in answers:
        sentences.update(answer.sentence_vectors)
        firsts.append(len(passages))
        for passage in answer.passages:
            passages.append(replace(passage, passage_id=len(passages)))
        documents.update((d.doc_id, d) for d in answer.documents)
    present = [a for a in answers if len(a.passages)]
    vectors = (
        np.concatenate([a.vectors for a in present]).astype(np.float32, copy=False)
        if present
        else np.empty((0, dimension), np.float32)
    )
    dense = np.concatenate([a.dense_scores for a in present]) if present else np.empty(0, np.float32)
    bm25 = np.concatenate([a.bm25_scores for a in present]) if present else np.empty(0, np.float32)
    best_sentences = None
    if answers and all(a.best_sentence_scores is not None for a in answers):
        best_sentences = np.concatenate(
            [np.asarray(a.best_sentence_scores, dtype=np.float32) for a in answers]
        )
    if known is not None:
        known = replace(known, hits=merged_sentences(answers, firsts, known.asked))
    return CandidateIndex(
        path=path,
        manifest=manifest,
        documents=CandidateDocuments(documents, sum(a.state.documents for a in answers)),
        passages=passages,
        dense=CandidateVectors(vectors, dense.astype(np.float32), query, best_sentences),
        bm25=CandidateLexical(question, bm25.astype(np.float32), corpus, frequencies),
        version=sum(a.state.version for a in answers),
        generation=sum(a.state.generation for a in answers),
        sentence_vectors=sentences,
        known_sentences=known,
    )


def merged_sentences(
    answers: Sequence[ShardCandidates], firsts: Sequence[int], k: int
) -> tuple[SentenceHit, ...]:
    """The ``k`` closest sentences of all shards, best first: each shard sent its own ``k`` best (ties
    broken as ``top_sentences`` breaks them within the shard, then by shard), each sentence once, its
    ``passage_id`` the candidate id of its passage (``firsts``: each shard's first candidate id)."""
    found = [
        (hit, first) for answer, first in zip(answers, firsts, strict=True) for hit in answer.sentence_hits
    ]
    found.sort(key=lambda pair: -pair[0].cosine)  # stable: shard order, then the shard's own
    seen: set[tuple[str, int, int]] = set()
    hits: list[SentenceHit] = []
    for hit, first in found:
        key = (hit.doc_id, hit.start, hit.end)
        if key in seen:
            continue
        seen.add(key)
        passage_id = first + hit.passage if hit.passage >= 0 else -1
        hits.append(SentenceHit(passage_id, hit.doc_id, hit.start, hit.end, hit.cosine))
        if len(hits) == k:
            break
    return tuple(hits)
