"""BM25 over sentences: every segment write (build, live write, merge) stores its sentences' postings
(``sentence_lexical/``, listed with checksums), and the index-wide sentence BM25 equals bm25s over the texts
of the distinct live sentences (deletes excluded, a sentence of two overlapping passages counted once),
score for score. Segments written before the postings were stored still load and answer (their sentences
found by their vectors only), and a merge writes the postings for them. The fused sentence retrieval
(citeqa.sentence_bm25) is dense and BM25 fused by min-max, as computed here by hand."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from support import remove_sentence_lexical_files

from citeqa.answer_model import load_answer_model
from citeqa.answers import Answerer
from citeqa.search import Searcher
from citeqa.sentence_bm25 import fused_sentences, top_sentences_bm25
from citeqa.sentence_search import top_sentences
from corpus.types import Document
from indexer.bm25_index import Bm25Index
from indexer.embedding import DEFAULT_MODEL
from indexer.index_settings import IndexSettings
from indexer.lexical import LexicalSegment, top_positive
from indexer.live import LiveIndex
from indexer.load import LoadedIndex, SegmentCache, load_index
from indexer.merging import TieredMergePolicy, merge_once
from indexer.sentences import passage_sentences
from indexer.staleness import index_is_current

QUESTIONS = (
    "what are milia",
    "is it safe to pop the white bumps on my baby's nose",
    "how long can harbor seals hold their breath",
    "can I freeze pizza dough",
    "tide pools at low tide",
    "milia babies nose",
)
NO_MERGES = TieredMergePolicy(segments_per_tier=1000, max_deleted_share=1.0)


def note(doc_id: str, title: str, text: str) -> Document:
    return Document(doc_id=doc_id, title=title, text=text)


SEALS = note(
    "seals", "Harbor seals", "Harbor seals rest on rocky shores. They hold their breath for minutes."
)
PIZZA = note("pizza", "Pizza dough", "Pizza dough freezes well for three months. Thaw it in the fridge.")
TIDES = note("tides", "Tide pools", "Tide pools hold anemones and small crabs. Visit them at low tide.")


def live_sentences(index: LoadedIndex) -> list[tuple[str, int, int]]:
    """The distinct live sentences of ``index`` in compact order (segment, then row), from its passages
    and the sentence splitter (not from the stored rows)."""
    keys: dict[tuple[str, int, int], None] = {}
    for passage in index.passages:
        text = index.documents[passage.doc_id].text
        for span in passage_sentences(text, passage.start, passage.end):
            keys.setdefault((passage.doc_id, span.start, span.end))
    return list(keys)


def assert_sentence_bm25_is_bm25s(index: LoadedIndex) -> None:
    """Every segment stores postings of its sentence rows, and sentence BM25 over the commit equals a
    bm25s index over the distinct live sentence texts: the same sentences, the same scores bit for bit,
    the same top 10; each hit's text is its document's text[start:end]."""
    for entry, segment in zip(index.manifest["segments"], index.segments, strict=True):
        reader = segment.reader
        assert reader.sentences is not None and reader.sentence_lexical is not None
        assert entry["sentence_lexical"] == entry["sentences"] == reader.sentence_lexical.n_rows
        listed = [
            f for f in index.manifest["files"] if f.startswith(f"segments/{entry['name']}/sentence_lexical/")
        ]
        assert len(listed) == 7 and all(index.manifest["files"][f]["sha256"] for f in listed)
    keys = live_sentences(index)
    texts = [index.documents[d].text[s:e] for d, s, e in keys]
    oracle = Bm25Index.build(texts)
    bm25 = index.sentence_bm25
    assert len(bm25) == len(keys)
    found = bm25.rows(np.arange(len(bm25)))
    assert [(index.passages[r.passage_id].doc_id, r.start, r.end) for r in found] == keys
    for question in QUESTIONS:
        assert np.array_equal(bm25.lexical.scores(question), oracle.scores(question)), question
        scores, ids = top_positive(oracle.scores(question), 10)  # ties by id (Bm25Index.search: any)
        hits = top_sentences_bm25(index, question, 10)
        assert [(index.passages[h.passage_id].doc_id, h.start, h.end) for h in hits] == [keys[i] for i in ids]
        assert [h.score for h in hits] == scores.tolist()
        for hit in hits:
            passage = index.passages[hit.passage_id]
            assert passage.start <= hit.start < hit.end <= passage.end
            assert (
                texts[keys.index((passage.doc_id, hit.start, hit.end))]
                == passage.text[hit.start - passage.start : hit.end - passage.start]
            )


def test_a_build_stores_the_sentence_postings(loaded_index: LoadedIndex) -> None:
    assert_sentence_bm25_is_bm25s(loaded_index)
    for segment in loaded_index.segments:
        reader = segment.reader
        sentences = reader.sentences
        assert sentences is not None and reader.sentence_lexical is not None
        texts = [
            reader.document(int(reader.doc_rows[p])).text[s:e]
            for p, s, e in zip(sentences.passage_rows, sentences.starts, sentences.ends, strict=True)
        ]
        expected = LexicalSegment.from_texts(texts)  # one row per sentence row, duplicates included
        assert_same_postings(reader.sentence_lexical, expected)
    # The default index has overlapping passages: some sentences are listed twice, counted once.
    assert sum(len(s.reader.sentences or ()) for s in loaded_index.segments) > len(loaded_index.sentence_bm25)


def assert_same_postings(got: LexicalSegment, expected: LexicalSegment) -> None:
    assert got.terms == expected.terms
    for name in ("indptr", "rows", "tfs", "lengths"):
        assert np.array_equal(getattr(got, name), getattr(expected, name)), name


@pytest.fixture
def written(index_copy: Path, encoder: Any) -> Iterator[LiveIndex]:
    """The default index after writes: new segments, a replacement and deletes among them."""
    live = LiveIndex.open(index_copy, encoder, policy=NO_MERGES, background_merges=False)
    live.put([SEALS])
    live.put([PIZZA, TIDES])
    live.put([note("seals", "Harbor seals", SEALS.text + " Pups swim within hours of birth.")])
    live.delete(["pizza"])
    live.delete([next(iter(live.current.documents))])  # one of the default articles
    yield live
    live.close()


def test_live_writes_store_the_postings_and_deletes_leave_their_sentences_out(written: LiveIndex) -> None:
    index = written.current
    assert len(index.segments) == 3  # the first seals segment, all deleted, is dropped
    assert_sentence_bm25_is_bm25s(index)
    found = {
        index.passages[h.passage_id].doc_id for h in top_sentences_bm25(index, "pizza dough freezes", 50)
    }
    assert "pizza" not in found and "seals" not in found
    assert {"tides"} <= {
        index.passages[h.passage_id].doc_id for h in top_sentences_bm25(index, "tide pools crabs", 5)
    }
    # The replaced version's sentences are gone, the new one's are there.
    pups = top_sentences_bm25(index, "pups swim birth", 5)
    assert index.documents[index.passages[pups[0].passage_id].doc_id].text[pups[0].start : pups[0].end] == (
        "Pups swim within hours of birth."
    )
    assert len(top_sentences_bm25(index, "harbor seals breath", 50)) == 2  # the old version's are deleted


def test_a_merge_merges_the_postings(written: LiveIndex) -> None:
    folder = written.folder
    cache = SegmentCache(folder)
    merged = None
    while (step := merge_once(folder, cache, TieredMergePolicy(segments_per_tier=2))) is not None:
        merged = step
    assert merged is not None and len(merged.segments) == 1
    assert_sentence_bm25_is_bm25s(merged)
    reader = merged.segments[0].reader
    sentences = reader.sentences
    assert sentences is not None and reader.sentence_lexical is not None
    texts = [
        reader.document(int(reader.doc_rows[p])).text[s:e]
        for p, s, e in zip(sentences.passage_rows, sentences.starts, sentences.ends, strict=True)
    ]
    assert_same_postings(reader.sentence_lexical, LexicalSegment.from_texts(texts))


def test_an_index_without_sentence_postings_loads_answers_and_is_not_stale(
    index_copy: Path, encoder: Any, default_documents: list[Document], searcher: Searcher
) -> None:
    """The folder the previous release wrote: sentence rows and vectors, no postings."""
    remove_sentence_lexical_files(index_copy)
    assert index_is_current(index_copy, default_documents, DEFAULT_MODEL, IndexSettings())  # no rebuild
    index = load_index(index_copy)
    assert all(s.reader.sentence_lexical is None and s.reader.has_sentences for s in index.segments)
    assert len(index.sentence_bm25) == 0 and top_sentences_bm25(index, QUESTIONS[0], 10) == []
    # Questions encoded as the service encodes them (the question tower the answer model was fitted with).
    degraded = Searcher(index, encoder, searcher.fusion, question_encoder=searcher.question_encoder)
    query = degraded.encode_question(QUESTIONS[1])
    assert fused_sentences(index, QUESTIONS[1], query, 10, 0.3) == top_sentences(index, query, 10)
    answerer = Answerer(
        degraded, answer_model=load_answer_model(), sentence_candidates=10, sentence_bm25_weight=0.3
    )
    analysis = answerer.analyze(QUESTIONS[0], 5)
    assert analysis.best is not None and analysis.best.text.startswith("Milia are tiny")
    # A write beside it stores postings for its own segment; sentence BM25 covers that segment alone.
    live = LiveIndex.open(index_copy, encoder, policy=NO_MERGES, background_merges=False)
    try:
        live.put([TIDES])
        mixed = live.current
        assert [s.reader.sentence_lexical is not None for s in mixed.segments] == [False, True]
        hits = top_sentences_bm25(mixed, "tide pools crabs", 10)
        assert hits and {mixed.passages[h.passage_id].doc_id for h in hits} == {"tides"}
        # A merge with the old segment makes its postings from the sentence texts.
        merged = merge_once(index_copy, SegmentCache(index_copy), TieredMergePolicy(segments_per_tier=2))
        assert merged is not None and len(merged.segments) == 1
        assert_sentence_bm25_is_bm25s(merged)
    finally:
        live.close()


@pytest.mark.parametrize("weight", [0.25, 0.5, 1.0])
def test_fused_sentences_are_dense_and_bm25_fused_by_minmax(searcher: Searcher, weight: float) -> None:
    index = searcher.index
    keys = live_sentences(index)
    texts = [index.documents[d].text[s:e] for d, s, e in keys]
    oracle = Bm25Index.build(texts)
    vectors = np.asarray(searcher.encoder.encode(texts))
    for question in QUESTIONS:
        query = searcher.encode_question(question)
        cosines = vectors @ query
        bm25 = oracle.scores(question)
        dense_top = [keys[i] for i in np.lexsort((np.arange(len(keys)), -cosines))[:100]]
        _, lexical_ids = top_positive(bm25, 100)
        union = list(dict.fromkeys(dense_top + [keys[i] for i in lexical_ids]))
        at = [keys.index(k) for k in union]

        def scaled(values: np.ndarray) -> np.ndarray:
            span = values.max() - values.min()
            return (values - values.min()) / span if span > 0 else np.zeros_like(values)

        fused = (1 - weight) * scaled(cosines[at].astype(np.float64)) + weight * scaled(
            bm25[at].astype(np.float64)
        )
        expected = [union[i] for i in np.lexsort((np.arange(len(union)), -fused))[:10]]
        hits = fused_sentences(index, question, query, 10, weight)
        got = [(index.passages[h.passage_id].doc_id, h.start, h.end) for h in hits]
        assert got == expected, question
        np.testing.assert_allclose([h.cosine for h in hits], [cosines[keys.index(k)] for k in got], atol=1e-4)
        for hit in hits:
            passage = index.passages[hit.passage_id]
            assert passage.start <= hit.start < hit.end <= passage.end
    query = searcher.encode_question(QUESTIONS[0])
    assert fused_sentences(index, QUESTIONS[0], query, 10, 0.0) == top_sentences(index, query, 10)


def test_the_answerer_finds_its_sentences_by_fusion_when_set(searcher: Searcher, app_settings: Any) -> None:
    from service.wiring import build_answerer

    question = QUESTIONS[1]
    query = searcher.encode_question(question)
    dense = Answerer(searcher, answer_model=load_answer_model(), sentence_candidates=10)
    fused = Answerer(
        searcher, answer_model=load_answer_model(), sentence_candidates=10, sentence_bm25_weight=0.5
    )
    assert dense.sentence_bm25_weight == 0.0 and "sentence_bm25_weight" not in dense.settings_view()
    assert fused.settings_view()["sentence_bm25_weight"] == 0.5
    assert fused.over(searcher).sentence_bm25_weight == 0.5
    ranking = dense.results(question, "hybrid", query)
    _, dense_ranks = dense.sentence_retrieval(question, ranking, query, 5)
    _, fused_ranks = fused.sentence_retrieval(question, ranking, query, 5)
    index = searcher.index
    expected = fused_sentences(index, question, query, 10, 0.5)
    assert list(fused_ranks) == [(index.passages[h.passage_id].doc_id, h.start, h.end) for h in expected]
    assert list(fused_ranks) != list(dense_ranks)
    assert build_answerer(app_settings, searcher).sentence_bm25_weight == 0.0  # off by default
    forced = app_settings.model_copy(update={"answer_sentence_bm25_weight": 0.4})
    assert build_answerer(forced, searcher).sentence_bm25_weight == 0.4
