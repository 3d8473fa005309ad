"""The search library: a question in, ranked passages with citations out, over one loaded index."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from citeqa.errors import InvalidQueryError
from citeqa.fusion import FusionSettings, convex_fusion, reciprocal_rank_fusion, sort_by_score
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
        question = validate_question(question)
        if mode not in SEARCH_MODES:
            raise InvalidQueryError(f"unknown mode {mode!r}; use one of {', '.join(SEARCH_MODES)}")
        if top_k < 1:
            raise InvalidQueryError("top_k must be at least 1")
        ranked = self.rank(question, top_k, mode)
        return [
            self.hit(rank, int(i), float(s))
            for rank, (i, s) in enumerate(zip(ranked.ids, ranked.scores, strict=True), 1)
        ]

    def rank(self, question: str, top_k: int, mode: SearchMode) -> ScoredIds:
        """Passage ids and scores, best first, at most ``top_k`` of them."""
        if mode == "bm25":
            scores, ids = self.index.bm25.search(question, top_k)
            return ScoredIds(ids, scores)
        query = self.encoder.encode([question])
        depth = top_k if mode == "dense" else max(top_k, self.fusion.candidates)
        dense_scores, dense_ids = self.index.dense.search(query, min(depth, len(self.index.passages)))
        keep = dense_ids[0] >= 0
        dense_ids, dense_scores = dense_ids[0][keep], dense_scores[0][keep]
        if mode == "dense":
            return ScoredIds(dense_ids, dense_scores)
        bm25_all = self.index.bm25.scores(question)
        _, bm25_ids = self.index.bm25.search(question, depth)
        if self.fusion.method == "rrf":
            ids, scores = reciprocal_rank_fusion([dense_ids, bm25_ids], self.fusion.rrf_k)
        else:
            union = np.union1d(dense_ids, bm25_ids)
            union_dense = self.index.dense.vectors(union) @ query[0]
            ids, scores = convex_fusion(union, union_dense, bm25_all[union], self.fusion.dense_weight)
        return ScoredIds(ids[:top_k], scores[:top_k])

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


def validate_question(question: str) -> str:
    if not isinstance(question, str) or not question.strip():
        raise InvalidQueryError("question is empty; type a question")
    if len(question) > MAX_QUESTION_CHARS:
        raise InvalidQueryError(
            f"question is {len(question)} characters; shorten it to at most {MAX_QUESTION_CHARS}"
        )
    return question.strip()


__all__ = ["ScoredIds", "Searcher", "sort_by_score", "validate_question"]
