"""PDF: text per page with page starts that index the final text, offsets exact after chunking,
document information as metadata, scanned and encrypted PDFs refused with a clear error."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from support import BANNER

from corpus.errors import CorpusError
from corpus.formats.pdf import dehyphenated
from corpus.ingest import document_from_file, document_from_upload
from corpus.pages import page_span
from corpus.types import Document
from indexer.chunking import ChunkerSettings, chunk_corpus, chunk_document

MakePdf = Callable[..., bytes]
WORDS = "milia keratin cysts newborn skin bumps nose chin cheeks harmless weeks doctor".split()


def page_text(page: int, sentences: int = 12) -> str:
    """Sentences that say which page they are on: 'Page 3 sentence 4 ...'."""
    return " ".join(
        f"Page {page} sentence {i} " + " ".join(WORDS[(page + i + k) % len(WORDS)] for k in range(9)) + "."
        for i in range(sentences)
    )


def words(text: str) -> list[str]:
    return text.split()


def test_every_passage_is_exact_and_its_page_is_the_page_it_was_written_on(make_pdf: MakePdf) -> None:
    pages = [f"Chapter {n}\n{page_text(n)}" for n in range(1, 6)]
    document = document_from_upload(make_pdf(pages, title="Milia, page by page"), filename="milia.pdf")
    assert document.title == "Milia, page by page"
    assert len(document.page_starts) == 5 and document.page_starts[0] == 0
    # Each page of the text is the page put in (the PDF wraps lines; words and their order are kept).
    bounds = [*document.page_starts, len(document.text)]
    for n, expected in enumerate(pages):
        assert words(document.text[bounds[n] : bounds[n + 1]]) == words(expected)
    passages = list(chunk_corpus([document], ChunkerSettings(max_words=40, overlap_words=10)))
    assert len(passages) > 10
    crossing = 0
    for passage in passages:
        assert document.text[passage.start : passage.end] == passage.text
        page, page_end = page_span(document, passage.start, passage.end)
        first_sentence = re.match(r"(?:Chapter (\d+)|Page (\d+) sentence)", passage.text)
        if first_sentence is None:  # the passage begins mid-sentence: find the sentence's page
            first_sentence = list(re.finditer(r"Page (\d+) sentence", document.text[: passage.start]))[-1]
        assert page == int(first_sentence.group(1) or first_sentence.group(2))
        assert passage.text.split()[0] in pages[page - 1]
        last = list(re.finditer(r"(?:Chapter|Page) (\d+)", document.text[: passage.end]))[-1]
        assert (page_end or page) == int(last.group(1))
        crossing += page_end is not None
    assert crossing > 0  # some passages run across a page break


def test_a_blank_page_is_kept_as_a_page_and_reported(make_pdf: MakePdf) -> None:
    document = document_from_upload(make_pdf([page_text(1, 3), "", page_text(3, 3)]), filename="gap.pdf")
    assert len(document.page_starts) == 3
    assert document.page_starts[1] == document.page_starts[2]
    assert document.metadata["pages_without_text"] == "2"
    start = document.text.index("Page 3 sentence 0")
    assert page_span(document, start, start + 5) == (3, None)


def test_page_starts_move_with_the_cleaning_rules(make_pdf: MakePdf) -> None:
    pdf = make_pdf([f"{BANNER}\n{page_text(1, 2)}", page_text(2, 2)])
    document = document_from_upload(pdf, filename="shop.pdf")
    assert document.metadata["cleaning_rules"] == "shop-banner"
    assert document.text.startswith("Page 1 sentence 0")
    assert document.page_starts[0] == 0
    assert document.text[document.page_starts[1] :].startswith("Page 2 sentence 0")
    for passage in chunk_document(document, ChunkerSettings(max_words=15, overlap_words=3)):
        assert document.text[passage.start : passage.end] == passage.text


def test_a_wrapped_line_is_joined_but_lines_that_start_a_sentence_are_kept(make_pdf: MakePdf) -> None:
    long_sentence = "Milia are " + " ".join(["tiny white keratin cysts"] * 12) + " on the nose."
    document = document_from_upload(make_pdf([f"Heading\n{long_sentence}"]), filename="wrap.pdf")
    assert document.text == f"Heading\n{long_sentence}"


def test_a_word_hyphenated_at_a_line_end_is_one_word_again(make_pdf: MakePdf) -> None:
    page = (
        "Dermatologists give a compre-\nhensive answer about the well-\nknown white bumps on a new-\nborn's "
        "nose, the well-known kind.\nThe clinic's X-\nRay and a dash at a line's end -\nstay as written."
    )
    document = document_from_upload(make_pdf([page]), filename="hyphens.pdf")
    assert document.text == (
        "Dermatologists give a comprehensive answer about the well-known white bumps on a newborn's nose, "
        "the well-known kind.\nThe clinic's X-\nRay and a dash at a line's end -\nstay as written."
    )
    chunker = ChunkerSettings(max_words=8, overlap_words=2)
    assert any("comprehensive" in passage.text for passage in chunk_document(document, chunker))


def test_the_hyphen_stays_only_where_the_page_writes_the_word_with_it_and_never_without() -> None:
    assert dehyphenated("co-\noperate; co-operate") == "co-operate; co-operate"
    assert dehyphenated("co-\noperate; co-operate, cooperate") == "cooperate; co-operate, cooperate"
    assert dehyphenated("a new-\nborn and a newborn") == "a newborn and a newborn"
    assert dehyphenated("the naïve-\nté of it") == "the naïveté of it"
    assert dehyphenated("in 19-\n20, 2-\nway and -\nso") == "in 19-\n20, 2-\nway and -\nso"


def test_metadata_from_the_pdf_and_a_sidecar_that_wins(make_pdf: MakePdf, tmp_path: Path) -> None:
    (tmp_path / "guide.pdf").write_bytes(make_pdf([page_text(1, 2)], title="Info title", author="Ada Lee"))
    document = document_from_file(tmp_path / "guide.pdf")
    assert (document.doc_id, document.title, document.author) == ("guide", "Info title", "Ada Lee")
    assert document.metadata == {"source_format": "pdf", "source_file": "guide.pdf"}
    (tmp_path / "guide.json").write_text(json.dumps({"title": "Sidecar title", "doc_id": "g1"}), "utf-8")
    document = document_from_file(tmp_path / "guide.pdf")
    assert (document.doc_id, document.title, document.author) == ("g1", "Sidecar title", "Ada Lee")
    assert document.metadata == {}


def test_without_an_info_title_the_first_line_is_the_title(make_pdf: MakePdf) -> None:
    document = document_from_upload(make_pdf([f"Caring for milia\n{page_text(1, 2)}"]), filename="c.pdf")
    assert document.title == "Caring for milia"
    assert document.author is None


def test_a_scanned_pdf_without_a_text_layer_is_refused(make_pdf: MakePdf) -> None:
    with pytest.raises(CorpusError, match=r"scan\.pdf: no text layer on any of its 2 page\(s\).*OCR"):
        document_from_upload(make_pdf(["", ""]), filename="scan.pdf")


def test_an_encrypted_pdf_is_refused_unless_it_opens_without_a_password(make_pdf: MakePdf) -> None:
    locked = make_pdf([page_text(1, 2)], user_password="secret")
    with pytest.raises(CorpusError, match=r"locked\.pdf: the PDF is encrypted with a password"):
        document_from_upload(locked, filename="locked.pdf")
    restricted = make_pdf([page_text(1, 2)], owner_password="owner")  # opens without one: readable
    assert document_from_upload(restricted, filename="restricted.pdf").text.startswith("Page 1 sentence 0")


@pytest.mark.parametrize("content", [b"%PDF-1.7\n garbage", b"not a pdf at all", b""])
def test_a_broken_pdf_says_so(content: bytes) -> None:
    with pytest.raises(CorpusError, match=r"bad\.pdf: not a readable PDF"):
        document_from_upload(content, filename="bad.pdf")


def test_a_pdf_upload_by_media_type_equals_the_file(make_pdf: MakePdf, tmp_path: Path) -> None:
    pdf = make_pdf([page_text(1, 3), page_text(2, 3)], title="Same")
    (tmp_path / "same.pdf").write_bytes(pdf)
    uploaded = document_from_upload(pdf, media_type="application/pdf", doc_id="same")
    from_file = document_from_file(tmp_path / "same.pdf")
    assert uploaded.metadata == {"source_format": "pdf"}
    assert uploaded == Document(**{**from_file.__dict__, "metadata": {"source_format": "pdf"}})
