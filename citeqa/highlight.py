"""Extractive answer highlighting: which sentences of a passage answer the question.

Each sentence is scored by a mix of its embedding similarity to the question and the share of the
question's content terms it contains (both in [0, 1]). Pure functions over arrays and term sets;
the caller supplies the embeddings (one encode call for all sentences of a response).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import bm25s
import numpy as np
import Stemmer

from indexer.chunking import Span, sentence_spans

SIMILARITY_WEIGHT = 0.7
# A sentence is highlighted when it scores within this margin of the passage's best sentence.
HIGHLIGHT_MARGIN = 0.05
MAX_HIGHLIGHTS = 2
# Shorter "sentences" are headings or fragments ("Bumps on your face?"): they answer nothing on their own,
# so they are highlighted only when a passage has no longer sentence.
MIN_ANSWER_WORDS = 5
# Question words (what, how, my, ...) are stopwords here, unlike in the BM25 index: they say nothing about
# whether a sentence answers. The NLTK English list, as shipped by bm25s.
TERM_STOPWORDS = "en_plus"


@dataclass(frozen=True)
class ScoredSentence:
    start: int
    end: int
    score: float


class TermExtractor:
    """Content terms of texts: lower-cased, English stopwords removed, Snowball-stemmed (as BM25 stems)."""

    def __init__(self) -> None:
        self._stemmer = Stemmer.Stemmer("english")

    def terms(self, texts: Sequence[str]) -> list[frozenset[str]]:
        if not texts:
            return []
        tokens = bm25s.tokenize(
            list(texts),
            stopwords=TERM_STOPWORDS,
            stemmer=self._stemmer,
            return_ids=False,
            show_progress=False,
        )
        return [frozenset(t) for t in tokens]


def passage_sentences(document_text: str, start: int, end: int) -> list[Span]:
    """Sentences inside ``document_text[start:end]``, in document offsets."""
    return [Span(start + s.start, start + s.end, s.words) for s in sentence_spans(document_text[start:end])]


def term_overlap(question_terms: frozenset[str], sentence_terms: frozenset[str]) -> float:
    """Share of the question's terms that the sentence contains."""
    if not question_terms:
        return 0.0
    return len(question_terms & sentence_terms) / len(question_terms)


def sentence_scores(
    similarities: np.ndarray,
    overlaps: Sequence[float] | np.ndarray,
    similarity_weight: float = SIMILARITY_WEIGHT,
) -> np.ndarray:
    """weight * cosine (clipped to [0, 1]) + (1 - weight) * term overlap, per sentence."""
    similarity = np.clip(np.asarray(similarities, dtype=np.float64), 0.0, 1.0)
    return similarity_weight * similarity + (1.0 - similarity_weight) * np.asarray(overlaps, dtype=np.float64)


def answer_candidates(spans: Sequence[Span]) -> np.ndarray:
    """Mask of the sentences that may answer: long enough, or all of them when none is."""
    long_enough = np.array([s.words >= MIN_ANSWER_WORDS for s in spans], dtype=bool)
    return long_enough if long_enough.any() else np.ones(len(spans), dtype=bool)


def pick_highlights(
    spans: Sequence[Span], scores: np.ndarray, margin: float = HIGHLIGHT_MARGIN, limit: int = MAX_HIGHLIGHTS
) -> list[ScoredSentence]:
    """The best candidate sentence and others within ``margin`` of it (at most ``limit``), in text order."""
    if len(spans) == 0:
        return []
    masked = np.where(answer_candidates(spans), np.asarray(scores, dtype=np.float64), -np.inf)
    best = float(masked.max())
    order = np.argsort(-masked, kind="stable")[:limit]
    chosen = [int(i) for i in order if masked[i] >= best - margin]
    return [ScoredSentence(spans[i].start, spans[i].end, float(scores[i])) for i in sorted(chosen)]
