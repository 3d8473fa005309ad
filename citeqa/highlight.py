"""Extractive answer highlighting: which sentences of a passage answer the question.

Each sentence is scored by a mix of its embedding similarity to the question and the share of the
question's content terms it contains (both in [0, 1]). Pure functions over arrays and token sets;
the caller supplies the embeddings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from indexer.chunking import Span, sentence_spans

SIMILARITY_WEIGHT = 0.7
# A sentence is highlighted when it scores within this margin of the passage's best sentence.
HIGHLIGHT_MARGIN = 0.05
MAX_HIGHLIGHTS = 2


@dataclass(frozen=True)
class ScoredSentence:
    start: int
    end: int
    score: float


def passage_sentences(document_text: str, start: int, end: int) -> list[Span]:
    """Sentences inside ``document_text[start:end]``, in document offsets."""
    return [Span(start + s.start, start + s.end, s.words) for s in sentence_spans(document_text[start:end])]


def term_overlap(question_terms: set[str], sentence_terms: set[str]) -> float:
    """Share of the question's terms that the sentence contains."""
    if not question_terms:
        return 0.0
    return len(question_terms & sentence_terms) / len(question_terms)


def sentence_scores(
    question_vector: np.ndarray,
    sentence_vectors: np.ndarray,
    overlaps: Sequence[float],
    similarity_weight: float = SIMILARITY_WEIGHT,
) -> np.ndarray:
    """weight * cosine (clipped to [0, 1]) + (1 - weight) * term overlap, per sentence."""
    similarity = np.clip(sentence_vectors @ question_vector, 0.0, 1.0)
    return similarity_weight * similarity + (1.0 - similarity_weight) * np.asarray(overlaps, dtype=np.float64)


def pick_highlights(
    spans: Sequence[Span], scores: np.ndarray, margin: float = HIGHLIGHT_MARGIN, limit: int = MAX_HIGHLIGHTS
) -> list[ScoredSentence]:
    """The best sentence and any others within ``margin`` of it (at most ``limit``), in text order."""
    if len(spans) == 0:
        return []
    best = float(scores.max())
    chosen = [i for i in np.argsort(-scores, kind="stable")[:limit] if scores[i] >= best - margin]
    return [ScoredSentence(spans[i].start, spans[i].end, float(scores[i])) for i in sorted(chosen)]
