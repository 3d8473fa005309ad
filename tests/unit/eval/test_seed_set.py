"""The hand-written seed evaluation set is valid against the default corpus, and the labels it yields
(relevant passages) exist in the built index."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest
from support import BAILEY_ID, OVERVIEW_ID

from citeqa.fusion import FusionSettings
from corpus.errors import CorpusError
from corpus.types import Document
from eval.seed_report import seed_context
from eval.seed_set import (
    DEFAULT_SEED_SET,
    EvalQuestion,
    gold_spans,
    load_eval_set,
    relevant_passages,
    seed_qrels,
)
from indexer.load import LoadedIndex
from indexer.types import Passage


@pytest.fixture(scope="module")
def seed_set() -> list[EvalQuestion]:
    return load_eval_set(DEFAULT_SEED_SET)


def test_seed_file_is_json_lines(seed_set: list[EvalQuestion]) -> None:
    lines = [line for line in DEFAULT_SEED_SET.read_text(encoding="utf-8").splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]
    assert len(records) == len(seed_set)
    assert all({"id", "question", "answerable"} <= set(r) for r in records)


def test_ids_are_unique(seed_set: list[EvalQuestion]) -> None:
    duplicated = [qid for qid, count in Counter(q.qid for q in seed_set).items() if count > 1]
    assert duplicated == []


def test_questions_are_unique_and_usable(seed_set: list[EvalQuestion]) -> None:
    texts = [" ".join(q.question.lower().split()) for q in seed_set]
    assert len(set(texts)) == len(texts)
    assert all(q.question.strip() and len(q.question) <= 2000 for q in seed_set)


def test_enough_answerable_and_unanswerable(seed_set: list[EvalQuestion]) -> None:
    answerable = [q for q in seed_set if q.answerable]
    assert len(answerable) >= 40
    assert len(seed_set) - len(answerable) >= 8


def test_both_documents_are_covered(
    seed_set: list[EvalQuestion], documents_by_id: dict[str, Document]
) -> None:
    covered = Counter(q.doc_id for q in seed_set if q.answerable)
    assert set(covered) == set(documents_by_id) == {BAILEY_ID, OVERVIEW_ID}
    assert min(covered.values()) >= 10


def test_every_gold_quote_is_in_its_document(
    seed_set: list[EvalQuestion], documents_by_id: dict[str, Document]
) -> None:
    for question in seed_set:
        if not question.answerable:
            continue
        assert question.doc_id in documents_by_id, question.qid
        assert question.gold, f"{question.qid} has no gold quote"
        text = documents_by_id[question.doc_id].text
        for quote in question.gold:
            assert quote.strip() == quote and quote, f"{question.qid}: quote has stray whitespace"
            assert quote in text, f"{question.qid}: {quote!r} not in {question.doc_id}"
        spans = gold_spans(question, documents_by_id)
        assert [text[s:e] for _, s, e in spans] == list(question.gold)


def test_unanswerable_questions_have_no_labels(seed_set: list[EvalQuestion]) -> None:
    for question in seed_set:
        if not question.answerable:
            assert question.doc_id is None and question.gold == (), question.qid


def test_every_answerable_question_has_a_relevant_passage(
    seed_set: list[EvalQuestion], loaded_index: LoadedIndex
) -> None:
    qrels = seed_qrels(seed_set, loaded_index.documents, loaded_index.passages)
    assert set(qrels) == {q.qid for q in seed_set if q.answerable}
    for qid, relevant in qrels.items():
        assert relevant, f"{qid} has no relevant passage in the index"
        for passage_id in relevant:
            assert 0 <= int(passage_id) < len(loaded_index.passages)


def test_relevant_passages_contain_or_mostly_overlap_the_quote(loaded_index: LoadedIndex) -> None:
    passages = loaded_index.passages
    first = passages[0]
    inside = (first.doc_id, first.start + 5, first.start + 25)
    assert 0 in relevant_passages([inside], passages)
    nowhere = (first.doc_id, 10**9, 10**9 + 10)
    assert relevant_passages([nowhere], passages) == set()


def test_a_quote_missing_from_its_document_is_an_error(documents_by_id: dict[str, Document]) -> None:
    invented = EvalQuestion("x1", "q?", True, OVERVIEW_ID, None, ("Milia are made of chocolate.",))
    with pytest.raises(CorpusError, match="x1"):
        gold_spans(invented, documents_by_id)
    unknown_doc = EvalQuestion("x2", "q?", True, "no-such-doc", None, ("Milia",))
    with pytest.raises(CorpusError, match="no-such-doc"):
        gold_spans(unknown_doc, documents_by_id)


def test_a_malformed_record_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "set.jsonl"
    path.write_text('{"id": "a", "question": "q", "answerable": false}\n{"id": "b"}\n', encoding="utf-8")
    with pytest.raises(CorpusError, match="line 2"):
        load_eval_set(path)


def test_a_file_with_a_byte_order_mark_and_windows_line_ends_reads_as_its_questions(tmp_path: Path) -> None:
    """A question file saved by a Windows editor (UTF-8 with BOM, CRLF) was refused: "line 1: invalid JSON
    (Unexpected UTF-8 BOM (decode using utf-8-sig))", while a BEIR queries.jsonl with a BOM loads."""
    path = tmp_path / "set.jsonl"
    lines = [
        '{"id": "a", "question": "q one", "answerable": false}',
        '{"id": "b", "question": "q two", "answerable": false}',
    ]
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode("utf-8") + b"\r\n")
    questions = load_eval_set(path)
    assert [(q.qid, q.question) for q in questions] == [("a", "q one"), ("b", "q two")]


def test_the_seed_report_says_which_encoder_encoded_the_questions(loaded_index: LoadedIndex) -> None:
    """The seed report named the index, model, fusion and reranker, not the question tower that encodes the
    questions by default (`CITEQA_QUESTION_TOWER_PATH=` turns it off and changes every number)."""
    model, tower = SimpleNamespace(name="m"), SimpleNamespace(name="elsewhere")
    searcher = SimpleNamespace(
        index=loaded_index, fusion=FusionSettings(), reranker=None, encoder=model, question_encoder=model
    )
    questions = load_eval_set(DEFAULT_SEED_SET)
    assert seed_context(searcher, questions, "idx")["questions encoded by"] == "the model"  # type: ignore[arg-type]
    searcher.question_encoder = tower
    assert seed_context(searcher, questions, "idx")["questions encoded by"] == "elsewhere"  # type: ignore[arg-type]


def test_a_gold_quote_counts_wherever_the_document_repeats_it() -> None:
    """Only a quote's first occurrence was a gold span: a passage holding the same text further on (a
    repeated instruction, a summary) was scored as a miss."""
    text = "Wear sunscreen daily. " + "Other advice here. " * 40 + "Wear sunscreen daily."
    document = Document(doc_id="d", title="T", text=text)
    question = EvalQuestion("x1", "what should I wear?", True, "d", None, ("Wear sunscreen daily.",))
    spans = gold_spans(question, {"d": document})
    second = text.rindex("Wear sunscreen daily.")
    assert spans == [("d", 0, 21), ("d", second, second + 21)]
    late = Passage(passage_id=1, doc_id="d", start=second - 10, end=len(text), text=text[second - 10 :])
    assert relevant_passages(spans, [late]) == {1}
