"""Citations stay exact in the browser for text outside the Basic Multilingual Plane and other scripts.

The API's offsets count Unicode code points (as Python's ``str`` does) and the page's JavaScript strings
count UTF-16 units: an emoji is one code point and two units. Each document below mixes emoji, combining
marks, CJK and right-to-left text before the cited sentences, so an offset read as UTF-16 units would
mark the wrong characters. Real app on uvicorn (loopback), real index, headless Chromium.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from browser_support import Tab

from corpus.types import Document
from eval.bench import loopback_server
from indexer.embedding import DEFAULT_MODEL, SentenceTransformerEncoder
from service.app import create_app
from service.settings import Settings
from service.wiring import build_searcher

DOCUMENTS = [
    Document(
        doc_id="bread-emoji",
        title="Bread notes 🍞",
        text=(
            "🍞🍞🍞 Bread notes from the bakery 🥖🥐. A dense rye loaf needs a long bake of at least 70 "
            "minutes. 😀 Let the rye loaf rest for a full day before slicing it 🔪. Sourdough starters like "
            "a warm kitchen 🌡️ and daily feeding."
        ),
    ),
    Document(
        doc_id="cafe-combining",
        title="Café notes",
        text=(
            "Cafe\u0301 crème and nai\u0308ve baking: a brioche dough wants cold butter folded in slowly. "
            "Zalgo t\u0336e\u0336x\u0336t aside, proof the brioche dough overnight in the fridge."
        ),
    ),
    Document(
        doc_id="scripts/cjk-rtl",  # an id holding "/" (BEIR ids may): the view page reads it from its URL
        title="面包 خبز notes",
        text=(
            "面包是用面粉做的。 الخبز مصنوع من الدقيق. 𠜎𠜱𠝹 Rare characters first. "
            "Steam in the oven during the first ten minutes gives the crust its shine."
        ),
    ),
]
QUESTIONS = {
    "bread-emoji": "how long should a dense rye loaf bake",
    "cafe-combining": "should brioche dough proof overnight",
    "scripts/cjk-rtl": "how do you get a shiny crust",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, encoder: SentenceTransformerEncoder) -> Iterator[str]:
    from indexer.build import IndexSettings, build_index

    path = tmp_path_factory.mktemp("unicode-index") / "index"
    build_index(DOCUMENTS, encoder, path, IndexSettings(), "unicode test documents")
    settings = Settings(index_path=path, model=DEFAULT_MODEL)
    with loopback_server(create_app(settings, build_searcher(settings, encoder))) as url:
        yield url


def test_the_documents_need_code_point_offsets() -> None:
    """The fixture is only a test if UTF-16 and code point offsets disagree in every document."""
    for document in DOCUMENTS:
        assert len(document.text.encode("utf-16-le")) // 2 != len(document.text) or any(
            "\u0300" <= ch <= "\u036f" for ch in document.text
        )


def merged(spans: list[dict[str, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in sorted((s["start"], s["end"]) for s in spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


@pytest.mark.parametrize("doc_id", list(QUESTIONS))
def test_result_marks_are_the_cited_characters(tab: Tab, server: str, doc_id: str) -> None:
    document = next(d for d in DOCUMENTS if d.doc_id == doc_id)
    body = httpx.get(
        f"{server}/search", params={"q": QUESTIONS[doc_id], "k": 3}, timeout=60, trust_env=False
    ).json()
    rank = next(r["rank"] for r in body["results"] if r["citation"]["doc_id"] == doc_id)
    result = next(r for r in body["results"] if r["rank"] == rank)
    citation = result["citation"]
    assert result["text"] == document.text[citation["start"] : citation["end"]]
    expected_marks = [document.text[s:e] for s, e in merged(result["highlights"])]
    assert expected_marks, "the question has an answering sentence in this document"

    tab.page.goto(f"{server}/?q={QUESTIONS[doc_id].replace(' ', '+')}")
    tab.page.wait_for_selector('body[data-state="results"], body[data-state="low-confidence"]')
    card = tab.page.locator(f'#results article.result[data-rank="{rank}"]')
    assert card.locator(".passage").text_content() == result["text"]
    assert card.locator(".passage mark").all_text_contents() == expected_marks

    card.locator("a.view").click()
    tab.page.wait_for_selector('body[data-state="cited"]')
    assert tab.page.text_content("#article-text mark#cited") == result["text"]
    assert tab.page.text_content("#article-text") == document.text
    assert tab.unexpected_errors() == []


@pytest.mark.parametrize("document", DOCUMENTS, ids=[d.doc_id for d in DOCUMENTS])
def test_article_view_marks_any_span_exactly(tab: Tab, server: str, document: Document) -> None:
    """Spans that start and end right after astral characters, combining marks and RTL text."""
    text = document.text
    for start, end in [(0, 4), (3, 20), (len(text) - 30, len(text)), (5, len(text) - 5)]:
        tab.page.goto(f"{server}/documents/{document.doc_id}/view?start={start}&end={end}")
        tab.page.wait_for_selector('body[data-state="cited"]')
        assert tab.page.text_content("#article-text mark#cited") == text[start:end], (start, end)
        assert tab.page.text_content("#article-text") == text
    # The whole article is len(text) code points long: end=len(text) is valid, one more is not.
    tab.page.goto(f"{server}/documents/{document.doc_id}/view?start=0&end={len(text) + 1}")
    tab.page.wait_for_selector('body[data-state="article"]')
    assert tab.unexpected_errors() == []
