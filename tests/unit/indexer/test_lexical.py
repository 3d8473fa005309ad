"""BM25 over segments with deletes (indexer.lexical) against the real bm25s index of the live passages
alone (``Bm25Index``): the same scores, the same rankings, across save/load and edge cases."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from corpus import DEFAULT_CORPUS_DIR
from corpus.sources import load_corpus
from eval.synthetic import synthetic_documents, synthetic_questions
from indexer.bm25_index import Bm25Index
from indexer.chunking import ChunkerSettings, chunk_corpus
from indexer.lexical import (
    SEGMENT_FILES,
    TERMS_FILE,
    LexicalIndex,
    LexicalSegment,
    tokenize,
    top_positive,
)

RTOL = 1e-5


def ranking(scores: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[int]:
    """The ids of the ``k`` best positive scores, best first, ties by id, by a full sort."""
    ids = range(len(scores)) if allowed is None else allowed.tolist()
    return sorted((i for i in ids if scores[i] > 0), key=lambda i: (-scores[i], i))[:k]


NO_TERM_TEXTS = ["!!! ???", "", "the of and to"]  # rows without any token


@pytest.fixture(scope="module")
def texts() -> list[str]:
    """The default corpus's passages, synthetic health-style passages, and rows without any token."""
    documents = load_corpus(DEFAULT_CORPUS_DIR) + synthetic_documents(120, seed=3)
    passages = [p.text for p in chunk_corpus(documents, ChunkerSettings())]
    return passages[:40] + NO_TERM_TEXTS[:2] + passages[40:] + NO_TERM_TEXTS[2:]


@pytest.fixture(scope="module")
def questions() -> list[str]:
    written = [
        "What is baby milia and how is it different from baby acne?",
        "acne acne acne treatment",  # a repeated word counts once per occurrence, as in bm25s
        "milia milia baby",
        "zzyzx quokkaphobia acne",  # unknown words among known ones
        "zzyzx quokkaphobia",  # no known word at all
        "the of and",  # stopwords only
        "",
        "Eczema? ECZEMA! itching, redness; moisturizer.",
    ]
    return written + synthetic_questions(synthetic_documents(120, seed=3), 12, seed=5)


@pytest.fixture(scope="module")
def split(texts: list[str]) -> tuple[list[LexicalSegment], list[np.ndarray | None], list[str]]:
    """The texts as 3 segments with about a quarter of the rows of two of them deleted (one segment has
    no mask), and the live texts in compact-id order."""
    rng = np.random.default_rng(7)
    cuts = [0, 30, 31 + len(texts) // 2, len(texts)]
    parts = [texts[a:b] for a, b in pairwise(cuts)]
    segments = [LexicalSegment.build(tokenize(part)) for part in parts]
    live: list[np.ndarray | None] = [rng.random(len(parts[0])) > 0.25, None, rng.random(len(parts[2])) > 0.25]
    live[0][[0, 3]] = False  # the first passages of the default corpus hold its rarest terms
    live_texts = [
        t
        for part, mask in zip(parts, live, strict=True)
        for i, t in enumerate(part)
        if mask is None or mask[i]
    ]
    return segments, live, live_texts


def test_tokenize_is_bm25_index_analysis(texts: list[str]) -> None:
    assert tokenize(texts) == Bm25Index.tokenize(texts)
    assert tokenize([]) == []


def test_one_segment_scores_equal_bm25s(texts: list[str], questions: list[str]) -> None:
    oracle = Bm25Index.build(texts)
    index = LexicalIndex([LexicalSegment.build(tokenize(texts))])
    assert len(index) == len(oracle) == len(texts)
    for question in questions:
        expected, got = oracle.scores(question), index.scores(question)
        assert got.dtype == np.float32 and got.shape == (len(texts),)
        assert np.allclose(got, expected, rtol=RTOL, atol=0), question
        assert index.query_tokens(question) == oracle.query_tokens(question), question
    assert index.scores("acne acne").max() > index.scores("acne").max() > 0
    assert not index.scores("zzyzx quokkaphobia").any()


def test_scores_are_bm25s_bit_for_bit(texts: list[str], questions: list[str]) -> None:
    """Not only within a tolerance: the same float operations in the same order as bm25s."""
    oracle = Bm25Index.build(texts)
    index = LexicalIndex([LexicalSegment.from_texts(texts)])
    for question in questions:
        assert np.array_equal(index.scores(question), oracle.scores(question)), question


def test_segments_with_deletes_equal_an_index_of_the_live_rows(
    split: tuple[list[LexicalSegment], list[np.ndarray | None], list[str]], questions: list[str]
) -> None:
    segments, live, live_texts = split
    oracle = Bm25Index.build(live_texts)
    index = LexicalIndex(segments, live)
    assert len(index) == len(oracle) == len(live_texts)
    for question in questions:
        assert np.allclose(index.scores(question), oracle.scores(question), rtol=RTOL, atol=0), question
        assert index.query_tokens(question) == oracle.query_tokens(question), question
        expected = oracle.scores(question)
        for k in (1, 5, 10, len(live_texts)):
            got_scores, got_ids = index.search(question, k)
            assert got_ids.tolist() == ranking(expected, k), (question, k)
            assert np.allclose(got_scores, expected[got_ids], rtol=RTOL, atol=0)


def test_merge_equals_building_the_live_rows(
    split: tuple[list[LexicalSegment], list[np.ndarray | None], list[str]], questions: list[str]
) -> None:
    segments, live, live_texts = split
    merged = LexicalSegment.merge(segments, live)
    built = LexicalSegment.build(tokenize(live_texts))
    assert merged.terms == built.terms
    for name in ("indptr", "rows", "tfs", "lengths", "pair_ids", "pairs"):
        assert np.array_equal(getattr(merged, name), getattr(built, name)), name
    assert merged.pairs is not None and merged.pair_ids is not None  # each posting's (length, tf) pair
    assert np.array_equal(
        merged.pairs[merged.pair_ids], np.stack([merged.lengths[merged.rows], merged.tfs], 1)
    )
    index, one = LexicalIndex(segments, live), LexicalIndex([merged])
    for question in questions:
        assert np.array_equal(index.scores(question), one.scores(question)), question


def test_save_load_round_trip(
    tmp_path: Path,
    split: tuple[list[LexicalSegment], list[np.ndarray | None], list[str]],
    questions: list[str],
) -> None:
    segments, live, _ = split
    for i, segment in enumerate(segments):
        segment.save(tmp_path / str(i))
        assert sorted(p.name for p in (tmp_path / str(i)).iterdir()) == sorted(SEGMENT_FILES)
    terms = pa.ipc.open_file(pa.memory_map(str(tmp_path / "0" / TERMS_FILE))).read_all()
    assert terms.column("term").to_pylist() == segments[0].terms
    mapped = [LexicalSegment.load(tmp_path / str(i)) for i in range(len(segments))]
    in_memory = [LexicalSegment.load(tmp_path / str(i), mmap=False) for i in range(len(segments))]
    assert all(isinstance(s.rows.base, np.memmap) and not s.rows.flags.writeable for s in mapped)
    assert all(s.rows.flags.writeable and not isinstance(s.rows.base, np.memmap) for s in in_memory)
    original = LexicalIndex(segments, live)
    for loaded in (mapped, in_memory):
        index = LexicalIndex(loaded, live)
        for question in questions:
            assert np.array_equal(index.scores(question), original.scores(question)), question


def test_load_refuses_a_folder_of_another_format(tmp_path: Path) -> None:
    LexicalSegment.build([["rye"]]).save(tmp_path)
    table = pa.table({"term": ["rye"]})
    with pa.OSFile(str(tmp_path / TERMS_FILE), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    with pytest.raises(ValueError, match="not a"):
        LexicalSegment.load(tmp_path)


def test_no_segments() -> None:
    index = LexicalIndex([])
    assert len(index) == 0
    assert index.scores("bread").shape == (0,)
    scores, ids = index.search("bread", 5)
    assert len(scores) == len(ids) == 0
    assert index.scores_of("bread", []).shape == (0,)
    assert not index.has_term("bread") and index.query_tokens("bread") == []


def test_empty_segments_and_rows_without_tokens(tmp_path: Path) -> None:
    empty = LexicalSegment.build([])
    assert empty.n_rows == 0 and empty.terms == [] and empty.indptr.tolist() == [0]
    empty.save(tmp_path / "empty")
    no_terms = LexicalSegment.from_texts(NO_TERM_TEXTS)
    assert no_terms.n_rows == 3 and no_terms.terms == [] and no_terms.lengths.tolist() == [0, 0, 0]
    no_terms.save(tmp_path / "no_terms")
    loaded = [LexicalSegment.load(tmp_path / "empty"), LexicalSegment.load(tmp_path / "no_terms")]

    index = LexicalIndex(loaded)  # like Bm25Index, rows without any term are an index that finds nothing
    oracle = Bm25Index.build(NO_TERM_TEXTS)
    assert len(index) == len(oracle) == 3
    assert index.scores("bread").tolist() == oracle.scores("bread").tolist() == [0.0, 0.0, 0.0]
    assert len(index.search("bread", 3)[1]) == 0

    texts = ["rye bread bakes long", "!!!", "sourdough bread"]
    segments = [
        empty,
        LexicalSegment.from_texts(texts[:2]),
        empty,
        LexicalSegment.from_texts(texts[2:]),
        empty,
    ]
    index, oracle = LexicalIndex(segments), Bm25Index.build(texts)
    for question in ("bread", "rye bread", "sourdough"):
        assert np.array_equal(index.scores(question), oracle.scores(question))
        assert index.search(question, 3)[1].tolist() == oracle.search(question, 3)[1].tolist()


def test_fully_deleted_segments() -> None:
    a = LexicalSegment.from_texts(["rye bread", "zucchini bread"])
    b = LexicalSegment.from_texts(["sourdough bread"])
    index = LexicalIndex([a, b], [np.zeros(2, dtype=bool), None])
    oracle = Bm25Index.build(["sourdough bread"])
    assert len(index) == 1
    assert np.array_equal(index.scores("rye bread"), oracle.scores("rye bread"))
    assert not index.has_term("rye")
    everything_deleted = LexicalIndex([a, b], [np.zeros(2, dtype=bool), np.zeros(1, dtype=bool)])
    assert len(everything_deleted) == 0 and everything_deleted.scores("bread").shape == (0,)
    assert len(everything_deleted.search("bread", 3)[1]) == 0


def test_terms_only_in_deleted_rows_are_unknown() -> None:
    texts = ["rye bread bakes long", "sourdough starter feeds", "rye flour", "zucchini bread"]
    segments = [LexicalSegment.from_texts(texts[:2]), LexicalSegment.from_texts(texts[2:])]
    index = LexicalIndex(segments, [None, np.array([True, False])])
    zucchini, bread = tokenize(["zucchini bread"])[0]
    assert segments[1].term_ids.get(zucchini) is not None  # still in the segment's postings
    assert not index.has_term(zucchini)
    assert index.has_term(bread) and index.has_term(tokenize(["flour"])[0][0])
    assert index.query_tokens("zucchini bread") == [bread]
    oracle = Bm25Index.build(texts[:3])
    assert np.array_equal(index.scores("zucchini bread"), oracle.scores("zucchini bread"))
    assert not index.scores("zucchini").any()


def test_allowed_restricts_search(
    split: tuple[list[LexicalSegment], list[np.ndarray | None], list[str]], questions: list[str]
) -> None:
    segments, live, _ = split
    index = LexicalIndex(segments, live)
    allowed = np.arange(1, len(index), 3)
    for question in questions:
        scores = index.scores(question)
        got_scores, got_ids = index.search(question, 5, allowed)
        assert set(got_ids.tolist()) <= set(allowed.tolist())
        want = ranking(scores, 5, allowed)
        assert got_ids.tolist() == want
        assert np.array_equal(got_scores, scores[want])
    assert len(index.search("milia", 5, np.array([], dtype=np.int64))[1]) == 0


def test_search_breaks_ties_by_id_even_at_the_kth_place() -> None:
    """Four equal passages tied for the second place: k=3 keeps the two lowest ids (``np.argpartition``
    alone would keep an arbitrary two of them)."""
    texts = ["rye rye bread", "rye bread", "rye bread", "rye bread", "rye bread", "flour"]
    index = LexicalIndex([LexicalSegment.from_texts(texts[:3]), LexicalSegment.from_texts(texts[3:])])
    for k in range(6):
        assert index.search("rye", k)[1].tolist() == [0, 1, 2, 3, 4][:k]
        assert index.search("rye", k, np.array([4, 3, 2]))[1].tolist() == [2, 3, 4][:k]


@pytest.mark.parametrize("k", [0, 1, 10, 37])
def test_top_positive_over_many_rows_equals_a_full_sort(k: int) -> None:
    """Large score vectors take the sampled-bound path: the same result as sorting everything, ties
    (many here: scores are rounded) by id, zeros and negatives never returned."""
    rng = np.random.default_rng(k)
    for n in (50_000, 200_000):
        scores = np.round(rng.normal(0, 2, n), 1).astype(np.float32)
        scores[rng.random(n) < 0.5] = 0
        got_scores, got_ids = top_positive(scores, k)
        assert got_ids.tolist() == ranking(scores, k)
        assert np.array_equal(got_scores, scores[got_ids])
    few = np.zeros(50_000, dtype=np.float32)
    few[[7, 70, 700]] = [1.0, 3.0, 1.0]  # fewer positives than k: all of them
    assert top_positive(few, k)[1].tolist() == [70, 7, 700][:k]


def test_scores_of_equals_the_full_score_vector(
    split: tuple[list[LexicalSegment], list[np.ndarray | None], list[str]], questions: list[str]
) -> None:
    segments, live, _ = split
    index = LexicalIndex(segments, live)
    rng = np.random.default_rng(1)
    ids = np.concatenate([rng.permutation(len(index))[: len(index) // 2], [0, 0, len(index) - 1]])
    for question in questions:
        assert np.array_equal(index.scores_of(question, ids), index.scores(question)[ids]), question
    with pytest.raises(IndexError):
        index.scores_of("milia", [len(index)])


def test_compact_ids_number_live_rows_in_segment_then_row_order(
    split: tuple[list[LexicalSegment], list[np.ndarray | None], list[str]],
) -> None:
    segments, live, _ = split
    index = LexicalIndex(segments, live)
    expected = [
        (s, r)
        for s, (segment, mask) in enumerate(zip(segments, live, strict=True))
        for r in range(segment.n_rows)
        if mask is None or mask[r]
    ]
    segment_of, row_of = index.locate(np.arange(len(index)))
    assert list(zip(segment_of.tolist(), row_of.tolist(), strict=True)) == expected


def test_live_masks_are_validated() -> None:
    segment = LexicalSegment.from_texts(["rye bread", "sourdough"])
    with pytest.raises(ValueError):
        LexicalIndex([segment], [np.ones(3, dtype=bool)])
    with pytest.raises(ValueError):
        LexicalIndex([segment], [np.ones(2, dtype=np.int8)])
    with pytest.raises(ValueError):
        LexicalIndex([segment], [None, None])


def test_document_frequency_counts_live_rows_index_wide() -> None:
    texts = ["rye bread bakes long", "rye dough rests", "wheat bread", "rye crust"]
    segments = [LexicalSegment.from_texts(texts[:2]), LexicalSegment.from_texts(texts[2:])]
    index = LexicalIndex(segments, [np.array([True, False]), None])
    oracle = Bm25Index.build([texts[0], texts[2], texts[3]])
    for term in ("rye", "bread", "dough", "crust", "absent"):
        assert index.document_frequency(term) == oracle.document_frequency(term), term
    assert index.document_frequency("dough") == 0  # only in a deleted row
