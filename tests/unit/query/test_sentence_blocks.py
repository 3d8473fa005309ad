"""The per-passage sentence blocks of the answer layer (citeqa.sentence_blocks): made once and cached by
passage, their vectors cached per snapshot (forgotten when the vectors' sources change), cosines equal to
the last bit to one dot product per sentence, and answer features equal to those computed sentence by
sentence."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from citeqa.answer_features import feature_matrix
from citeqa.answers import Answerer
from citeqa.sentence_blocks import sentence_block
from citeqa.sentence_caches import SentenceCaches
from citeqa.sentence_scoring import SentenceScorer, block_cosines

DOCUMENT = "Milia. What are milia? Milia are tiny white bumps on the skin of newborns.\nThey go away."


class LengthEncoder:
    """Encodes a text as [len(text), 1]; records the size of every encode call."""

    name = "length"
    dimension = 2

    def __init__(self) -> None:
        self.calls: list[int] = []

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        self.calls.append(len(texts))
        return np.array([[float(len(t)), 1.0] for t in texts], dtype=np.float32)


def words(texts: Sequence[str]) -> list[frozenset[str]]:
    return [frozenset(t.lower().split()) for t in texts]


def test_a_block_holds_the_sentences_of_its_passage_and_what_does_not_depend_on_the_question() -> None:
    block = sentence_block((DOCUMENT, 0, len(DOCUMENT)), words)
    assert block.texts == tuple(DOCUMENT[s.start : s.end] for s in block.spans)
    assert block.texts[1] == "What are milia?" and len(block) == 4
    assert block.terms[1] == frozenset({"what", "are", "milia?"})
    assert block.candidate.tolist() == [False, False, True, False], "only the sentence-like one answers"
    assert block.static.rows.shape == (4, 12)
    assert block.static.leads[2] == frozenset({"milia", "are", "tini"})


def test_blocks_are_made_once_and_their_vectors_once_per_source_of_vectors() -> None:
    caches = SentenceCaches()
    encoder = LengthEncoder()
    keys = [(DOCUMENT, 0, len(DOCUMENT))]
    made: list[object] = []

    def make(key: tuple[str, int, int]) -> object:
        made.append(key)
        return sentence_block(key, words)

    blocks = caches.sentence_blocks(keys, make)  # type: ignore[arg-type]
    assert caches.sentence_blocks(keys, make) == blocks and len(made) == 1  # type: ignore[arg-type]
    [matrix] = caches.block_vectors(keys, blocks, encoder)
    assert matrix[:, 0].tolist() == [float(len(t)) for t in blocks[0].texts]
    caches.block_vectors(keys, blocks, encoder)
    assert encoder.calls == [4]
    caches.stored = {text: np.array([0.0, 2.0], dtype=np.float32) for text in blocks[0].texts}
    [matrix] = caches.block_vectors(keys, blocks, encoder)
    assert matrix[:, 1].tolist() == [2.0] * 4, "new stored vectors are read, not the block's old ones"
    assert caches.shared().blocks is caches.blocks


def test_block_cosines_are_one_dot_product_per_row_to_the_last_bit() -> None:
    rng = np.random.default_rng(7)
    rows = rng.standard_normal((50, 384)).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    query = rows[0] + 0.5 * rows[1]
    expected = np.array([row @ query for row in rows], dtype=np.float64)
    assert np.array_equal(block_cosines([rows[:7], rows[7:7], rows[7:]], query), expected)
    assert block_cosines([], query).shape == (0,)


def test_features_from_blocks_equal_those_computed_sentence_by_sentence(answerer: Answerer) -> None:
    question = "what are milia and how do you get rid of them"
    index = answerer.searcher.index
    query = answerer.searcher.encode_question(question)
    results = list(answerer.results(question, "hybrid", query))[:8]
    scorer = SentenceScorer(answerer.caches, answerer.searcher.encoder, answerer.term_extractor)
    sentences = scorer.score(question, query, results, index.documents)
    assert sentences.static is not None and len(sentences.texts) > 8
    bm25 = index.bm25
    ranks = list(range(1, len(results) + 1))
    cached = feature_matrix(
        question, sentences, bm25.document_frequency, len(bm25), index.documents, ranks, 5
    )
    plain = feature_matrix(
        question,
        replace(sentences, static=None),
        bm25.document_frequency,
        len(bm25),
        index.documents,
        ranks,
        5,
    )
    assert np.array_equal(cached, plain)
