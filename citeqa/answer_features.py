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
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain
from typing import TYPE_CHECKING

import numpy as np
import Stemmer

from citeqa.answer_choice import CLOSERS, asks, is_sentence_like
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
# An instruction opens the sentence with a verb (INSTRUCTION_OPENS, matched at the start) or holds one of
# INSTRUCTING; a number is a digit or a NUMERIC word. Kept apart because one alternation of both was tried
# at every position of the sentence: 6 times slower, the largest cost of a passage the answer layer meets
# for the first time.
INSTRUCTION_OPENS = re.compile(
    r"(use|apply|try|start|be|pick|choose|limit|cleanse|moisturi[sz]e|ask|talk|keep|wash|avoid|don'?t)\b"
)
INSTRUCTING = re.compile(r"\brecommend|\bcan help\b|\bhelps?\b|\bby\b|\btreat|\buse\b|\btry\b|\bapply")
DIGIT = re.compile(r"\d")
NUMERIC = re.compile(
    r"\b(one|two|three|four|five|six|ten|twice|once|half|few|several|weeks?|months?|days?|years?"
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
    "asked_before",  # 1 / the rank by cosine of the question just before it (in its result): an FAQ's answer
)
COLUMN: dict[str, int] = {name: i for i, name in enumerate(FEATURES)}


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
    values = sorted(weights.values())
    middle = len(values) // 2
    # np.median's value (the mean of the middle two of an even count), without its per-call cost.
    median = values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2
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


def asked_before(cosine: np.ndarray, follows_question: np.ndarray, questions: np.ndarray) -> np.ndarray:
    """Per sentence that follows a question in its result (``follows_question``), 1 / the rank of that
    question by cosine with the question asked among the ``questions`` (the pool's sentences that ask;
    0 for a question outside them), else 0: in an FAQ, the answer to the entry that asks what was asked.
    A rank, not the cosine: a user's wording matches the FAQ's own question only so well, but better than
    it matches the other entries'."""
    before = np.zeros(len(cosine), dtype=np.float64)
    # A question outside the pool (a lower result's) is not ranked: with no question in the pool, every
    # one would rank first.
    before[1:] = np.where(questions[:-1], pool_ranks(cosine, questions)[:-1], 0.0)
    return np.where(follows_question > 0, before, 0.0)


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


def sentence_shape(span: Span, text: str, sentence_like: bool) -> list[float]:
    stripped = text.rstrip(CLOSERS + " ")
    return [
        0.0 if sentence_like else 1.0,
        1.0 if asks(text) else 0.0,
        1.0 if stripped.endswith((":", "\uff1a")) else 0.0,
        1.0 if span.words < HEADING_WORDS else 0.0,
        min(span.words / LONG_SENTENCE_WORDS, 1.0),
    ]


@lru_cache(maxsize=65_536)
def sentence_cues(text: str) -> tuple[bool, ...]:
    """Which cue patterns the sentence matches, in QUESTION_KINDS' order (memoized, like lead_stems)."""
    lower = plain(text)
    return (
        DEFINING.search(lower) is not None,
        CAUSAL.search(lower) is not None,
        ADVISING.search(lower) is not None,
        INSTRUCTION_OPENS.match(lower) is not None or INSTRUCTING.search(lower) is not None,
        DIGIT.search(lower) is not None or NUMERIC.search(lower) is not None,
    )


def cue_features(kinds: dict[str, bool], text: str, leads: bool) -> list[float]:
    defining, causal, advising, instructing, numeric = sentence_cues(text)
    return [
        float(kinds["definition"] and leads and defining),
        float(kinds["cause"] and causal),
        float(kinds["yesno"] and advising),
        float(kinds["howto"] and instructing),
        float(kinds["amount"] and numeric),
    ]


# The features of a sentence that do not depend on the question (its place in its result, its shape,
# which cues it matches): computed once per result's passage (citeqa.sentence_blocks), read per query.
STATIC_FEATURES: tuple[str, ...] = (
    "starts_paragraph",
    "follows_question",
    "not_sentence_like",
    "is_question",
    "list_intro",
    "short",
    "length",
)
CUES: tuple[str, ...] = ("defining", "causal", "advising", "instructing", "numeric")  # QUESTION_KINDS' order
STATIC_COLUMNS = slice(COLUMN[STATIC_FEATURES[0]], COLUMN[STATIC_FEATURES[-1]] + 1)
CUE_COLUMNS = slice(COLUMN["definition_x_defining"], COLUMN["amount_x_numeric"] + 1)


@dataclass(frozen=True)
class StaticFeatures:
    """The question-independent features of a run of sentences: ``rows`` (float64, one row per sentence)
    holds STATIC_FEATURES then CUES (0 or 1); ``leads`` the stems of each sentence's first words."""

    rows: np.ndarray
    leads: tuple[frozenset[str], ...]

    @staticmethod
    def of_result(document: str, spans: Sequence[Span], texts: Sequence[str]) -> StaticFeatures:
        """The features of the sentences of one result (``spans`` in ``document``, in order)."""
        rows = [
            [
                float(starts_paragraph(document, span.start)),
                float(i > 0 and asks(texts[i - 1])),
                *sentence_shape(span, text, is_sentence_like(span, text)),
                *map(float, sentence_cues(text)),
            ]
            for i, (span, text) in enumerate(zip(spans, texts, strict=True))
        ]
        matrix = np.array(rows, dtype=np.float64).reshape(len(rows), len(STATIC_FEATURES) + len(CUES))
        return StaticFeatures(matrix, tuple(frozenset(lead_stems(text)) for text in texts))

    @staticmethod
    def concatenate(parts: Sequence[StaticFeatures]) -> StaticFeatures:
        if not parts:
            return StaticFeatures(np.zeros((0, len(STATIC_FEATURES) + len(CUES))), ())
        return StaticFeatures(
            np.concatenate([p.rows for p in parts]), tuple(chain.from_iterable(p.leads for p in parts))
        )


def static_features(sentences: Sentences, documents: Mapping[str, Document]) -> StaticFeatures:
    """The scorer's static features of ``sentences``, else (sentences built by hand) computed result by
    result."""
    if sentences.static is not None:
        return sentences.static
    rows = np.zeros((len(sentences.spans), len(STATIC_FEATURES) + len(CUES)), dtype=np.float64)
    leads: list[frozenset[str]] = [frozenset()] * len(sentences.spans)
    for position in dict.fromkeys(sentences.result.tolist()):
        mine = np.flatnonzero(sentences.result == position).tolist()
        document = documents[sentences.doc_ids[mine[0]]].text
        spans, texts = [sentences.spans[i] for i in mine], [sentences.texts[i] for i in mine]
        part = StaticFeatures.of_result(document, spans, texts)
        rows[mine] = part.rows
        for i, lead in zip(mine, part.leads, strict=True):
            leads[i] = lead
    return StaticFeatures(rows, tuple(leads))


def term_shares(
    weights: dict[str, float], rare: frozenset[str], terms: Sequence[frozenset[str]]
) -> tuple[np.ndarray, np.ndarray]:
    """Per sentence, ``weighted_overlap`` and whether it holds every ``rare`` term; computed once per
    distinct set of question terms held (few per response), in the very same float arithmetic."""
    held = list(map(frozenset(weights).intersection, terms))
    values = {h: (weighted_overlap(weights, h), float(bool(rare) and rare <= h)) for h in set(held)}
    shares = np.array(list(map(values.__getitem__, held)), dtype=np.float64).reshape(len(held), 2)
    return shares[:, 0], shares[:, 1]


def cue_columns(kinds: dict[str, bool], static: StaticFeatures, question_terms: frozenset[str]) -> np.ndarray:
    """The kind x cue features: a cue counts only for the kind of question it answers (a definition's
    cue only in a sentence led by a question term)."""
    cues = static.rows[:, len(STATIC_FEATURES) :]
    columns = np.zeros_like(cues)
    for j, kind in enumerate(QUESTION_KINDS):
        if kinds[kind]:
            columns[:, j] = cues[:, j]
    if kinds["definition"]:
        leads = [not question_terms.isdisjoint(lead) for lead in static.leads]
        columns[:, 0] *= np.array(leads, dtype=np.float64)
    return columns


def hit_column(sentences: Sentences, hits: Mapping[tuple[str, int, int], int]) -> np.ndarray:
    """1 / the rank of each sentence among those sentence-level retrieval found (0: not found)."""
    if not hits:
        return np.zeros(len(sentences.spans))
    keys = zip(sentences.doc_ids, sentences.spans, strict=True)
    return np.array(
        [1.0 / hit if (hit := hits.get((d, s.start, s.end))) else 0.0 for d, s in keys], dtype=np.float64
    )


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
    kinds = question_kinds(question)
    weights = idf_weights(sentences.question_terms, document_frequency, passages)
    rare = rare_terms(weights)
    result = sentences.result
    result_ranks = result + 1 if ranks is None else np.asarray(ranks, dtype=np.int64)[result]
    result_ranks = result_ranks.astype(np.int64)
    idf, all_rare = term_shares(weights, rare, sentences.terms)
    pool = (result_ranks <= pool_depth) & sentences.candidate
    static = static_features(sentences, documents)
    matrix = np.empty((len(sentences.spans), len(FEATURES)), dtype=np.float64)
    matrix[:, COLUMN["cosine"]] = sentences.cosine
    matrix[:, COLUMN["context_cosine"]] = neighbour_cosines(sentences.cosine, result)
    matrix[:, COLUMN["overlap"]] = sentences.overlap
    matrix[:, COLUMN["idf_overlap"]] = idf
    matrix[:, COLUMN["all_rare_terms"]] = all_rare
    matrix[:, COLUMN["cosine_rank"]] = pool_ranks(sentences.cosine, pool)
    matrix[:, COLUMN["idf_overlap_rank"]] = pool_ranks(idf, pool)
    matrix[:, COLUMN["reciprocal_rank"]] = 1.0 / result_ranks
    matrix[:, COLUMN["first_result"]] = result_ranks == 1
    matrix[:, STATIC_COLUMNS] = static.rows[:, : len(STATIC_FEATURES)]
    matrix[:, CUE_COLUMNS] = cue_columns(kinds, static, sentences.question_terms)
    matrix[:, COLUMN["sentence_hit"]] = hit_column(sentences, hit_ranks or {})
    matrix[:, COLUMN["beyond_depth"]] = result_ranks > pool_depth
    questions = (result_ranks <= pool_depth) & (matrix[:, COLUMN["is_question"]] > 0)
    matrix[:, COLUMN["asked_before"]] = asked_before(
        sentences.cosine, matrix[:, COLUMN["follows_question"]], questions
    )
    return matrix
