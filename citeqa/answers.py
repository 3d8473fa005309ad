"""Answers people can trust, over one Searcher: distinct results (no near-duplicates) with the sentences
that answer the question highlighted, the single best sentence as the answer with its citation, and
whether the corpus answers the question at all (with a confidence).

``Answerer`` only sequences the steps, each of which lives in its own module:

1. rank the question's PAGE_DEPTH passages, group them into distinct results once and cut the page
   (citeqa.paging, citeqa.dedup);
2. score the sentences of the head and of the page against the question (citeqa.sentence_scoring, through
   the caches of citeqa.sentence_caches);
3. choose the highlights of each result and the answer sentence (citeqa.answer_choice);
4. compute the answerability features (citeqa.answerability_features) and decide (citeqa.answerability);
   the same features of each result alone, through the same calibrated model, are its ``relevance``.

Per query the question is embedded once (for retrieval and for sentence scoring); the sentences' vectors
are read from the index (citeqa.stored_sentences), and any not stored or cached (a segment written before
sentences were stored) are embedded in one encode call.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from citeqa.answer_choice import ANSWER_DEPTH, best_answer, highlights_and_lead
from citeqa.answer_features import feature_matrix
from citeqa.answer_model import AnswerModel
from citeqa.answerability import Calibration
from citeqa.answerability_features import (
    SIGNAL_DEPTH,
    passage_cosines,
    question_coverage,
    response_features,
    result_features,
    term_idf,
)
from citeqa.dedup import DEFAULT_DEDUP_RULE, DedupRule
from citeqa.errors import CalibrationError
from citeqa.paging import PAGE_DEPTH, DistinctResults, distinct_results, page_window, validate_offset
from citeqa.question_tower import question_side
from citeqa.search import Searcher, validate_request
from citeqa.sentence_bm25 import fused_sentences
from citeqa.sentence_caches import SentenceCaches
from citeqa.sentence_scoring import SIMILARITY_WEIGHT, Sentences, SentenceScorer, TermExtractor
from citeqa.sentence_search import SentenceHit, closest_sentences
from citeqa.snippets import make_snippet
from citeqa.stored_sentences import StoredSentenceVectors
from citeqa.timing import stage
from citeqa.turns import Turns
from citeqa.types import Answer, Highlight, Response, Result, SearchMode, Snippet
from indexer.load import LoadedIndex

# The response types live in citeqa.types; service/, eval/ and the tests import them from here too.
__all__ = ["SIGNAL_DEPTH", "Analysis", "Answer", "Answerer", "Highlight", "Response", "Result", "Snippet"]


@dataclass(frozen=True)
class Analysis:
    """A response before the answerability decision: the page, the best answer sentence, the features."""

    question: str
    mode: SearchMode
    offset: int
    results: tuple[Result, ...]
    has_more: bool
    best: Answer | None
    features: Mapping[str, float]
    result_features: tuple[Mapping[str, float], ...] = ()  # the same features, per result of the page


def with_highlights(
    result: Result, sentences: Sentences, position: int, text: str, terms: TermExtractor | None = None
) -> Result:
    """``result`` (at ``position`` of the scored results) with its highlights and its snippet (a sentence
    too long for it cut where it holds the most of the question's terms, by ``terms``' analysis)."""
    highlights, lead = highlights_and_lead(sentences, position)  # one pass over the result's sentences
    spans = [sentences.spans[i] for i in np.flatnonzero(sentences.result == position).tolist()]
    bounds = (result.citation.start, result.citation.end)
    asked = None
    if terms is not None and sentences.question_terms:

        def asked(word: str) -> str | None:
            return next(iter(terms.terms([word])[0] & sentences.question_terms), None)

    snippet = make_snippet(text, spans, highlights, bounds, asked=asked, lead=lead)
    return replace(result, highlights=highlights, snippet=snippet)


class Answerer:
    def __init__(
        self,
        searcher: Searcher,
        calibration: Calibration | None = None,
        dedup: DedupRule = DEFAULT_DEDUP_RULE,
        similarity_weight: float = SIMILARITY_WEIGHT,
        answer_model: AnswerModel | None = None,
        sentence_candidates: int | None = None,
        sentence_bm25_weight: float | None = None,
        turns: Turns | None = None,
    ) -> None:
        self.searcher = searcher
        # Shared by every answerer of a process (``over`` passes it on): the answer layer of a query runs
        # in its turn, after its question is encoded (citeqa.turns). None: every query at once.
        self.turns = turns
        # How many of the index's sentences closest to the question (citeqa.sentence_search) bring their
        # results into the answer's candidates beside the first ``answer_depth`` results (0: none; None:
        # as many as the answer model was fitted with).
        self.sentence_candidates_setting = sentence_candidates
        # Those sentences are found by dense retrieval alone (0), or by its fusion with BM25 over the
        # sentences with this share for BM25 (citeqa.sentence_fusion; None: the answer model's, else 0).
        self.sentence_bm25_weight_setting = sentence_bm25_weight
        self.calibration = calibration
        self.dedup = dedup
        self.similarity_weight = similarity_weight
        self.answer_model = answer_model
        self.term_extractor = TermExtractor()
        self.stored_sentences = StoredSentenceVectors(searcher.index)
        self.caches = SentenceCaches(stored=self.stored_sentences)

    def share_caches(self, other: Answerer) -> None:
        """Use ``other``'s sentence vectors and term sets: they are keyed by text, so they hold for the
        answerer of any snapshot of the index (unchanged documents keep their sentences); the vectors
        stored in the index stay this snapshot's."""
        self.caches = other.caches.shared(self.stored_sentences)

    def preload_sentences(self, vectors: Mapping[str, np.ndarray]) -> None:
        """Vectors of sentences computed ahead (citeqa.sentence_vectors) for segments that store none:
        looked up before the LRU, never evicted, so a query embeds only its question."""
        self.caches.preloaded = vectors

    @property
    def answer_depth(self) -> int:
        """How many first results the answer is chosen from (the answer model's, else ANSWER_DEPTH)."""
        return ANSWER_DEPTH if self.answer_model is None else self.answer_model.depth

    def over(self, searcher: Searcher) -> Answerer:
        """An answerer over ``searcher`` (a new snapshot, or the candidates of shards) with this one's
        calibration, dedup, answer model and settings, sharing its caches."""
        answerer = Answerer(
            searcher,
            self.calibration,
            self.dedup,
            self.similarity_weight,
            self.answer_model,
            self.sentence_candidates_setting,
            self.sentence_bm25_weight_setting,
            self.turns,
        )
        answerer.share_caches(self)
        return answerer

    @property
    def sentence_candidates(self) -> int:
        """How many index-wide closest sentences add their results to the answer's candidates."""
        if self.sentence_candidates_setting is not None:
            return self.sentence_candidates_setting
        return 0 if self.answer_model is None else self.answer_model.sentence_candidates

    @property
    def sentence_bm25_weight(self) -> float:
        """The share of BM25 in the fusion that finds those sentences (0: dense retrieval alone)."""
        if self.sentence_bm25_weight_setting is not None:
            return self.sentence_bm25_weight_setting
        return 0.0 if self.answer_model is None else self.answer_model.sentence_bm25_weight

    @property
    def index_version(self) -> int:
        return self.searcher.index.version

    def settings_view(self) -> dict[str, Any]:
        """Everything besides the index that decides an answer (for cache validators)."""
        reranker = self.searcher.reranker
        return {
            "fusion": asdict(self.searcher.fusion),
            "query_adapter": None
            if self.searcher.query_adapter is None
            else self.searcher.query_adapter.checksum,
            # "the model" or "question tower <sha256 prefix>": the same on every machine and replica.
            "question_encoder": question_side(self.searcher.question_encoder, self.searcher.encoder),
            "reranker": None if reranker is None else [getattr(reranker, "name", ""), reranker.depth],
            # Its fields less where it was read from (compare=False): a copy elsewhere decides alike.
            "calibration": None
            if self.calibration is None
            else {k: v for k, v in asdict(self.calibration).items() if k != "source"},
            "dedup": self.dedup,
            "similarity_weight": self.similarity_weight,
            "sentence_candidates": self.sentence_candidates,
            **({"sentence_bm25_weight": w} if (w := self.sentence_bm25_weight) else {}),
            "answer_model": None
            if self.answer_model is None
            else [self.answer_model.depth, *self.answer_model.weights],
        }

    def respond(
        self, question: str, top_k: int = 5, mode: SearchMode = "hybrid", offset: int = 0, filters: Any = None
    ) -> Response:
        """The ``top_k`` results after the first ``offset`` (ranks stay global), highlighted; the answer
        and the answerability decision are the question's, whatever page is asked for."""
        if self.calibration is None:
            raise CalibrationError("no answerability calibration loaded; run `citeqa eval --calibrate`")
        question, allowed, query = self.prepare(question, top_k, mode, offset, filters)
        with self.turn():
            return self.decide(self.analysis(question, top_k, mode, offset, allowed, query), self.calibration)

    @contextmanager
    def turn(self) -> Iterator[None]:
        """This query's turn of the answer layer (citeqa.turns), the wait for it timed as stage "turn"."""
        if self.turns is None:
            yield
            return
        with stage("turn"):
            self.turns.wait()
        try:
            yield
        finally:
            self.turns.leave()

    def decide(self, analysis: Analysis, calibration: Calibration) -> Response:
        """The response: ``analysis`` with the answerability decision and each result's relevance."""
        answerable, confidence = calibration.decide(analysis.features)
        # A result's relevance: the decision's confidence had the question only this result to go on.
        results = tuple(
            replace(result, relevance=calibration.decide(features)[1])
            for result, features in zip(analysis.results, analysis.result_features, strict=True)
        )
        if not has_words(analysis.question):
            # Emoji or punctuation alone: the model reads unknown tokens, close to anything; nothing asked.
            answerable, confidence = False, 0.0
            results = tuple(replace(result, relevance=0.0) for result in results)
        return Response(
            question=analysis.question,
            mode=analysis.mode,
            results=results,
            answer=analysis.best if answerable else None,
            answerable=answerable,
            confidence=confidence,
            features=analysis.features,
            offset=analysis.offset,
            has_more=analysis.has_more,
            index_version=self.index_version,
        )

    def analyze(
        self, question: str, top_k: int = 5, mode: SearchMode = "hybrid", offset: int = 0, filters: Any = None
    ) -> Analysis:
        """Everything of a response but the answerability decision (which needs a calibration)."""
        question, allowed, query = self.prepare(question, top_k, mode, offset, filters)
        return self.analysis(question, top_k, mode, offset, allowed, query)

    def prepare(
        self, question: str, top_k: int, mode: SearchMode, offset: int, filters: Any
    ) -> tuple[str, np.ndarray | None, np.ndarray]:
        """The request checked (the question stripped, the filters as allowed passage ids) and the
        question's vector: the part of a query done before its turn (citeqa.turns)."""
        question = validate_request(question, top_k, mode)
        validate_offset(offset)
        allowed = self.searcher.passage_filter.allowed(filters)
        return question, allowed, self.searcher.encode_question(question)

    def analysis(
        self,
        question: str,
        top_k: int,
        mode: SearchMode,
        offset: int,
        allowed: np.ndarray | None,
        query: np.ndarray,
    ) -> Analysis:
        """The analysis of a prepared request (``prepare``)."""
        ranking = self.results(question, mode, query, allowed)
        # Grouped only as deep as the page (and one more result, for has_more) and the head need.
        start, stop, has_more = page_window(ranking.at_least(offset + top_k + 1), offset, top_k)
        # Score the sentences of the head (the answer and the decision) and of the page, once each.
        depth = self.answer_depth
        head = ranking.at_least(max(SIGNAL_DEPTH, depth))
        # Results below the answer depth that hold one of the index's closest sentences: answer candidates
        # too (they depend on the question only, not on the page).
        extra, hit_ranks = self.sentence_retrieval(question, ranking, query, depth)
        positions = sorted(set(range(head)) | set(range(start, stop)) | set(extra))
        index = self.searcher.index
        scorer = SentenceScorer(
            self.caches, self.searcher.encoder, self.term_extractor, self.similarity_weight
        )
        with stage("highlight"):
            sentences = scorer.score(question, query, [ranking[p] for p in positions], index.documents)
            if self.answer_model is not None:
                ranks = [p + 1 for p in positions]
                matrix = self.answer_features(question, sentences, ranks, depth, hit_ranks)
                sentences = replace(sentences, choice=self.answer_model.scores(matrix))
        cosines = passage_cosines([ranking[p] for p in positions], query, index.dense)
        question_terms = scorer.question_terms(question)
        coverage = question_coverage(question_terms, index.bm25.has_term)
        weights = term_idf(question_terms, index.bm25.document_frequency, index.bm25.corpus.rows)
        features = response_features(sentences, cosines[:SIGNAL_DEPTH], coverage, term_weights=weights)
        scored = [positions.index(p) for p in range(start, stop)]
        page = tuple(
            with_highlights(
                ranking[p],
                sentences,
                i,
                index.documents[ranking[p].citation.doc_id].text,
                self.term_extractor,
            )
            for p, i in zip(range(start, stop), scored, strict=True)
        )
        per_result = tuple(result_features(sentences, i, cosines[i], coverage, weights) for i in scored)
        # The answer comes from the first `depth` results whatever the page (they are always scored).
        also = np.isin(np.asarray(positions, dtype=np.int64)[sentences.result], extra)
        best = best_answer(sentences, depth, index.documents, also)
        return Analysis(question, mode, offset, page, has_more, best, features, per_result)

    def answer_candidates(
        self, question: str, mode: SearchMode = "hybrid", depth: int = ANSWER_DEPTH
    ) -> tuple[Sentences, np.ndarray]:
        """The sentences the answer is chosen from (those of the first ``depth`` results, then those of
        the results sentence-level retrieval adds) and their answer features (citeqa.answer_features),
        for fitting and measuring the answer choice."""
        question = validate_request(question, depth, mode)
        query = self.searcher.encode_question(question)
        ranking = self.results(question, mode, query)
        extra, hit_ranks = self.sentence_retrieval(question, ranking, query, depth)
        index = self.searcher.index
        scorer = SentenceScorer(
            self.caches, self.searcher.encoder, self.term_extractor, self.similarity_weight
        )
        positions = [*range(ranking.at_least(depth)), *extra]
        sentences = scorer.score(question, query, [ranking[p] for p in positions], index.documents)
        ranks = [p + 1 for p in positions]
        return sentences, self.answer_features(question, sentences, ranks, depth, hit_ranks)

    def sentence_retrieval(
        self, question: str, ranking: Sequence[Result], query: np.ndarray, depth: int
    ) -> tuple[list[int], dict[tuple[str, int, int], int]]:
        """The positions (in ``ranking``, at or below ``depth``) of the results holding one of the
        ``sentence_candidates`` sentences of the index closest to the question (by their vectors, or by
        the fusion of their vectors and BM25 when ``sentence_bm25_weight`` is set), and the rank of each
        of those sentences by (doc_id, start, end). A sentence whose passage is not in the ranking
        (filtered out, or below its depth) is dropped: the answer is always a sentence of a result of the
        question."""
        if self.sentence_candidates <= 0:
            return [], {}
        index = self.searcher.index
        weight = self.sentence_bm25_weight
        with stage("sentence_search"):
            if weight > 0 and isinstance(index, LoadedIndex):  # (the shards' candidates: dense alone)
                hits = fused_sentences(index, question, query, self.sentence_candidates, weight)
            else:
                hits = closest_sentences(index, query, self.sentence_candidates)
        return holding_results(ranking, hits, depth)

    def answer_features(
        self,
        question: str,
        sentences: Sentences,
        ranks: list[int] | None,
        depth: int,
        hit_ranks: Mapping[tuple[str, int, int], int] | None = None,
    ) -> np.ndarray:
        """The answer features of scored sentences (``ranks``: of their results; ``depth``: the pool's;
        ``hit_ranks``: the sentences sentence-level retrieval found)."""
        index = self.searcher.index
        bm25 = index.bm25
        return feature_matrix(
            question, sentences, bm25.document_frequency, len(bm25), index.documents, ranks, depth, hit_ranks
        )

    def results(
        self,
        question: str,
        mode: SearchMode,
        query: np.ndarray | None = None,
        allowed: np.ndarray | None = None,
        depth: int = PAGE_DEPTH,
    ) -> DistinctResults:
        """The distinct results (no highlights) of the question's first ``depth`` passages (of the ``allowed``
        ones if given), best first; ``query`` is the question's vector when the caller has it."""
        if mode != "bm25" and query is None:
            query = self.searcher.encode_question(question)
        ranked = self.searcher.rank(question, depth, mode, allowed, query)
        return distinct_results(ranked, self.searcher.index, self.dedup)


def holding_results(
    ranking: Sequence[Result], hits: Sequence[SentenceHit], depth: int
) -> tuple[list[int], dict[tuple[str, int, int], int]]:
    """Positions (at or below ``depth``) of the first results of ``ranking`` whose citation holds each hit,
    sorted, and the hits' ranks (from 1) by (doc_id, start, end)."""
    ranks: dict[tuple[str, int, int], int] = {}
    positions: set[int] = set()
    for rank, hit in enumerate(hits, 1):
        doc_id = hit.doc_id
        ranks[(doc_id, hit.start, hit.end)] = rank
        for position, result in enumerate(ranking):
            citation = result.citation
            if citation.doc_id == doc_id and citation.start <= hit.start and hit.end <= citation.end:
                if position >= depth:
                    positions.add(position)
                break
    return sorted(positions), ranks


def has_words(question: str) -> bool:
    """Whether the question holds a letter or a digit of any script (not only emoji, symbols, punctuation)."""
    return any(unicodedata.category(ch)[0] in "LN" for ch in question)
