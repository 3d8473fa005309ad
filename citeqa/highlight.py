"""Extractive answer highlighting: which sentences of a passage answer the question.

Each sentence is scored by a mix of its embedding similarity to the question and the share of the
question's content terms it contains (both in [0, 1]). Pure functions over arrays and term sets;
the caller supplies the embeddings (one encode call for all sentences of a response).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import bm25s
import numpy as np
import Stemmer

from indexer.chunking import Span, sentence_spans

SIMILARITY_WEIGHT = 0.7
# A sentence is highlighted when it scores within this margin of the passage's best sentence.
HIGHLIGHT_MARGIN = 0.05
MAX_HIGHLIGHTS = 2
# Shorter "sentences" are headings or fragments ("Bumps on your face?"), and so are short lines without a
# full stop ("Baby Milia from Baby Acne"): they answer nothing on their own, so they are highlighted only
# when a passage has nothing sentence-like.
MIN_ANSWER_WORDS = 5
UNPUNCTUATED_ANSWER_WORDS = 8
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


# A pure function of its arguments, memoized: the same passages recur in query after query, and splitting
# them again cost more than the rest of sentence scoring (the key's text hashes once: str caches its hash).
@lru_cache(maxsize=65_536)
def passage_sentences(document_text: str, start: int, end: int) -> tuple[Span, ...]:
    """Sentences inside ``document_text[start:end]``, in document offsets."""
    return tuple(
        Span(start + s.start, start + s.end, s.words) for s in sentence_spans(document_text[start:end])
    )


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


def is_sentence_like(span: Span, text: str) -> bool:
    """At least MIN_ANSWER_WORDS words ending like a sentence, or a long line (a list item without a full
    stop): a heading ("Baby Milia from Baby Acne") or a fragment does not answer."""
    ends = text.rstrip("\"'\u201d\u2019)]").endswith((".", "!", "?", ":"))
    return span.words >= UNPUNCTUATED_ANSWER_WORDS or (span.words >= MIN_ANSWER_WORDS and ends)


def answer_candidates(spans: Sequence[Span], texts: Sequence[str]) -> np.ndarray:
    """Mask of the sentences that may answer: sentence-like, or all of them when none is."""
    fit = np.array([is_sentence_like(s, t) for s, t in zip(spans, texts, strict=True)], dtype=bool)
    return fit if fit.any() else np.ones(len(spans), dtype=bool)


def pick_highlights(
    spans: Sequence[Span],
    scores: np.ndarray,
    candidates: np.ndarray,
    margin: float = HIGHLIGHT_MARGIN,
    limit: int = MAX_HIGHLIGHTS,
) -> list[ScoredSentence]:
    """The best candidate sentence and others within ``margin`` of it (at most ``limit``), in text order;
    ``candidates`` masks the sentences that may be picked (see answer_candidates)."""
    if len(spans) == 0:
        return []
    masked = np.where(candidates, np.asarray(scores, dtype=np.float64), -np.inf)
    best = float(masked.max())
    order = np.argsort(-masked, kind="stable")[:limit]
    chosen = [int(i) for i in order if masked[i] >= best - margin]
    return [ScoredSentence(spans[i].start, spans[i].end, float(scores[i])) for i in sorted(chosen)]
