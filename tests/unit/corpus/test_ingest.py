"""corpus.ingest: uploads (.txt, .md, .html), JSONL batches and paths -> validated, cleaned Documents."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import BANNER, write_document

from corpus import DEFAULT_CORPUS_DIR
from corpus.doc_ids import DOC_ID_PATTERN
from corpus.errors import CorpusError
from corpus.ingest import (
    MAX_BULK_DOCUMENTS,
    MAX_DOCUMENT_CHARS,
    document_from_upload,
    documents_from_jsonl,
    documents_from_paths,
)
from corpus.loader import load_documents
from corpus.types import Document
from indexer.chunking import ChunkerSettings, chunk_document
from indexer.index_folder import content_hash, corpus_fingerprint

PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Milia in newborns</title>
  <style>body { font-family: serif } .ad { display: block }</style>
  <script>window.tracker = "TRACKING-SCRIPT";</script>
</head>
<body>
  <header class="site"><a href="/">SITE-LOGO</a> <a href="/shop">Shop now</a></header>
  <nav><ul><li><a href="/blog">NAV-BLOG</a></li><li><a href="/about">NAV-ABOUT</a></li></ul></nav>
  <article>
    <header><h1>Milia in newborns</h1><p>By Dr. Ada Lee</p></header>
    <p>Milia are tiny   white <b>bumps</b> on a baby's
       nose and chin. They are <a href="/keratin">keratin</a> trapped under the skin.</p>
    <h2>Treatment</h2>
    <p>Most milia clear on their own within a few weeks.</p>
    <ul>
      <li>Wash the face gently with warm water.</li>
      <li>Do not squeeze or scrub the bumps.</li>
    </ul>
    <h3>When to see a doctor</h3>
    <p>See a doctor if the bumps last<br>longer than three months.</p>
    <table><tr><th>Type</th><th>Age</th></tr><tr><td>Neonatal</td><td>0-3 months</td></tr></table>
    <div hidden>HIDDEN-DIV</div>
    <div style="display: none">INVISIBLE-DIV</div>
    <!-- HTML-COMMENT -->
  </article>
  <aside>ASIDE-RELATED posts</aside>
  <form action="/subscribe"><label>Email</label><input name="email"><button>FORM-SUBSCRIBE</button></form>
  <noscript>NOSCRIPT-TEXT</noscript>
  <div role="navigation">ROLE-NAV</div>
  <footer>FOOTER-COPYRIGHT 2024</footer>
</body>
</html>
"""

PAGE_TEXT = (
    "Milia in newborns\n\n"
    "By Dr. Ada Lee\n\n"
    "Milia are tiny white bumps on a baby's nose and chin. They are keratin trapped under the skin.\n\n"
    "Treatment\n\n"
    "Most milia clear on their own within a few weeks.\n\n"
    "Wash the face gently with warm water.\n"
    "Do not squeeze or scrub the bumps.\n\n"
    "When to see a doctor\n\n"
    "See a doctor if the bumps last\nlonger than three months.\n\n"
    "Type | Age\nNeonatal | 0-3 months"
)

MARKDOWN = """# Caring for milia

Milia are *small* cysts. Read the [NHS page](https://www.nhs.uk/conditions/milia/) for more,
or see <https://example.org/milia>.

## Home care

1. Keep the skin clean.
2. Avoid heavy creams.

```
no-code-is-run
```

<script>alert("MD-SCRIPT")</script>
"""


def assert_citable(document: Document) -> None:
    """The text is clean, non-empty, and every passage of it is an exact slice (what citations quote)."""
    assert document.text.strip()
    assert document.text == document.text.strip()
    assert "\r" not in document.text and "\ufeff" not in document.text
    assert DOC_ID_PATTERN.fullmatch(document.doc_id)
    assert document.title.strip()
    passages = chunk_document(document, ChunkerSettings(max_words=20, overlap_words=5))
    assert passages
    for passage in passages:
        assert document.text[passage.start : passage.end] == passage.text


# --- HTML ------------------------------------------------------------------------------------------


def test_html_keeps_the_article_and_drops_the_page_chrome() -> None:
    document = document_from_upload(PAGE.encode(), filename="milia.html")
    assert document.text == PAGE_TEXT
    dropped = [
        "TRACKING-SCRIPT",
        "font-family",
        "SITE-LOGO",
        "Shop now",
        "NAV-BLOG",
        "NAV-ABOUT",
        "HIDDEN-DIV",
        "INVISIBLE-DIV",
        "HTML-COMMENT",
        "ASIDE-RELATED",
        "FORM-SUBSCRIBE",
        "Email",
        "NOSCRIPT-TEXT",
        "ROLE-NAV",
        "FOOTER-COPYRIGHT",
    ]
    assert [marker for marker in dropped if marker in document.text] == []
    assert document.title == "Milia in newborns"
    assert document.doc_id == "milia"
    assert document.metadata == {"source_format": "html", "source_file": "milia.html"}
    assert_citable(document)


def test_html_headings_are_their_own_paragraphs() -> None:
    paragraphs = document_from_upload(PAGE.encode(), media_type="text/html").text.split("\n\n")
    for heading in ("Milia in newborns", "Treatment", "When to see a doctor"):
        assert heading in paragraphs


def test_html_title_falls_back_to_the_first_h1_and_main_is_the_content() -> None:
    page = (
        "<html><body><div class='banner'>COOKIE-BANNER</div>"
        "<main><h2>Intro</h2><h1>The real title</h1><p>Body text here.</p></main>"
        "<div>OUTSIDE-MAIN</div></body></html>"
    )
    document = document_from_upload(page.encode(), filename="page.htm")
    assert document.title == "The real title"
    assert document.text == "Intro\n\nThe real title\n\nBody text here."


def test_html_charset_from_the_page_or_the_media_type() -> None:
    latin1 = "<html><head><meta charset='iso-8859-1'></head><body><p>Crème brûlée</p></body></html>"
    from_page = document_from_upload(latin1.encode("iso-8859-1"), filename="dessert.html")
    assert from_page.text == "Crème brûlée"
    bare = "<p>Café crème</p>".encode("iso-8859-1")
    from_header = document_from_upload(bare, media_type="text/html; charset=ISO-8859-1")
    assert from_header.text == "Café crème"
    assert from_header.title == "Café crème"


def test_html_with_only_chrome_is_an_error() -> None:
    page = b"<html><head><title>Shop</title></head><body><nav>Home</nav><footer>(c)</footer></body></html>"
    with pytest.raises(CorpusError, match=r"shop\.html: field 'text' is empty.*add the article text"):
        document_from_upload(page, filename="shop.html")


# --- Markdown and text -----------------------------------------------------------------------------


def test_markdown_keeps_text_headings_and_link_text() -> None:
    document = document_from_upload(MARKDOWN.encode(), filename="care.md")
    assert document.text == (
        "Caring for milia\n\n"
        "Milia are small cysts. Read the NHS page for more, or see https://example.org/milia.\n\n"
        "Home care\n\n"
        "Keep the skin clean.\nAvoid heavy creams.\n\n"
        "no-code-is-run"
    )
    assert document.title == "Caring for milia"
    assert "#" not in document.text and "MD-SCRIPT" not in document.text
    assert document.metadata["source_format"] == "markdown"
    assert_citable(document)


def test_text_is_kept_verbatim_but_for_newlines_and_a_bom() -> None:
    raw = "\ufeffMilia basics\r\n\r\nMilia are  tiny cysts.\r\nThey clear up.\n"
    document = document_from_upload(raw.encode(), filename="basics.txt")
    assert document.text == "Milia basics\n\nMilia are  tiny cysts.\nThey clear up.\n"
    assert document.title == "Milia basics"
    assert document.metadata == {"source_format": "text", "source_file": "basics.txt"}
    assert_citable(
        Document(document.doc_id, document.title, document.text.strip(), metadata=document.metadata)
    )


def test_text_goes_through_the_chrome_cleaning_rules() -> None:
    document = document_from_upload(f"{BANNER}\n\nArticle body.".encode(), filename="a.txt")
    assert document.text == "Article body."
    assert document.title == "Article body."
    assert document.metadata["cleaning_rules"] == "shop-banner"
    with pytest.raises(CorpusError, match=r"b\.txt: field 'text' is empty"):
        document_from_upload(f"{BANNER}\n\n  \n".encode(), filename="b.txt")


def test_a_long_first_line_is_cut_into_a_title() -> None:
    line = " ".join(["word"] * 100)
    document = document_from_upload(line.encode(), media_type="text/plain")
    assert len(document.title) <= 201
    assert document.title.endswith("word\u2026")


def test_text_that_is_not_utf8_says_where() -> None:
    with pytest.raises(CorpusError, match=r"notes\.txt: field 'text' is not valid UTF-8 \(byte 3\)"):
        document_from_upload(b"abc\xff", filename="notes.txt")
    decoded = document_from_upload(b"caf\xe9", filename="notes.txt", media_type="text/plain; charset=latin-1")
    assert decoded.text == "café"


# --- format choice ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "media_type", "expected"),
    [
        ("a.txt", None, "text"),
        ("a.md", None, "markdown"),
        ("a.markdown", None, "markdown"),
        ("a.HTML", None, "html"),
        ("a.htm", "application/octet-stream", "html"),
        ("a.txt", "text/html", "html"),
        (None, "text/markdown; charset=utf-8", "markdown"),
        ("a.md", "text/plain", "markdown"),
        (None, "text/plain", "text"),
    ],
)
def test_the_format_comes_from_the_media_type_else_the_suffix(
    filename: str | None, media_type: str | None, expected: str
) -> None:
    document = document_from_upload(b"# Title\n\nBody.", filename=filename, media_type=media_type)
    assert document.metadata["source_format"] == expected


@pytest.mark.parametrize(
    ("filename", "media_type", "message"),
    [
        ("a.png", "image/png", r"a\.png: field 'media_type' 'image/png' is not supported"),
        ("a.png", None, r"a\.png: field 'filename' has suffix '\.png'.*upload a \.txt, \.md, \.html"),
        (None, None, r"upload: field 'filename' has no suffix"),
    ],
)
def test_an_unknown_format_says_what_is_supported(
    filename: str | None, media_type: str | None, message: str
) -> None:
    with pytest.raises(CorpusError, match=message):
        document_from_upload(b"text", filename=filename, media_type=media_type)


# --- metadata and doc_id ---------------------------------------------------------------------------


def test_metadata_fields_and_extra_keys() -> None:
    metadata = {
        "title": "  Given title ",
        "author": "Ada Lee",
        "publisher": "Skin Journal",
        "url": "https://example.org/milia",
        "provenance": "uploaded by a test",
        "language": "en",
        "year": 2024,
        "metadata": {"kind": "guide"},
    }
    document = document_from_upload(b"Body text.", filename="guide.txt", metadata=metadata)
    assert document.title == "Given title"
    assert (document.author, document.publisher) == ("Ada Lee", "Skin Journal")
    assert (document.url, document.provenance) == ("https://example.org/milia", "uploaded by a test")
    assert document.metadata == {
        "kind": "guide",
        "language": "en",
        "year": "2024",
        "source_format": "text",
        "source_file": "guide.txt",
    }
    assert all(isinstance(value, str) for value in document.metadata.values())


def test_a_non_string_field_is_named() -> None:
    with pytest.raises(CorpusError, match=r"x\.txt: field 'author' must be a string or null, not an array"):
        document_from_upload(b"Body.", filename="x.txt", metadata={"author": ["a", "b"]})
    with pytest.raises(CorpusError, match=r"field 'metadata' must be an object"):
        document_from_upload(b"Body.", filename="x.txt", metadata={"metadata": "kind=guide"})


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("Milia Babies (2024).html", "Milia-Babies-2024"),
        ("café notes.txt", "cafe-notes"),
        ("__draft--v2__.md", "draft--v2__"),
        ("000_7a5470b6ae1179cf.txt", "000_7a5470b6ae1179cf"),
        ("report.v1.txt", "report.v1"),
    ],
)
def test_doc_id_is_the_slugged_filename_stem(filename: str, expected: str) -> None:
    document = document_from_upload(b"Body text.", filename=filename)
    assert document.doc_id == expected
    assert DOC_ID_PATTERN.fullmatch(document.doc_id)


def test_doc_id_of_a_long_name_fits_the_pattern() -> None:
    document = document_from_upload(b"Body text.", filename="a b " * 100 + ".txt")
    assert len(document.doc_id) <= 128
    assert DOC_ID_PATTERN.fullmatch(document.doc_id)


def test_doc_id_falls_back_to_a_content_hash_and_can_be_given() -> None:
    unnamed = document_from_upload(b"Body text.", filename="\u65e5\u672c.txt")
    again = document_from_upload(b"Body text.", media_type="text/plain")
    other = document_from_upload(b"Other text.", media_type="text/plain")
    assert unnamed.doc_id == again.doc_id != other.doc_id
    assert unnamed.doc_id.startswith("doc-") and len(unnamed.doc_id) == 20
    given = document_from_upload(b"Body.", filename="x.txt", doc_id="chosen", metadata={"doc_id": "meta"})
    assert given.doc_id == "chosen"
    assert document_from_upload(b"Body.", filename="x.txt", metadata={"doc_id": "meta"}).doc_id == "meta"


@pytest.mark.parametrize("doc_id", ["", "../etc/passwd", "-leading-dash", "a" * 129, "has space"])
def test_an_invalid_doc_id_is_rejected(doc_id: str) -> None:
    with pytest.raises(CorpusError, match=r"x\.txt: field 'doc_id' .* is invalid; use 1-128 letters"):
        document_from_upload(b"Body.", filename="x.txt", doc_id=doc_id)


def test_a_file_of_invisible_characters_is_refused_as_empty() -> None:
    """Zero-width spaces and soft hyphens show nothing: such a file was indexed as a blank passage."""
    with pytest.raises(CorpusError, match=r"z\.txt: field 'text' is empty"):
        document_from_upload("\u200b\u00ad\n\u200b".encode(), filename="z.txt")


# --- limits ----------------------------------------------------------------------------------------


def test_a_document_over_the_size_limit_is_refused() -> None:
    at_limit = document_from_upload(b"x" * MAX_DOCUMENT_CHARS, filename="big.txt")
    assert len(at_limit.text) == MAX_DOCUMENT_CHARS
    with pytest.raises(CorpusError, match=r"big\.txt: field 'text' has 1,000,001 characters.*split the"):
        document_from_upload(b"x" * (MAX_DOCUMENT_CHARS + 1), filename="big.txt")


def test_a_batch_over_the_document_limit_is_refused() -> None:
    line = '{{"doc_id": "d{}", "title": "T", "text": "Body."}}'
    lines = [line.format(i) for i in range(MAX_BULK_DOCUMENTS + 1)]
    assert len(documents_from_jsonl("\n".join(lines[:-1]))) == MAX_BULK_DOCUMENTS
    with pytest.raises(CorpusError, match=r"line 1001: more than 1,000 documents in one batch"):
        documents_from_jsonl("\n".join(lines))
    with pytest.raises(CorpusError, match=r"line 3: more than 2 documents"):
        documents_from_jsonl("\n".join(lines[:3]), max_documents=2)


# --- JSONL -----------------------------------------------------------------------------------------


def test_jsonl_batch_with_blank_lines_and_extra_keys() -> None:
    data = (
        b'{"doc_id": "a", "title": "First", "text": "Alpha text.", "author": "Ann", "lang": "en"}\n'
        b"\n"
        b'   \n{"doc_id": "b", "title": "Second", "text": "Beta text.", "metadata": {"pages": 3}}\n'
    )
    first, second = documents_from_jsonl(data)
    assert (first.doc_id, first.title, first.text, first.author) == ("a", "First", "Alpha text.", "Ann")
    assert first.metadata == {"lang": "en"}
    assert (second.doc_id, second.metadata) == ("b", {"pages": "3"})
    for document in (first, second):
        assert_citable(document)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"doc_id": "a", "title": "T", "text": "x"}\n\n{"doc_id": "b",', r"line 3: invalid JSON"),
        (b'["a", "b"]', r"line 1: expected a JSON object, found an array"),
        (b'{"doc_id": "a", "text": "x"}', r"line 1: field 'title' is missing"),
        (b'{"doc_id": "a", "title": "T", "text": 5}', r"line 1: field 'text' must be a non-empty string"),
        (b'{"doc_id": "a", "title": " ", "text": "x"}', r"line 1: field 'title' .* found an empty string"),
        (b'{"doc_id": "a b", "title": "T", "text": "x"}', r"line 1: field 'doc_id' 'a b' is invalid"),
        (b'{"doc_id": "a", "title": "T", "text": "x", "url": 3}', r"line 1: field 'url' must be a string"),
        (b'{"doc_id": "a", "title": "T", "text": "x"}\n{"x": "\xff"}', r"line 2: field 'text' is not valid"),
        (
            b'{"doc_id": "a", "title": "T", "text": "x"}\n{"doc_id": "a", "title": "U", "text": "y"}',
            r"line 2: field 'doc_id' 'a' duplicates line 1; doc_ids must be unique",
        ),
        (b"\n  \n", r"JSONL: no documents"),
    ],
)
def test_jsonl_errors_name_the_line_and_field(data: bytes, message: str) -> None:
    with pytest.raises(CorpusError, match=message):
        documents_from_jsonl(data)


# --- paths -----------------------------------------------------------------------------------------


def test_paths_read_files_and_folders_with_sidecars(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    write_document(folder, "b-notes", "Plain notes.", {"title": "Notes", "author": "Ann", "doc_id": "notes"})
    (folder / "sub").mkdir()
    (folder / "sub" / "guide.md").write_text("# Guide\n\nStep one.", encoding="utf-8")
    (folder / "a-page.html").write_text(PAGE, encoding="utf-8")
    (folder / "a-page.json").write_text(json.dumps({"publisher": "Clinic", "topic": "milia"}), "utf-8")
    (folder / "photo.png").write_bytes(b"\x89PNG")
    batch = tmp_path / "batch.jsonl"
    batch.write_text('{"doc_id": "j1", "title": "J", "text": "From JSONL."}\n', encoding="utf-8")

    documents = documents_from_paths([folder, batch])
    assert [d.doc_id for d in documents] == ["a-page", "notes", "guide", "j1"]
    page, notes, guide, _ = documents
    assert (page.title, page.publisher, page.metadata["topic"]) == ("Milia in newborns", "Clinic", "milia")
    assert page.text == PAGE_TEXT
    assert (notes.title, notes.author, notes.text) == ("Notes", "Ann", "Plain notes.")
    assert (guide.title, guide.text) == ("Guide", "Guide\n\nStep one.")
    for document in documents:
        assert_citable(document)


def test_paths_read_the_default_corpus_as_the_loader_does() -> None:
    ingested = documents_from_paths([DEFAULT_CORPUS_DIR])
    loaded = load_documents(DEFAULT_CORPUS_DIR)
    assert [d.doc_id for d in ingested] == [d.doc_id for d in loaded]
    for mine, theirs in zip(ingested, loaded, strict=True):
        assert (mine.title, mine.text, mine.author, mine.url) == (
            theirs.title,
            theirs.text,
            theirs.author,
            theirs.url,
        )
        assert {k: v for k, v in mine.metadata.items() if k != "source_format"} == theirs.metadata


def test_paths_errors(tmp_path: Path) -> None:
    write_document(tmp_path / "one", "x", "Text one.", {"title": "X", "doc_id": "same"})
    write_document(tmp_path / "two", "y", "Text two.", {"title": "Y", "doc_id": "same"})
    with pytest.raises(CorpusError, match=r"y\.txt: field 'doc_id' duplicates 'same'"):
        documents_from_paths([tmp_path / "one", tmp_path / "two"])
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "z.txt").write_text("Text.", encoding="utf-8")
    (tmp_path / "bad" / "z.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"z\.json: invalid JSON at line 1"):
        documents_from_paths([tmp_path / "bad"])
    (tmp_path / "empty.md").write_text("   \n", encoding="utf-8")
    with pytest.raises(CorpusError, match=rf"{tmp_path}/empty\.md: field 'text' is empty"):
        documents_from_paths([tmp_path / "empty.md"])
    with pytest.raises(CorpusError, match=r"unsupported file type '\.png'"):
        (tmp_path / "a.png").write_bytes(b"\x89PNG")
        documents_from_paths([tmp_path / "a.png"])
    with pytest.raises(CorpusError, match=r"no such file or folder"):
        documents_from_paths([tmp_path / "missing"])
    (tmp_path / "images").mkdir()
    with pytest.raises(CorpusError, match=r"no \.txt, \.md, \.html, \.pdf, \.docx or \.jsonl documents"):
        documents_from_paths([tmp_path / "images"])


# --- content hash ----------------------------------------------------------------------------------


def test_content_hash_covers_everything_an_index_takes() -> None:
    document = document_from_upload(b"Body text.", filename="a.txt", metadata={"title": "T"})
    assert content_hash(document) == corpus_fingerprint([document])
    assert len(content_hash(document)) == 64
    assert content_hash(document) == content_hash(
        document_from_upload(b"Body text.", filename="a.txt", metadata={"title": "T"})
    )
    changed = [
        document_from_upload(b"Body text!", filename="a.txt", metadata={"title": "T"}),
        document_from_upload(b"Body text.", filename="a.txt", metadata={"title": "U"}),
        document_from_upload(b"Body text.", filename="a.txt", metadata={"title": "T", "author": "A"}),
        document_from_upload(b"Body text.", filename="a.txt", metadata={"title": "T", "lang": "en"}),
        document_from_upload(b"Body text.", filename="b.txt", metadata={"title": "T", "doc_id": "a"}),
    ]
    assert len({content_hash(d) for d in [document, *changed]}) == 1 + len(changed)
