"""Sentence scoring: how well each sentence of a response's results answers the question.

A sentence's score mixes its embedding similarity to the question and the share of the question's content
terms it contains (both in [0, 1]): ``similarity_weight`` * cosine (clipped) + the rest * term overlap.
The arithmetic is pure functions over arrays and term sets; ``SentenceScorer`` feeds them, taking each
result's sentence block (citeqa.sentence_blocks: texts, term sets, static features) and its vectors from
the caches (citeqa.sentence_caches), so all new sentences of a response are embedded in one encode call.
Which sentence answers, and which are highlighted, is citeqa.answer_choice's decision.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import chain, repeat

import numpy as np
import Stemmer

from citeqa.answer_features import StaticFeatures
from citeqa.sentence_blocks import BlockKey, sentence_block
from citeqa.sentence_caches import SentenceCaches
from citeqa.types import Result
from corpus.types import Document
from indexer.bm25_index import stopword_set, text_tokens
from indexer.chunking import Span
from indexer.embedding import Encoder
from indexer.sentences import passage_sentences

SIMILARITY_WEIGHT = 0.7
# Question words (what, how, my, ...) are stopwords here, unlike in the BM25 index: they say nothing about
# whether a sentence answers. The NLTK English list, as shipped by bm25s.
TERM_STOPWORDS = "en_plus"


@dataclass(frozen=True)
class Sentences:
    """Every sentence of a response's results, as aligned arrays; ``result`` is the position of its result
    in the scored list, ``candidate`` whether it may answer (see citeqa.answer_choice)."""

    doc_ids: tuple[str, ...]
    spans: tuple[Span, ...]
    texts: tuple[str, ...]
    result: np.ndarray
    cosine: np.ndarray
    overlap: np.ndarray
    score: np.ndarray
    candidate: np.ndarray
    terms: tuple[frozenset[str], ...] = ()  # each sentence's content terms
    question_terms: frozenset[str] = frozenset()
    # The learned choice score of each sentence (citeqa.answer_model), when a model is applied: it ranks the
    # sentences for the answer and the highlights; ``score`` stays the similarity mix the answerability reads.
    choice: np.ndarray | None = None
    # The question-independent answer features (citeqa.answer_features), when the scorer made these.
    static: StaticFeatures | None = None
    # Which sentences are headings (citeqa.answer_choice.heading_lines), when the scorer made these.
    heading: np.ndarray | None = None

    def ranking(self) -> np.ndarray:
        """What the answer and the highlights are chosen by: the learned choice, else the similarity mix."""
        return self.score if self.choice is None else self.choice


class TermExtractor:
    """Content terms of texts: lower-cased, English stopwords removed, Snowball-stemmed (as BM25 stems)."""

    def __init__(self) -> None:
        self._stemmer = Stemmer.Stemmer("english")

    def terms(self, texts: Sequence[str]) -> list[frozenset[str]]:
        stopwords = stopword_set(TERM_STOPWORDS)
        return [frozenset(text_tokens(text, stopwords, self._stemmer)) for text in texts]


@dataclass(frozen=True)
class SentenceScorer:
    """Scores the sentences of results against a question, with vectors and term sets from ``caches``
    (the ones missing computed by ``encoder`` and ``extractor``)."""

    caches: SentenceCaches
    encoder: Encoder
    extractor: TermExtractor
    similarity_weight: float = SIMILARITY_WEIGHT

    def question_terms(self, question: str) -> frozenset[str]:
        """Tokenized at each call, not kept: the term-set LRU is sized for sentences (at most 120 words),
        and a question of up to 10,000 characters kept there held about 180 KiB."""
        [terms] = self.extractor.terms([question])
        return terms

    def term_sets(self, texts: Sequence[str]) -> list[frozenset[str]]:
        return self.caches.term_sets(texts, self.extractor.terms)

    def score(
        self, question: str, query: np.ndarray, results: Sequence[Result], documents: Mapping[str, Document]
    ) -> Sentences:
        """Every sentence of ``results`` scored against the question (``query`` is its vector)."""
        keys = [passage_key(result, documents) for result in results]
        blocks = self.caches.sentence_blocks(keys, lambda key: sentence_block(key, self.term_sets))
        texts = tuple(chain.from_iterable(block.texts for block in blocks))
        cosine = block_cosines(self.caches.block_vectors(keys, blocks, self.encoder), query)
        question_terms = self.question_terms(question)
        terms = tuple(chain.from_iterable(block.terms for block in blocks))
        overlap = term_overlaps(question_terms, terms)
        sizes = [len(block) for block in blocks]
        return Sentences(
            doc_ids=tuple(
                chain.from_iterable(repeat(r.citation.doc_id, n) for r, n in zip(results, sizes, strict=True))
            ),
            spans=tuple(chain.from_iterable(block.spans for block in blocks)),
            texts=texts,
            result=np.repeat(np.arange(len(blocks), dtype=np.int64), sizes),
            cosine=cosine,
            overlap=overlap,
            score=sentence_scores(cosine, overlap, self.similarity_weight),
            candidate=np.concatenate([block.candidate for block in blocks] or [np.zeros(0, dtype=bool)]),
            terms=terms,
            question_terms=question_terms,
            static=StaticFeatures.concatenate([block.static for block in blocks]),
            heading=np.concatenate([block.heading for block in blocks] or [np.zeros(0, dtype=bool)]),
        )


def passage_key(result: Result, documents: Mapping[str, Document]) -> BlockKey:
    """What a result's sentence block is cached by: its document's text and its bounds."""
    citation = result.citation
    return documents[citation.doc_id].text, citation.start, citation.end


def result_sentences(
    results: Sequence[Result], documents: Mapping[str, Document]
) -> tuple[list[str], list[Span], list[int]]:
    """(document ids, spans, positions of their results) of every sentence of ``results``, in order."""
    doc_ids: list[str] = []
    spans: list[Span] = []
    owners: list[int] = []
    for position, result in enumerate(results):
        citation = result.citation
        for span in passage_sentences(documents[citation.doc_id].text, citation.start, citation.end):
            doc_ids.append(citation.doc_id)
            spans.append(span)
            owners.append(position)
    return doc_ids, spans, owners


def block_cosines(matrices: Sequence[np.ndarray], query: np.ndarray) -> np.ndarray:
    """Cosine of each row of the matrices (normalized vectors, in order) with the question's vector.
    np.vecdot takes one BLAS dot per row, as ``vector @ query`` does, so a cosine is the same to the last
    bit whichever rows it is computed with (a matrix product sums in another order, which would move
    cosines that are ranked and compared)."""
    parts = [np.vecdot(matrix, query) for matrix in matrices if len(matrix)]
    return np.concatenate(parts).astype(np.float64) if parts else np.zeros(0, dtype=np.float64)


def term_overlap(question_terms: frozenset[str], sentence_terms: frozenset[str]) -> float:
    """Share of the question's terms that the sentence contains."""
    if not question_terms:
        return 0.0
    return len(question_terms & sentence_terms) / len(question_terms)


def term_overlaps(question_terms: frozenset[str], sentence_terms: Sequence[frozenset[str]]) -> np.ndarray:
    """``term_overlap`` of each sentence."""
    if not question_terms:
        return np.zeros(len(sentence_terms), dtype=np.float64)
    held = map(len, map(question_terms.intersection, sentence_terms))
    return np.fromiter(held, dtype=np.int64, count=len(sentence_terms)) / len(question_terms)


def sentence_scores(
    similarities: np.ndarray,
    overlaps: Sequence[float] | np.ndarray,
    similarity_weight: float = SIMILARITY_WEIGHT,
) -> np.ndarray:
    """weight * cosine (clipped to [0, 1]) + (1 - weight) * term overlap, per sentence."""
    similarity = np.clip(np.asarray(similarities, dtype=np.float64), 0.0, 1.0)
    return similarity_weight * similarity + (1.0 - similarity_weight) * np.asarray(overlaps, dtype=np.float64)
