"""Answers people can trust, over one Searcher: distinct results (no near-duplicates) with the sentences
that answer the question highlighted, the single best sentence as the answer with its citation, and
whether the corpus answers the question at all (with a confidence).

Per query the question is embedded once (for retrieval and for sentence scoring) and all candidate
sentences of the response are embedded in one encode call.

Paging: every request ranks the same PAGE_DEPTH passages and groups all of them into distinct results
(dedup is greedy in rank order, and a lower passage may join a better result), then cuts the page. So the
same query always gives the same results in the same order, and pages neither repeat nor skip any.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from citeqa.answerability import Calibration
from citeqa.dedup import DEFAULT_DEDUP_RULE, DedupRule, Group, group_passages
from citeqa.errors import CalibrationError, InvalidQueryError
from citeqa.highlight import (
    SIMILARITY_WEIGHT,
    TermExtractor,
    answer_candidates,
    passage_sentences,
    pick_highlights,
    sentence_scores,
    term_overlap,
)
from citeqa.paging import PAGE_DEPTH, page_window
from citeqa.search import Searcher, validate_request
from citeqa.timing import stage
from citeqa.types import Citation, SearchMode
from indexer.chunking import Span
from indexer.lru import LRU

# Answerability features look at the sentences of the first SIGNAL_DEPTH results whatever top_k is, so
# the decision for a question does not change with the number of results asked for.
SIGNAL_DEPTH = 5
# Sentence vectors kept per Answerer (least recently used dropped first): popular passages recur across
# queries, and a cached sentence costs no encoding. 20,000 vectors of 384 floats is about 30 MB.
SENTENCE_CACHE_SIZE = 20_000


@dataclass(frozen=True)
class Highlight:
    """A sentence of a result, in document offsets; ``score`` is its highlight score."""

    start: int
    end: int
    score: float


@dataclass(frozen=True)
class Result:
    """One result: ``text == document.text[citation.start:citation.end]``, made of ``passage_ids`` (best
    first; several when overlapping passages were merged)."""

    rank: int
    score: float
    text: str
    citation: Citation
    passage_ids: tuple[int, ...]
    highlights: tuple[Highlight, ...] = ()


@dataclass(frozen=True)
class Answer:
    """The best answering sentence; its citation spans the sentence only."""

    text: str
    score: float
    citation: Citation


@dataclass(frozen=True)
class Response:
    question: str
    mode: SearchMode
    results: tuple[Result, ...]
    answer: Answer | None
    answerable: bool
    confidence: float
    features: Mapping[str, float]
    offset: int = 0
    has_more: bool = False
    index_version: int = 1


@dataclass(frozen=True)
class Analysis:
    """A response before the answerability decision: the page, the best answer sentence, the features."""

    question: str
    mode: SearchMode
    results: tuple[Result, ...]
    best: Answer | None
    features: Mapping[str, float]
    offset: int
    has_more: bool


@dataclass(frozen=True)
class Sentences:
    """Every sentence of a response's results, aligned arrays; ``result`` is the index of its result."""

    doc_ids: tuple[str, ...]
    spans: tuple[Span, ...]
    result: np.ndarray
    cosine: np.ndarray
    overlap: np.ndarray
    score: np.ndarray
    candidate: np.ndarray


class Answerer:
    def __init__(
        self,
        searcher: Searcher,
        calibration: Calibration | None = None,
        dedup: DedupRule = DEFAULT_DEDUP_RULE,
        similarity_weight: float = SIMILARITY_WEIGHT,
    ) -> None:
        self.searcher = searcher
        self.calibration = calibration
        self.dedup = dedup
        self.similarity_weight = similarity_weight
        self.terms = TermExtractor()
        self._sentence_vectors: LRU[str, np.ndarray] = LRU(SENTENCE_CACHE_SIZE)
        self._known_sentences: Mapping[str, np.ndarray] = {}
        self._terms: LRU[str, frozenset[str]] = LRU(SENTENCE_CACHE_SIZE)

    def share_caches(self, other: Answerer) -> None:
        """Use ``other``'s sentence vectors and term sets: they are keyed by text, so they hold for the
        answerer of any snapshot of the index (unchanged documents keep their sentences)."""
        self._sentence_vectors = other._sentence_vectors
        self._known_sentences = other._known_sentences
        self._terms = other._terms

    def preload_sentences(self, vectors: Mapping[str, np.ndarray]) -> None:
        """Vectors of sentences computed ahead (citeqa.sentence_vectors): looked up before the LRU, never
        evicted, so a query embeds only its question."""
        self._known_sentences = vectors

    @property
    def index_version(self) -> int:
        return self.searcher.index.version

    def settings_view(self) -> dict[str, Any]:
        """Everything besides the index that decides an answer (for cache validators)."""
        reranker = self.searcher.reranker
        return {
            "fusion": asdict(self.searcher.fusion),
            "reranker": None if reranker is None else [getattr(reranker, "name", ""), reranker.depth],
            "calibration": None if self.calibration is None else asdict(self.calibration),
            "dedup": self.dedup,
            "similarity_weight": self.similarity_weight,
        }

    def respond(
        self,
        question: str,
        top_k: int = 5,
        mode: SearchMode = "hybrid",
        offset: int = 0,
        filters: Any = None,
    ) -> Response:
        """The ``top_k`` results after the first ``offset`` (ranks stay global), highlighted; the answer
        and the answerability decision are the question's, whatever page is asked for."""
        if self.calibration is None:
            raise CalibrationError("no answerability calibration loaded; run `citeqa eval --calibrate`")
        analysis = self.analyze(question, top_k, mode, offset, filters)
        signal = self.calibration.signal_of(analysis.features)
        answerable = self.calibration.answerable(signal)
        return Response(
            question=analysis.question,
            mode=mode,
            results=analysis.results,
            answer=analysis.best if answerable else None,
            answerable=answerable,
            confidence=self.calibration.confidence(signal),
            features=analysis.features,
            offset=offset,
            has_more=analysis.has_more,
            index_version=self.index_version,
        )

    def analyze(
        self,
        question: str,
        top_k: int = 5,
        mode: SearchMode = "hybrid",
        offset: int = 0,
        filters: Any = None,
    ) -> Analysis:
        """Everything of a response but the answerability decision (which needs a calibration)."""
        question = validate_request(question, top_k, mode)
        if not 0 <= offset <= PAGE_DEPTH:
            raise InvalidQueryError(
                f"offset {offset} is out of range; use 0 to {PAGE_DEPTH} "
                f"(results page through the best {PAGE_DEPTH} passages)"
            )
        allowed = self.searcher.passage_filter.allowed(filters)
        query = self.searcher.encode_question(question)
        ranking = self.results(question, mode, query, allowed)
        start, stop, has_more = page_window(len(ranking), offset, top_k)
        # Score the sentences of the head (the answer and the decision) and of the page, once each.
        head = min(len(ranking), max(top_k, SIGNAL_DEPTH))
        positions = sorted(set(range(head)) | set(range(start, stop)))
        with stage("highlight"):
            sentences = self.score_sentences(question, query, [ranking[p] for p in positions])
        features = response_features(
            sentences, self.passage_cosines(ranking[:SIGNAL_DEPTH], query), self.question_coverage(question)
        )
        page = tuple(
            replace_highlights(ranking[p], self.highlights(sentences, positions.index(p)))
            for p in range(start, stop)
        )
        best = self.best_answer(min(top_k, head), sentences)
        return Analysis(question, mode, page, best, features, offset, has_more)

    def results(
        self,
        question: str,
        mode: SearchMode,
        query: np.ndarray | None = None,
        allowed: np.ndarray | None = None,
        depth: int = PAGE_DEPTH,
    ) -> list[Result]:
        """The distinct results (no highlights) of the question's first ``depth`` passages, best first."""
        index = self.searcher.index
        if mode != "bm25" and query is None:
            query = self.searcher.encode_question(question)
        ranked = self.searcher.rank(question, depth, mode, allowed, query)
        passages = [index.passages[int(i)] for i in ranked.ids]
        groups = group_passages(passages, len(passages), self.dedup)
        return [
            self.result(
                rank,
                group,
                [int(ranked.ids[m]) for m in group.members],
                float(ranked.scores[group.members[0]]),
            )
            for rank, group in enumerate(groups, 1)
        ]

    def result(self, rank: int, group: Group, passage_ids: list[int], score: float) -> Result:
        document = self.searcher.index.documents[group.doc_id]
        citation = citation_of(self.searcher, group.doc_id, group.start, group.end)
        return Result(rank, score, document.text[group.start : group.end], citation, tuple(passage_ids))

    def score_sentences(self, question: str, query: np.ndarray, results: list[Result]) -> Sentences:
        documents = self.searcher.index.documents
        doc_ids: list[str] = []
        spans: list[Span] = []
        owner: list[int] = []
        for position, r in enumerate(results):
            text = documents[r.citation.doc_id].text
            for span in passage_sentences(text, r.citation.start, r.citation.end):
                doc_ids.append(r.citation.doc_id)
                spans.append(span)
                owner.append(position)
        texts = [documents[d].text[s.start : s.end] for d, s in zip(doc_ids, spans, strict=True)]
        vectors = self.sentence_vectors(texts)
        cosine = np.array([vectors[t] @ query for t in texts], dtype=np.float64)
        [question_terms] = self.sentence_terms([question])
        sentence_terms = self.sentence_terms(texts)
        overlap = np.array([term_overlap(question_terms, t) for t in sentence_terms], dtype=np.float64)
        candidate = np.zeros(len(spans), dtype=bool)
        owners = np.asarray(owner, dtype=np.int64)
        for position in range(len(results)):
            mine = np.flatnonzero(owners == position)
            if len(mine):
                candidate[mine] = answer_candidates([spans[i] for i in mine], [texts[i] for i in mine])
        return Sentences(
            doc_ids=tuple(doc_ids),
            spans=tuple(spans),
            result=owners,
            cosine=np.asarray(cosine, dtype=np.float64),
            overlap=overlap,
            score=sentence_scores(cosine, overlap, self.similarity_weight),
            candidate=candidate,
        )

    def sentence_vectors(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Vectors of the given sentences: the ones neither preloaded nor cached are embedded in one encode
        call."""
        known = self._known_sentences
        found = {t: known[t] for t in texts if t in known}
        rest = [t for t in texts if t not in found]
        if rest:
            vectors = self._sentence_vectors.get_many(
                rest, lambda missing: list(self.searcher.encoder.encode(missing, batch_size=64))
            )
            found.update(zip(rest, vectors, strict=True))
        return found

    def sentence_terms(self, texts: Sequence[str]) -> list[frozenset[str]]:
        """Content terms of each text (sentences, and the question): the ones not cached are tokenized
        in one call (LRU, like the vectors: tokenizing costs about as much per query as the rest of the
        answer layer)."""
        return self._terms.get_many(texts, self.terms.terms)

    def highlights(self, sentences: Sentences, position: int) -> tuple[Highlight, ...]:
        mine = np.flatnonzero(sentences.result == position)
        picked = pick_highlights(
            [sentences.spans[i] for i in mine], sentences.score[mine], sentences.candidate[mine]
        )
        return tuple(Highlight(s.start, s.end, s.score) for s in picked)

    def best_answer(self, first: int, sentences: Sentences) -> Answer | None:
        """The best candidate sentence of the ``first`` results (a highlight of one of them)."""
        eligible = sentences.candidate & (sentences.result < first)
        if not eligible.any():
            return None
        best = int(np.argmax(np.where(eligible, sentences.score, -np.inf)))
        doc_id, span = sentences.doc_ids[best], sentences.spans[best]
        text = self.searcher.index.documents[doc_id].text[span.start : span.end]
        return Answer(
            text, float(sentences.score[best]), citation_of(self.searcher, doc_id, span.start, span.end)
        )

    def passage_cosines(self, results: list[Result], query: np.ndarray) -> np.ndarray:
        ids = np.array([pid for r in results for pid in r.passage_ids], dtype=np.int64)
        return self.searcher.index.dense.vectors(ids) @ query if len(ids) else np.empty(0)

    def question_coverage(self, question: str) -> float:
        [terms] = self.sentence_terms([question])
        if not terms:
            return 0.0
        return sum(self.searcher.index.bm25.has_term(t) for t in terms) / len(terms)


def replace_highlights(result: Result, highlights: tuple[Highlight, ...]) -> Result:
    return Result(result.rank, result.score, result.text, result.citation, result.passage_ids, highlights)


def response_features(
    sentences: Sentences, passage_cosines: np.ndarray, coverage: float, depth: int = SIGNAL_DEPTH
) -> dict[str, float]:
    """The answerability features (see citeqa.answerability.FEATURES) of the first ``depth`` results."""
    pool = sentences.candidate & (sentences.result < depth)

    def best(values: np.ndarray) -> float:
        return float(values[pool].max()) if pool.any() else 0.0

    return {
        "best_sentence_cosine": best(sentences.cosine),
        "best_sentence_overlap": best(sentences.overlap),
        "best_sentence_score": best(sentences.score),
        "top_passage_cosine": float(passage_cosines.max()) if len(passage_cosines) else 0.0,
        "question_coverage": float(coverage),
    }


def citation_of(searcher: Searcher, doc_id: str, start: int, end: int) -> Citation:
    return Citation.of(searcher.index.documents[doc_id], start, end)
