"""The search library: a question in, ranked passages with citations out, over one loaded index."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from citeqa.errors import InvalidQueryError
from citeqa.filters import PassageFilter
from citeqa.fusion import Candidates, FusionSettings, fuse_ranking, sort_by_score
from citeqa.readable import fusion_for
from citeqa.timing import stage
from citeqa.types import SEARCH_MODES, Citation, Hit, SearchMode
from corpus.unicode_check import LONE_SURROGATE_FIX, has_lone_surrogate
from indexer.embedding import Encoder
from indexer.index_settings import indexed_title
from indexer.lexical import top_positive
from indexer.load import LoadedIndex

if TYPE_CHECKING:
    from citeqa.query_adapter import QueryAdapter
    from citeqa.rerank import Reranker

# Long enough for a consumer's whole message (background, then the question); the model reads its first
# 256 tokens, BM25 all of it.
MAX_QUESTION_CHARS = 10_000
MAX_TOP_K = 50


@dataclass(frozen=True)
class ScoredIds:
    ids: np.ndarray
    scores: np.ndarray


class Searcher:
    """Search over one index. ``filters`` (see citeqa.filters) restrict every mode to the passages of
    matching documents, inside both retrievers. With a ``reranker``, hybrid mode reorders the head of the
    fused list by the reranker's scores (see citeqa.rerank). With a ``query_adapter``, retrieval searches
    with the question's vector mapped by it (``search_vector``, see citeqa.query_adapter); passage and
    sentence vectors are not mapped, and ``encode_question`` stays the model's own vector (what the answer
    layer scores sentences and answerability with, as its models were fitted). With a ``question_encoder``
    (the question tower, see citeqa.question_tower), questions are encoded by it and passages and sentences
    by ``encoder``; the tower's vector is the question's vector everywhere (retrieval, the answer layer)."""

    def __init__(
        self,
        index: LoadedIndex,
        encoder: Encoder,
        fusion: FusionSettings | None = None,
        reranker: Reranker | None = None,
        query_adapter: QueryAdapter | None = None,
        question_encoder: Encoder | None = None,
    ) -> None:
        self.index = index
        self.encoder = encoder
        self.question_encoder = question_encoder or encoder
        self.fusion = fusion or FusionSettings()
        self.reranker = reranker
        self.query_adapter = query_adapter
        self.passage_filter = PassageFilter(index.documents, index.passages)

    def search(
        self, question: str, top_k: int = 5, mode: SearchMode = "hybrid", filters: Any = None
    ) -> list[Hit]:
        question = validate_request(question, top_k, mode)
        ranked = self.rank(question, top_k, mode, self.passage_filter.allowed(filters))
        return [
            self.hit(rank, int(i), float(s))
            for rank, (i, s) in enumerate(zip(ranked.ids, ranked.scores, strict=True), 1)
        ]

    def encode_question(self, question: str) -> np.ndarray:
        """The question's vector: compute it once per query and pass it to ``rank`` and the answer step."""
        with stage("encode"):
            return self.question_encoder.encode([question])[0]

    def search_vector(self, query: np.ndarray) -> np.ndarray:
        """The vector retrieval searches with: the question's, mapped by the query adapter if there is one."""
        return query if self.query_adapter is None else self.query_adapter.apply(query)

    def rank(
        self,
        question: str,
        top_k: int,
        mode: SearchMode,
        allowed: np.ndarray | None = None,
        query: np.ndarray | None = None,
    ) -> ScoredIds:
        """Passage ids and scores, best first, at most ``top_k`` of them (of the ``allowed`` ids if given);
        ``query`` is the question's vector when the caller already has it (it is computed here otherwise,
        unless mode is bm25)."""
        if allowed is not None and not len(allowed):
            return ScoredIds(np.empty(0, np.int64), np.empty(0, np.float32))
        if mode == "bm25":
            with stage("bm25"):
                scores, ids = self.index.bm25.search(question, top_k, allowed)
            return ScoredIds(ids, scores)
        query = self.encode_question(question) if query is None else query
        if mode == "dense":
            dense_ids, dense_scores = self.dense_search(self.search_vector(query), top_k, allowed)
            return ScoredIds(dense_ids, dense_scores)
        depth = max(top_k, self.fusion.candidates)
        if self.reranker is not None:
            depth = max(depth, self.reranker.depth)
        candidates = self.candidates(question, depth, allowed, query)
        fusion = fusion_for(getattr(self.encoder, "tokenizer", None), question, candidates, self.fusion)
        if self.reranker is None:
            with stage("fusion"):
                ids, scores = fuse_ranking(candidates, fusion, top_k)
            return ScoredIds(ids, scores)
        with stage("fusion"):
            ids, fused = fuse_ranking(candidates, fusion, max(top_k, self.reranker.depth))
        head = min(len(ids), self.reranker.depth)
        with stage("rerank"):
            head_ids, head_scores = self.reranker.rerank(question, ids[:head], self.rerank_texts(ids[:head]))
        ids, scores = below_head(head_ids, head_scores, ids[head:top_k], fused[head:top_k])
        return ScoredIds(ids[:top_k], scores[:top_k])

    def rerank_texts(self, ids: np.ndarray) -> list[str]:
        """What the reranker reads of each passage: its document's title, then its text."""
        texts = []
        for passage_id in ids:
            passage = self.index.passages[int(passage_id)]
            title = indexed_title(self.index.documents[passage.doc_id])
            texts.append(f"{title}\n{passage.text}" if title else passage.text)
        return texts

    def dense_search(
        self, query: np.ndarray, depth: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(ids, scores) of the ``depth`` passages nearest to one query vector (among ``allowed``), best
        first."""
        available = len(self.index.passages) if allowed is None else len(allowed)
        if not available:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        with stage("dense"):
            scores, ids = self.index.dense.search(query[None, :], min(depth, available), allowed)
        keep = ids[0] >= 0
        return ids[0][keep], scores[0][keep]

    def candidates(
        self,
        question: str,
        depth: int,
        allowed: np.ndarray | None = None,
        query: np.ndarray | None = None,
        sentences: bool | None = None,
    ) -> Candidates:
        """Both retrievers' top-``depth`` lists and both exact scores of every passage in their union
        (searching only the ``allowed`` passages if given; ``query`` as in ``rank``), and each one's best
        sentence score if ``sentences`` (default: when the fusion weighs sentences).

        Fusion is a pure function of these (see citeqa.fusion), so an evaluation can compute them once
        per question and try many fusion settings offline.
        """
        query = self.search_vector(self.encode_question(question) if query is None else query)
        dense_ids, _ = self.dense_search(query, depth, allowed)
        with stage("bm25"):
            bm25_all = self.index.bm25.scores(question)
            _, bm25_ids = top_positive(bm25_all, depth, allowed)
        union = np.union1d(dense_ids, bm25_ids).astype(np.int64)
        union_dense = self.index.dense.vectors(union) @ query if len(union) else np.empty(0, np.float32)
        best_sentence = None
        if self.fusion.sentence_weight > 0 if sentences is None else sentences:
            with stage("sentences"):
                best_sentence = self.index.dense.best_sentence_scores(union, query)
        return Candidates(dense_ids, bm25_ids, union, union_dense, bm25_all[union], best_sentence)

    def hit(self, rank: int, passage_id: int, score: float) -> Hit:
        passage = self.index.passages[passage_id]
        document = self.index.documents[passage.doc_id]
        citation = Citation.of(document, passage.start, passage.end)
        return Hit(rank=rank, score=score, passage=passage, citation=citation)


def below_head(
    head_ids: np.ndarray, head_scores: np.ndarray, tail_ids: np.ndarray, tail_scores: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """A reranked head followed by the rest of the fused ranking, the rest's scores shifted below the
    head's lowest so that scores stay best first within one response (deep pages are not reranked)."""
    tail_scores = np.asarray(tail_scores, dtype=np.float64)
    if len(tail_scores) and len(head_scores):
        tail_scores = tail_scores - tail_scores[0] + float(np.min(head_scores)) - 1.0
    ids = np.concatenate([np.asarray(head_ids, dtype=np.int64), np.asarray(tail_ids, dtype=np.int64)])
    return ids, np.concatenate([np.asarray(head_scores, dtype=np.float64), tail_scores])


def validate_request(question: str, top_k: int, mode: str) -> str:
    """The stripped question, after checking all three search parameters."""
    question = validate_question(question)
    if mode not in SEARCH_MODES:
        raise InvalidQueryError(f"unknown mode {mode!r}; use one of {', '.join(SEARCH_MODES)}")
    if top_k < 1:
        raise InvalidQueryError("top_k must be at least 1")
    return question


def validate_question(question: str) -> str:
    if not isinstance(question, str) or not question.strip():
        raise InvalidQueryError("question is empty; type a question")
    if len(question) > MAX_QUESTION_CHARS:
        raise InvalidQueryError(
            f"question is {len(question)} characters; shorten it to at most {MAX_QUESTION_CHARS}"
        )
    if has_lone_surrogate(question):
        raise InvalidQueryError(f"question: {LONE_SURROGATE_FIX}; write the character itself or remove it")
    return question.strip()


__all__ = ["ScoredIds", "Searcher", "sort_by_score", "validate_question", "validate_request"]
