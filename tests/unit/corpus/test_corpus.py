"""The default corpus, the shop-banner cleaning rule, and the loader's validation of any documents folder."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from support import BAILEY_ID, BANNER, OVERVIEW_ID, write_document

from corpus import DEFAULT_CORPUS_DIR
from corpus.cleaning import CHROME_RULES, clean_text
from corpus.errors import CorpusError
from corpus.loader import load_documents
from corpus.sources import load_corpus
from corpus.types import Document

BAILEY_FILE = "000_7a5470b6ae1179cf"
OVERVIEW_FILE = "004_b2c84083b616529b"
GOOD_META = {"title": "A title"}


# --- the default corpus ---------------------------------------------------------------------------


def test_default_corpus_is_the_two_seed_articles(default_documents: list[Document]) -> None:
    assert [d.doc_id for d in default_documents] == [BAILEY_ID, OVERVIEW_ID]
    assert all(isinstance(d, Document) for d in default_documents)
    assert load_corpus(DEFAULT_CORPUS_DIR) == default_documents


def test_first_article_metadata(documents_by_id: dict[str, Document]) -> None:
    doc = documents_by_id[BAILEY_ID]
    assert doc.title == "Baby Milia from Baby Acne"
    assert doc.author == "Cynthia Bailey MD"
    assert doc.publisher == "Dr. Bailey Skin Care"
    assert doc.url == "https://drbaileyskincare.com/blogs/blog/baby-milia-from-baby-acne"
    assert doc.provenance and "shop-banner" in doc.provenance
    assert doc.metadata["source_file"] == f"{BAILEY_FILE}.txt"
    assert doc.metadata["cleaning_rules"] == "shop-banner"


def test_second_article_has_no_url_or_publisher(documents_by_id: dict[str, Document]) -> None:
    doc = documents_by_id[OVERVIEW_ID]
    assert doc.title == "Milia: types, causes, treatment and prevention"
    assert doc.url is None
    assert doc.publisher is None
    assert doc.author is None
    assert doc.provenance and "unknown" in doc.provenance
    assert doc.metadata["source_file"] == f"{OVERVIEW_FILE}.txt"
    assert "cleaning_rules" not in doc.metadata
    assert doc.text.startswith("Key takeaways:\n")


def test_documents_are_verbatim_suffixes_of_their_captures(default_documents: list[Document]) -> None:
    for doc in default_documents:
        raw = (DEFAULT_CORPUS_DIR / doc.metadata["source_file"]).read_text(encoding="utf-8")
        assert raw.endswith(doc.text)
        assert doc.text.strip()


# --- the shop-banner cleaning rule ----------------------------------------------------------------


def test_banner_is_in_the_raw_capture_and_not_in_the_document(documents_by_id: dict[str, Document]) -> None:
    raw = (DEFAULT_CORPUS_DIR / f"{BAILEY_FILE}.txt").read_text(encoding="utf-8")
    assert raw.splitlines()[0] == BANNER
    doc = documents_by_id[BAILEY_ID]
    assert "shipping" not in doc.text.lower()
    assert doc.text.startswith("Ask Dermatologist Blogger Dr Bailey\n")


def test_shop_banner_rule_is_explicit() -> None:
    names = [rule.name for rule in CHROME_RULES]
    assert "shop-banner" in names
    assert len(names) == len(set(names))


def test_banner_rule_removes_the_line_and_following_blank_lines() -> None:
    text, fired = clean_text(f"{BANNER}\n\n\nTitle\n\nBody text.")
    assert (text, fired) == ("Title\n\nBody text.", ["shop-banner"])


@pytest.mark.parametrize(
    "banner",
    [
        "free shipping on orders over $50",
        "FREE SHIPPING ON ALL ORDERS",
        "  Free Shipping on all orders today only  ",
        "Free shipping on orders",
    ],
)
def test_banner_rule_variants(banner: str) -> None:
    text, fired = clean_text(f"{banner}\nArticle.")
    assert (text, fired) == ("Article.", ["shop-banner"])


@pytest.mark.parametrize(
    "raw",
    [
        "Article title\nFREE Shipping on orders $199 or more\nBody.",  # not at the top: article text
        "Free shipping is not what this article is about.\nBody.",
        "We offer free shipping on orders over $50.\nBody.",
        "Milia are tiny bumps.",
        "",
    ],
)
def test_banner_rule_leaves_article_text_alone(raw: str) -> None:
    assert clean_text(raw) == (raw, [])


def test_banner_only_capture_cleans_to_nothing() -> None:
    assert clean_text(BANNER) == ("", ["shop-banner"])
    assert clean_text(f"{BANNER}\n\n") == ("", ["shop-banner"])


def test_cleaning_is_applied_by_the_loader(tmp_path: Path) -> None:
    write_document(tmp_path, "doc", f"{BANNER}\n\nReal text.", GOOD_META)
    [doc] = load_documents(tmp_path)
    assert doc.text == "Real text."
    assert doc.metadata["cleaning_rules"] == "shop-banner"


# --- the loader accepts any folder in the same format ---------------------------------------------


def test_loader_accepts_any_folder_in_the_format(tmp_path: Path) -> None:
    write_document(
        tmp_path,
        "b_second",
        "Second document. Ünïcödé text — “quoted”.\n",
        {
            "doc_id": "custom-id",
            "title": "  Second  ",
            "author": "A. Author",
            "publisher": "",
            "url": "https://example.test/2",
            "provenance": "made up",
            "metadata": {"lang": "en", "pages": 3},
        },
    )
    write_document(tmp_path, "a_first", "First document.", {"title": "First"})
    (tmp_path / "notes.md").write_text("not a document", encoding="utf-8")
    docs = load_documents(tmp_path)
    assert [d.doc_id for d in docs] == ["a_first", "custom-id"]  # sorted by file name; doc_id defaults
    first, second = docs
    assert first == Document(doc_id="a_first", title="First", text="First document.")
    assert second.title == "Second"
    assert second.author == "A. Author"
    assert second.publisher is None  # empty string means unknown
    assert second.url == "https://example.test/2"
    assert second.provenance == "made up"
    assert second.text == "Second document. Ünïcödé text — “quoted”.\n"
    assert dict(second.metadata) == {"lang": "en", "pages": "3"}


# --- the loader rejects invalid documents, naming the file and the field --------------------------


def expect_corpus_error(folder: Path, *fragments: str) -> str:
    with pytest.raises(CorpusError) as caught:
        load_documents(folder)
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


def test_missing_title(tmp_path: Path) -> None:
    write_document(tmp_path, "doc", "Text.", {"author": "X"})
    expect_corpus_error(tmp_path, "doc.json", "'title'")


@pytest.mark.parametrize("title", ["", "   ", None, 42])
def test_empty_or_wrong_type_title(tmp_path: Path, title: object) -> None:
    write_document(tmp_path, "doc", "Text.", {"title": title})
    expect_corpus_error(tmp_path, "doc.json", "'title'")


@pytest.mark.parametrize("text", ["", "  \n\t\n", f"{BANNER}\n\n"])
def test_empty_text(tmp_path: Path, text: str) -> None:
    write_document(tmp_path, "doc", text, GOOD_META)
    expect_corpus_error(tmp_path, "doc.txt", "'text'", "empty")


def test_duplicate_doc_id(tmp_path: Path) -> None:
    write_document(tmp_path, "one", "Text one.", {"title": "One", "doc_id": "same"})
    write_document(tmp_path, "two", "Text two.", {"title": "Two", "doc_id": "same"})
    message = expect_corpus_error(tmp_path, "two.txt", "'doc_id'", "same")
    assert "one.txt" in message


def test_explicit_doc_id_duplicating_a_file_name(tmp_path: Path) -> None:
    write_document(tmp_path, "alpha", "Text one.", GOOD_META)
    write_document(tmp_path, "beta", "Text two.", {"title": "Two", "doc_id": "alpha"})
    expect_corpus_error(tmp_path, "beta.txt", "'doc_id'", "alpha")


def test_text_not_utf8(tmp_path: Path) -> None:
    write_document(tmp_path, "doc", "caf\u00e9".encode("latin-1") + b" au lait.", GOOD_META)
    expect_corpus_error(tmp_path, "doc.txt", "'text'", "UTF-8")


def test_metadata_not_utf8(tmp_path: Path) -> None:
    write_document(tmp_path, "doc", "Text.", None)
    (tmp_path / "doc.json").write_bytes('{"title": "caf\u00e9"}'.encode("latin-1"))
    expect_corpus_error(tmp_path, "doc.json", "UTF-8")


@pytest.mark.parametrize("raw", ['{"title": "x",}', "{title: x}", '{"title": "x"', "not json at all"])
def test_invalid_json_metadata(tmp_path: Path, raw: str) -> None:
    write_document(tmp_path, "doc", "Text.", raw)
    expect_corpus_error(tmp_path, "doc.json", "JSON")


@pytest.mark.parametrize("raw", ['["title"]', '"a title"', "null"])
def test_metadata_not_an_object(tmp_path: Path, raw: str) -> None:
    write_document(tmp_path, "doc", "Text.", raw)
    expect_corpus_error(tmp_path, "doc.json", "object")


def test_missing_metadata_file(tmp_path: Path) -> None:
    write_document(tmp_path, "good", "Text.", GOOD_META)
    write_document(tmp_path, "orphan", "Text without metadata.", None)
    expect_corpus_error(tmp_path, "orphan.json", "missing", "'title'")


@pytest.mark.parametrize("field", ["author", "publisher", "url", "provenance"])
def test_optional_field_of_wrong_type(tmp_path: Path, field: str) -> None:
    write_document(tmp_path, "doc", "Text.", {"title": "T", field: ["not", "a", "string"]})
    expect_corpus_error(tmp_path, "doc.json", f"'{field}'")


@pytest.mark.parametrize("doc_id", ["", "has space", "../escape", "-leading-dash", "x" * 129, 7])
def test_invalid_doc_id(tmp_path: Path, doc_id: object) -> None:
    write_document(tmp_path, "doc", "Text.", {"title": "T", "doc_id": doc_id})
    expect_corpus_error(tmp_path, "doc.json", "'doc_id'")


def test_extra_metadata_must_be_an_object(tmp_path: Path) -> None:
    write_document(tmp_path, "doc", "Text.", {"title": "T", "metadata": ["x"]})
    expect_corpus_error(tmp_path, "doc.json", "'metadata'")


def test_folder_without_documents(tmp_path: Path) -> None:
    (tmp_path / "only.json").write_text(json.dumps(GOOD_META), encoding="utf-8")
    expect_corpus_error(tmp_path, str(tmp_path), ".txt")


def test_not_a_folder(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(CorpusError, match=re.escape(str(missing))):
        load_documents(missing)
    with pytest.raises(CorpusError, match=re.escape(str(missing))):
        load_corpus(missing)
