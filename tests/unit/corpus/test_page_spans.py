"""Pages of a document: page_starts on Document, join_pages, page_span, and index records that keep
them (and stay exactly as they were for documents without pages)."""

from __future__ import annotations

import json

import pytest

from corpus.errors import CorpusError
from corpus.pages import drop_prefix, join_pages, page_span
from corpus.types import Document
from indexer.index_folder import content_hash, corpus_fingerprint, document_from_record, document_record

RECORD_KEYS = ["doc_id", "title", "text", "author", "publisher", "url", "provenance", "metadata"]


def paged(texts: list[str]) -> Document:
    text, starts = join_pages(texts)
    return Document("d", "T", text, page_starts=starts)


def test_join_pages_keeps_where_each_page_begins() -> None:
    text, starts = join_pages(["One.", "Two two.", "Three."])
    assert text == "One.\n\nTwo two.\n\nThree."
    assert starts == (0, 6, 16)
    assert [text[s:].split("\n\n")[0] for s in starts] == ["One.", "Two two.", "Three."]


def test_an_empty_page_begins_where_the_next_one_does() -> None:
    assert join_pages(["", "ab", "", "cd", ""]) == ("ab\n\ncd", (0, 0, 4, 4, 6))
    assert join_pages(["", ""]) == ("", (0, 0))


def test_page_span_is_one_based_and_names_the_last_page_only_when_it_differs() -> None:
    document = paged(["One.", "Two two.", "Three."])
    assert page_span(document, 0, 4) == (1, None)
    assert page_span(document, 6, 14) == (2, None)
    assert page_span(document, 2, 10) == (1, 2)
    assert page_span(document, 0, len(document.text)) == (1, 3)
    assert page_span(document, 5, 6) == (1, None)  # the separator belongs to the page before
    assert page_span(document, 16, 16) == (3, None)  # an empty span: the page of its position


def test_page_span_skips_empty_pages() -> None:
    document = paged(["", "ab", "", "cd", ""])
    assert page_span(document, 0, 2) == (2, None)
    assert page_span(document, 4, 6) == (4, None)
    assert page_span(document, 1, 5) == (2, 4)


def test_page_span_of_a_document_without_pages_and_of_a_bad_span() -> None:
    document = Document("d", "T", "Some text.")
    assert page_span(document, 0, 4) == (None, None)
    for start, end in [(-1, 2), (3, 2), (0, 11)]:
        with pytest.raises(ValueError, match="outside the text"):
            page_span(document, start, end)


def test_drop_prefix_moves_page_starts_with_the_cleaned_text() -> None:
    assert drop_prefix((0, 10, 25), 12) == (0, 0, 13)
    assert drop_prefix((), 5) == ()


@pytest.mark.parametrize("starts", [(1, 4), (0, 5, 3), (0, 99), (0, True)])
def test_document_refuses_page_starts_that_do_not_index_its_text(starts: tuple[int, ...]) -> None:
    with pytest.raises(CorpusError, match="'page_starts'"):
        Document("d", "T", "0123456789", page_starts=starts)


def test_page_starts_are_a_tuple() -> None:
    assert Document("d", "T", "0123456789", page_starts=[0, 5]).page_starts == (0, 5)  # type: ignore[arg-type]
    assert Document("d", "T", "0123456789", page_starts=[]).page_starts == ()  # type: ignore[arg-type]


# --- index records ---------------------------------------------------------------------------------


def test_a_record_without_pages_is_the_record_it_always_was() -> None:
    document = Document("a", "T", "Body text.", author="A", metadata={"k": "v"})
    record = document_record(document)
    assert list(record) == RECORD_KEYS
    assert document_from_record(json.loads(json.dumps(record))) == document
    # The content hash of this document before pages existed (computed with the previous release).
    assert content_hash(document) == "70068b3795a2cd48088ce1ab2efde96d908948ecb2c6153124a490cf0fb6d6aa"


def test_a_record_with_pages_round_trips_them() -> None:
    document = paged(["One.", "Two two.", "Three."])
    record = document_record(document)
    assert record["page_starts"] == [0, 6, 16]
    assert list(record) == [*RECORD_KEYS, "page_starts"]
    again = document_from_record(json.loads(json.dumps(record)))
    assert again == document
    assert again.page_starts == (0, 6, 16)
    assert corpus_fingerprint([again]) == corpus_fingerprint([document])
    assert content_hash(document) != content_hash(Document("d", "T", document.text))
