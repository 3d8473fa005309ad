"""The search page and the article view name the PDF page of a citation ("p. 2", or "pp. 1-2" with an
en dash), and say nothing of pages for a document without them. A PDF made by the test (fpdf2), ingested
as uploads are, a real index, the real app on uvicorn (loopback), headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote_plus

import httpx
import pytest
from browser_support import Tab
from document_files import pdf_bytes

from corpus.ingest import document_from_upload
from corpus.types import Document
from eval.bench import loopback_server
from indexer.embedding import DEFAULT_MODEL, SentenceTransformerEncoder
from service.app import create_app
from service.settings import Settings
from service.wiring import build_searcher

GESTATION = "Porpoise calves are born in early summer after a gestation of about eleven months."
PAGES = [
    "Harbour porpoises are small toothed whales of cold coastal waters. They are shy and rarely leap. " * 3,
    "Porpoises find herring and sand eels by echolocation, with rapid clicks. " + GESTATION,
    "Fishing nets are the greatest threat to porpoises: many drown as bycatch every year. " * 3,
]
QUESTION = "how long is the gestation of a porpoise calf"
PLAIN = Document(
    doc_id="seal-notes",
    title="Seal notes",
    text="Grey seal pups are born in autumn and are weaned after about three weeks on rich milk.",
)


@pytest.fixture(scope="module")
def pdf_document() -> Document:
    return document_from_upload(pdf_bytes(PAGES, title="Harbour porpoises"), filename="porpoises.pdf")


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, encoder: SentenceTransformerEncoder, pdf_document: Document
) -> Iterator[str]:
    from indexer.build import IndexSettings, build_index

    path = tmp_path_factory.mktemp("pdf-index") / "index"
    build_index([pdf_document, PLAIN], encoder, path, IndexSettings(), "pdf page test documents")
    settings = Settings(index_path=path, model=DEFAULT_MODEL)
    with loopback_server(create_app(settings, build_searcher(settings, encoder))) as url:
        yield url


def label(citation: dict[str, Any]) -> str:
    if citation["page_end"]:
        return f"pp. {citation['page']}\u2013{citation['page_end']}"
    return f"p. {citation['page']}"


def test_the_page_shows_the_pdf_page_of_a_citation(tab: Tab, server: str, pdf_document: Document) -> None:
    body = httpx.get(f"{server}/search", params={"q": QUESTION, "k": 2}, timeout=60, trust_env=False).json()
    top = body["results"][0]
    citation = top["citation"]
    assert citation["doc_id"] == "porpoises" and citation["page"] is not None
    assert top["text"] == pdf_document.text[citation["start"] : citation["end"]]
    assert body["answer"]["citation"]["page"] == 2

    tab.page.goto(f"{server}/?q={quote_plus(QUESTION)}")
    tab.page.wait_for_selector('body[data-state="results"]')
    card = tab.page.locator('#results article.result[data-rank="1"]')
    assert card.locator(".result-title .page").text_content() == label(citation)
    assert card.locator(".result-title").text_content() == f"Harbour porpoises {label(citation)}"
    assert tab.page.locator("#notice .answer-cite .page").text_content() == ", p. 2"
    others = tab.page.locator("#results article.result").all()
    for other in others[1:]:  # the plain text document has no pages, and no page label
        if other.locator(".result-title").text_content() == PLAIN.title:
            assert other.locator(".page").count() == 0

    card.locator("a.view").click()
    tab.page.wait_for_selector('body[data-state="cited"]')
    assert tab.page.text_content("#article-text mark#cited") == top["text"]
    assert f"on {label(citation)}." in tab.page.text_content("#cite-note")
    assert tab.unexpected_errors() == []


def test_the_article_view_names_the_page_of_any_span(tab: Tab, server: str, pdf_document: Document) -> None:
    start = pdf_document.text.index(GESTATION)
    tab.page.goto(f"{server}/documents/porpoises/view?start={start}&end={start + len(GESTATION)}")
    tab.page.wait_for_selector('body[data-state="cited"]')
    assert tab.page.text_content("#article-text mark#cited") == GESTATION
    assert tab.page.text_content("#cite-note").endswith("of this article, on p. 2.")
    second = pdf_document.page_starts[1]
    tab.page.goto(f"{server}/documents/porpoises/view?start={second - 5}&end={second + 5}")
    tab.page.wait_for_selector('body[data-state="cited"]')
    assert tab.page.text_content("#cite-note").endswith("on pp. 1\u20132.")
    tab.page.goto(f"{server}/documents/seal-notes/view?start=0&end=10")
    tab.page.wait_for_selector('body[data-state="cited"]')
    assert tab.page.text_content("#cite-note").endswith("characters 0 to 10 of this article.")
    assert tab.unexpected_errors() == []
