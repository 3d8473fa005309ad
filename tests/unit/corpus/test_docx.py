"""Word (.docx): paragraphs, headings, lists and tables in order, title and author from the core
properties (else the first heading), offsets exact after chunking."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from corpus.errors import CorpusError
from corpus.formats import DOCX_MEDIA_TYPE
from corpus.ingest import document_from_file, document_from_upload
from indexer.chunking import ChunkerSettings, chunk_corpus

MakeDocx = Callable[..., bytes]
BLOCKS = [
    ("Title", "Milia in newborns"),
    ("p", "Milia are tiny white bumps on a baby's nose and chin."),
    ("Heading 1", "Treatment"),
    ("p", "Most milia clear on their own within a few weeks."),
    ("List Bullet", "Wash the face gently with warm water."),
    ("List Bullet", "Do not squeeze or scrub the bumps."),
    ("Heading 2", "When to see a doctor"),
    ("p", "See a doctor if the bumps last longer than three months."),
    ("table", [["Type", "Age"], ["Neonatal", "0-3 months"]]),
    ("p", "Written for parents."),
]
TEXT = (
    "Milia in newborns\n\n"
    "Milia are tiny white bumps on a baby's nose and chin.\n\n"
    "Treatment\n\n"
    "Most milia clear on their own within a few weeks.\n\n"
    "Wash the face gently with warm water.\n"
    "Do not squeeze or scrub the bumps.\n\n"
    "When to see a doctor\n\n"
    "See a doctor if the bumps last longer than three months.\n\n"
    "Type | Age\nNeonatal | 0-3 months\n\n"
    "Written for parents."
)


def test_paragraphs_headings_lists_and_tables_in_order(make_docx: MakeDocx) -> None:
    document = document_from_upload(make_docx(BLOCKS, author="Ada Lee"), filename="Milia guide.docx")
    assert document.text == TEXT
    assert (document.doc_id, document.title, document.author) == (
        "Milia-guide",
        "Milia in newborns",
        "Ada Lee",
    )
    assert document.metadata == {"source_format": "docx", "source_file": "Milia guide.docx"}
    assert document.page_starts == ()


def test_the_title_is_the_core_property_else_the_first_heading_else_the_first_line(
    make_docx: MakeDocx,
) -> None:
    with_property = document_from_upload(make_docx(BLOCKS, title="Property title"), filename="a.docx")
    assert with_property.title == "Property title"
    headed = document_from_upload(make_docx(BLOCKS[1:]), filename="b.docx")
    assert headed.title == "Treatment"
    assert headed.author is None  # python-docx's template author is not a person
    plain = document_from_upload(make_docx([("p", "Just a paragraph.")]), filename="c.docx")
    assert plain.title == "Just a paragraph."


def test_a_higher_level_heading_is_the_title_over_an_earlier_lower_one(make_docx: MakeDocx) -> None:
    blocks = [("Heading 2", "Intro"), ("Heading 1", "The real title"), ("p", "Body.")]
    document = document_from_upload(make_docx(blocks), filename="h.docx")
    assert (document.title, document.text) == ("The real title", "Intro\n\nThe real title\n\nBody.")


def test_every_passage_is_an_exact_slice(make_docx: MakeDocx, tmp_path: Path) -> None:
    blocks = [("Heading 1", "Milia")] + [
        ("p", f"Paragraph {i} says that milia are small keratin cysts that clear up in weeks.")
        for i in range(30)
    ]
    (tmp_path / "long.docx").write_bytes(make_docx(blocks))
    document = document_from_file(tmp_path / "long.docx")
    passages = list(chunk_corpus([document], ChunkerSettings(max_words=25, overlap_words=5)))
    assert len(passages) > 10
    for passage in passages:
        assert document.text[passage.start : passage.end] == passage.text
        assert passage.text.strip() == passage.text


def test_a_docx_upload_by_media_type(make_docx: MakeDocx) -> None:
    document = document_from_upload(make_docx(BLOCKS), media_type=DOCX_MEDIA_TYPE)
    assert document.text == TEXT
    assert document.doc_id.startswith("doc-")


@pytest.mark.parametrize("content", [b"PK\x03\x04 not really a zip", b"plain text", b""])
def test_a_broken_docx_says_so(content: bytes) -> None:
    with pytest.raises(CorpusError, match=r"bad\.docx: not a readable Word \.docx file.*save.*as \.docx"):
        document_from_upload(content, filename="bad.docx")


def test_an_empty_docx_is_an_empty_document(make_docx: MakeDocx) -> None:
    with pytest.raises(CorpusError, match=r"empty\.docx: field 'text' is empty"):
        document_from_upload(make_docx([("p", "   ")]), filename="empty.docx")
