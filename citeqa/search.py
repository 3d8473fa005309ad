"""The search library: a question in, ranked passages with citations out, over one loaded index."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from citeqa.errors import InvalidQueryError
from citeqa.fusion import Candidates, FusionSettings, fuse_ranking, sort_by_score
from citeqa.types import SEARCH_MODES, Citation, Hit, SearchMode
from indexer.embedding import Encoder
from indexer.load import LoadedIndex

MAX_QUESTION_CHARS = 2000
MAX_TOP_K = 50


@dataclass(frozen=True)
class ScoredIds:
    ids: np.ndarray
    scores: np.ndarray


class Searcher:
    def __init__(self, index: LoadedIndex, encoder: Encoder, fusion: FusionSettings | None = None) -> None:
        self.index = index
        self.encoder = encoder
        self.fusion = fusion or FusionSettings()

    def search(self, question: str, top_k: int = 5, mode: SearchMode = "hybrid") -> list[Hit]:
        question = validate_request(question, top_k, mode)
        ranked = self.rank(question, top_k, mode)
        return [
            self.hit(rank, int(i), float(s))
            for rank, (i, s) in enumerate(zip(ranked.ids, ranked.scores, strict=True), 1)
        ]

    def encode_question(self, question: str) -> np.ndarray:
        """The question's vector: compute it once per query and pass it to ``rank`` and the answer step."""
        return self.encoder.encode([question])[0]

    def rank(
        self, question: str, top_k: int, mode: SearchMode, query: np.ndarray | None = None
    ) -> ScoredIds:
        """Passage ids and scores, best first, at most ``top_k`` of them; ``query`` is the question's
        vector when the caller already has it (it is computed here otherwise, unless mode is bm25)."""
        if mode == "bm25":
            scores, ids = self.index.bm25.search(question, top_k)
            return ScoredIds(ids, scores)
        query = self.encode_question(question) if query is None else query
        if mode == "dense":
            dense_ids, dense_scores = self.dense_search(query, top_k)
            return ScoredIds(dense_ids, dense_scores)
        candidates = self.candidates(question, max(top_k, self.fusion.candidates), query)
        ids, scores = fuse_ranking(candidates, self.fusion, top_k)
        return ScoredIds(ids, scores)

    def dense_search(self, query: np.ndarray, depth: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids, scores) of the ``depth`` passages nearest to one query vector, best first."""
        scores, ids = self.index.dense.search(query[None, :], min(depth, len(self.index.passages)))
        keep = ids[0] >= 0
        return ids[0][keep], scores[0][keep]

    def candidates(self, question: str, depth: int, query: np.ndarray | None = None) -> Candidates:
        """Both retrievers' top-``depth`` lists and both exact scores of every passage in their union.

        Fusion is a pure function of these (see citeqa.fusion), so an evaluation can compute them once
        per question and try many fusion settings offline.
        """
        query = self.encode_question(question) if query is None else query
        dense_ids, _ = self.dense_search(query, depth)
        bm25_all = self.index.bm25.scores(question)
        _, bm25_ids = self.index.bm25.search(question, depth)
        union = np.union1d(dense_ids, bm25_ids).astype(np.int64)
        union_dense = self.index.dense.vectors(union) @ query if len(union) else np.empty(0, np.float32)
        return Candidates(dense_ids, bm25_ids, union, union_dense, bm25_all[union])

    def hit(self, rank: int, passage_id: int, score: float) -> Hit:
        passage = self.index.passages[passage_id]
        document = self.index.documents[passage.doc_id]
        citation = Citation(
            doc_id=document.doc_id,
            title=document.title,
            url=document.url,
            author=document.author,
            publisher=document.publisher,
            start=passage.start,
            end=passage.end,
        )
        return Hit(rank=rank, score=score, passage=passage, citation=citation)


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
    return question.strip()


__all__ = ["ScoredIds", "Searcher", "sort_by_score", "validate_question", "validate_request"]
