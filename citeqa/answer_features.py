"""The features the learned answer choice reads (citeqa.answer_model), per candidate sentence, as pure
functions over a response's scored sentences.

What a question asks for (a definition, a cause, a yes/no, a how-to, a number or a time) is crossed with
cues of the sentence that answer that kind ("X are ...", "because", "avoid/should", a number): a cue only
counts for the kind of question it answers. The rest says how well the sentence matches (cosine, alone and
with its neighbours; share of the question's terms, plain and weighted by how rare each term is in the
index), where it stands (its result's rank) and what it looks like (a heading, a question, a list
intro, very short). Nothing here depends on one corpus's score scale but the cosines, which are the
model's.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import Stemmer

from citeqa.answer_choice import is_sentence_like
from corpus.types import Document
from indexer.chunking import Span

if TYPE_CHECKING:
    from citeqa.sentence_scoring import Sentences

# Question kinds: a question may be of several kinds (or none). Texts are matched lower-cased, with
# typographic apostrophes made plain.
QUESTION_KINDS: dict[str, re.Pattern[str]] = {
    "definition": re.compile(
        r"^(so |and )?(what|whats|what's|wat)\s+(is|are|was|were)\b"
        r"(?!\s+(the\s+)?(best|cheapest|fastest|quickest|price|cost|age|time))"
        r"|\bwhat does .+ mean\b|\bdefin|\bmeaning of\b|\bwhat (kind|type)s? of\b"
    ),
    "cause": re.compile(r"\bwhy\b|\bcaus|\breasons?\b|\bwhat makes\b|\btrigger|\bwhere do .+ come from\b"),
    "yesno": re.compile(
        r"^(so |and |but )?(is|are|can|could|should|do|does|did|will|would|may|must|was|were|am|has|have)\b"
        r"|\bis it (ok|okay|safe|bad|normal|possible)\b"
    ),
    "howto": re.compile(
        r"\bhow (do|can|should|to|would|could|does)\b|\bways? to\b|\btips?\b"
        r"|\bwhat (can|should|do) (i|we|you)\b|\bhelp\b|\btreat|\bget rid\b|\bprevent|\bstop\b"
    ),
    "amount": re.compile(
        r"\bhow (many|much|long|often|old|soon|far|big|fast)\b|\bwhen\b|\bwhat age\b|\bwhat time\b"
        r"|\bcost\b|\bprice\b"
    ),
}
# Sentence cues, each paired with the question kind it answers.
# "X is/are ..." not followed by a participle ("are classified", "is caused": a statement, not a definition).
DEFINING = re.compile(
    r"\b(is|are)\b(?!\s+(not\s+)?\w+ed\b)"
    r"|\b(refers? to|means?|called|also known as|known as|(happens|occurs) when)\b"
)
CAUSAL = re.compile(
    r"\bbecause\b|\bcaus|\bdue to\b|\bresult of\b|\bresults? (in|from)\b|\breasons?\b|\blead to\b"
    r"|\bwhen\b|\bafter\b|\bfrom\b"
)
ADVISING = re.compile(
    r"\bavoid|\bshould|\bdon'?t\b|\bdo not\b|\bnever\b|\bsafe|\bharmless|\brecommend|\bno\b|\bnot\b"
    r"|\bcan\b|\bdanger|\bneed|\bok\b|\bokay\b|\baren'?t\b|\bisn'?t\b"
)
INSTRUCTING = re.compile(
    r"^(use|apply|try|start|be|pick|choose|limit|cleanse|moisturi[sz]e|ask|talk|keep|wash|avoid|don'?t)\b"
    r"|\brecommend|\bcan help\b|\bhelps?\b|\bby\b|\btreat|\buse\b|\btry\b|\bapply"
)
NUMERIC = re.compile(
    r"\d|\b(one|two|three|four|five|six|ten|twice|once|half|few|several|weeks?|months?|days?|years?"
    r"|hours?|minutes?|age|ages|birth|old|newborns?|adults?)\b"
)
HEADING_WORDS = 5
LONG_SENTENCE_WORDS = 40

FEATURES: tuple[str, ...] = (
    "cosine",  # of the sentence with the question
    "context_cosine",  # mean cosine of the sentence and its neighbours in the result
    "overlap",  # share of the question's content terms in the sentence
    "idf_overlap",  # the same share, each term weighted by its rarity in the index (IDF)
    "all_rare_terms",  # 1 when the sentence holds every question term rarer than the median
    "cosine_rank",  # 1 / the sentence's rank by cosine among the candidates of the first results
    "idf_overlap_rank",  # 1 / its rank by idf_overlap among them
    "reciprocal_rank",  # 1 / the rank of the sentence's result
    "first_result",  # 1 in the first result
    "starts_paragraph",  # the first sentence of its document or of a paragraph (after a line break)
    "follows_question",  # the sentence before it (in its result) is a question: an FAQ's answer
    "not_sentence_like",  # a heading or fragment (citeqa.answer_choice.is_sentence_like)
    "is_question",  # ends with "?"
    "list_intro",  # ends with ":" (introduces a list)
    "short",  # fewer than HEADING_WORDS words
    "length",  # words / LONG_SENTENCE_WORDS, capped at 1
    "definition_x_defining",  # a "what is/are" question x "X are ..." led by a question term
    "cause_x_causal",  # a "why / what causes" question x "because", "caused by", ...
    "yesno_x_advising",  # a yes/no question x "avoid", "should", "not", "safe", ...
    "howto_x_instructing",  # a how-to question x an instruction or "can help"
    "amount_x_numeric",  # a how many/long/when question x a number or a time word
    "sentence_hit",  # 1 / its rank among the index's sentences closest to the question (0: not among them)
    "beyond_depth",  # its result is below the first results (a candidate through sentence retrieval)
)


def plain(text: str) -> str:
    return text.lower().replace("\u2019", "'")


def question_kinds(question: str) -> dict[str, bool]:
    text = " ".join(plain(question).replace("?", " ").split())
    return {kind: bool(pattern.search(text)) for kind, pattern in QUESTION_KINDS.items()}


WORD = re.compile(r"[a-z0-9]+")
_STEMMER = Stemmer.Stemmer("english")


@lru_cache(maxsize=65_536)
def lead_stems(text: str, lead: int = 3) -> tuple[str, ...]:
    """The stems of the sentence's first ``lead`` words (sentences recur across queries: memoized)."""
    return tuple(_STEMMER.stemWords(WORD.findall(text.lower())[:lead]))


def leads_with(text: str, question_terms: frozenset[str]) -> bool:
    """Whether one of the sentence's first words is a question term ("Milia are ...")."""
    return any(t in question_terms for t in lead_stems(text))


def idf_weights(
    terms: frozenset[str], document_frequency: Callable[[str], int], documents: int
) -> dict[str, float]:
    """BM25's IDF of each term, log(1 + (N - df + 0.5) / (df + 0.5)); a term absent from the index
    weighs most."""
    n = max(documents, 1)
    return {t: math.log(1.0 + (n - (df := document_frequency(t)) + 0.5) / (df + 0.5)) for t in terms}


def weighted_overlap(weights: dict[str, float], sentence_terms: frozenset[str]) -> float:
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in sentence_terms) / total if total > 0 else 0.0


def rare_terms(weights: dict[str, float]) -> frozenset[str]:
    """The question terms at least as rare as the median one."""
    if not weights:
        return frozenset()
    median = float(np.median(list(weights.values())))
    return frozenset(t for t, w in weights.items() if w >= median)


def neighbour_cosines(cosine: np.ndarray, result: np.ndarray) -> np.ndarray:
    """Per sentence, the mean cosine of it and its neighbours within the same result."""
    values = np.asarray(cosine, dtype=np.float64)
    total, count = values.copy(), np.ones(len(values))
    if len(values) > 1:
        same = result[1:] == result[:-1]  # sentence i and i + 1 are neighbours in one result
        total[1:] += np.where(same, values[:-1], 0.0)
        total[:-1] += np.where(same, values[1:], 0.0)
        count[1:] += same
        count[:-1] += same
    return total / count


def pool_ranks(values: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """1 / (1 + how many sentences of the pool score strictly higher), for every sentence: the same
    whichever other sentences were scored, as long as the pool is the same."""
    reference = np.sort(np.asarray(values, dtype=np.float64)[pool])
    higher = len(reference) - np.searchsorted(reference, values, side="right")
    return 1.0 / (1.0 + higher.astype(np.float64))


def starts_paragraph(document: str, start: int) -> bool:
    """Whether only spaces lie between ``start`` and the previous line break (or the document's start)."""
    i = start - 1
    while i >= 0 and document[i] in " \t\r":
        i -= 1
    return i < 0 or document[i] == "\n"


def asks(text: str) -> bool:
    return text.rstrip("\"'\u201d\u2019)] ").endswith("?")


def sentence_shape(span: Span, text: str, sentence_like: bool) -> list[float]:
    stripped = text.rstrip("\"'\u201d\u2019)] ")
    return [
        0.0 if sentence_like else 1.0,
        1.0 if asks(text) else 0.0,
        1.0 if stripped.endswith(":") else 0.0,
        1.0 if span.words < HEADING_WORDS else 0.0,
        min(span.words / LONG_SENTENCE_WORDS, 1.0),
    ]


@lru_cache(maxsize=65_536)
def sentence_cues(text: str) -> tuple[bool, ...]:
    """Which cue patterns the sentence matches, in QUESTION_KINDS' order (memoized, like lead_stems)."""
    lower = plain(text)
    return tuple(bool(p.search(lower)) for p in (DEFINING, CAUSAL, ADVISING, INSTRUCTING, NUMERIC))


def cue_features(kinds: dict[str, bool], text: str, leads: bool) -> list[float]:
    defining, causal, advising, instructing, numeric = sentence_cues(text)
    return [
        float(kinds["definition"] and leads and defining),
        float(kinds["cause"] and causal),
        float(kinds["yesno"] and advising),
        float(kinds["howto"] and instructing),
        float(kinds["amount"] and numeric),
    ]


def feature_matrix(
    question: str,
    sentences: Sentences,
    document_frequency: Callable[[str], int],
    passages: int,
    documents: Mapping[str, Document],
    ranks: Sequence[int] | None = None,
    pool_depth: int = 5,
    hit_ranks: Mapping[tuple[str, int, int], int] | None = None,
) -> np.ndarray:
    """The FEATURES of every sentence of ``sentences`` (rows in their order); ``document_frequency`` and
    ``passages`` are the index's term counts (for the IDF), ``documents`` its documents; ``ranks``: the
    rank of each scored result (default: its position + 1). Ranks among sentences are taken within the
    sentences of the first ``pool_depth`` results, so they do not depend on which page was scored.
    ``hit_ranks``: (doc_id, start, end) -> rank of the sentences found by sentence-level retrieval
    (citeqa.sentence_search)."""
    hits = hit_ranks or {}
    kinds = question_kinds(question)
    weights = idf_weights(sentences.question_terms, document_frequency, passages)
    rare = rare_terms(weights)
    context = neighbour_cosines(sentences.cosine, sentences.result)
    result_ranks = np.array(
        [p + 1 if ranks is None else ranks[p] for p in sentences.result.tolist()], dtype=np.int64
    )
    idf = np.array([weighted_overlap(weights, terms) for terms in sentences.terms], dtype=np.float64)
    pool = (result_ranks <= pool_depth) & sentences.candidate
    cosine_rank, idf_rank = pool_ranks(sentences.cosine, pool), pool_ranks(idf, pool)
    rows = []
    for i, (span, text) in enumerate(zip(sentences.spans, sentences.texts, strict=True)):
        terms = sentences.terms[i]
        rank = int(result_ranks[i])
        rows.append(
            [
                float(sentences.cosine[i]),
                float(context[i]),
                float(sentences.overlap[i]),
                float(idf[i]),
                float(bool(rare) and rare <= terms),
                float(cosine_rank[i]),
                float(idf_rank[i]),
                1.0 / rank,
                1.0 if rank == 1 else 0.0,
                float(starts_paragraph(documents[sentences.doc_ids[i]].text, span.start)),
                float(
                    i > 0 and sentences.result[i - 1] == sentences.result[i] and asks(sentences.texts[i - 1])
                ),
                *sentence_shape(span, text, is_sentence_like(span, text)),
                *cue_features(kinds, text, leads_with(text, sentences.question_terms)),
                1.0 / hit if (hit := hits.get((sentences.doc_ids[i], span.start, span.end))) else 0.0,
                1.0 if rank > pool_depth else 0.0,
            ]
        )
    return np.array(rows, dtype=np.float64).reshape(len(rows), len(FEATURES))
