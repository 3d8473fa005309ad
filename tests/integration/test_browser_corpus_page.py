"""The search page fits the corpus it serves (Chromium, real app on loopback): the bundled corpus keeps its
example questions, another corpus shows none (or those configured, with its name in the title); result
cards show relevance, not raw scores; the article view marks the answering sentence more strongly inside
the cited passage, so a short article is not one block of one colour."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from browser_support import Tab, screenshot

from citeqa.search import Searcher
from corpus.types import Document
from eval.bench import loopback_server
from indexer.embedding import DEFAULT_MODEL, SentenceTransformerEncoder
from service.app import create_app
from service.examples import DEFAULT_CORPUS_EXAMPLES
from service.settings import Settings
from service.wiring import build_searcher

BREAD = [
    Document(
        doc_id="rye-loaf",
        title="Rye loaf",
        text="Rye bread notes. A dense rye loaf needs a long bake of at least 70 minutes. Let it rest a day.",
    ),
    Document(
        doc_id="steam-crust",
        title="Steam and crust",
        text="Oven notes. Steam in the first ten minutes of baking gives the crust its shine. Vent it after.",
    ),
]
BREAD_QUESTIONS = ["How long does a rye loaf bake?", "What gives the crust its shine?"]


@pytest.fixture(scope="module")
def default_url(app_settings: Settings, searcher: Searcher) -> Iterator[str]:
    with loopback_server(create_app(app_settings, searcher)) as url:
        yield url


@pytest.fixture(scope="module")
def bread_settings(
    tmp_path_factory: pytest.TempPathFactory, encoder: SentenceTransformerEncoder
) -> Settings:
    from indexer.build import IndexSettings, build_index

    path = tmp_path_factory.mktemp("bread-index") / "index"
    build_index(BREAD, encoder, path, IndexSettings(), "bread test documents")
    return Settings(index_path=path, model=DEFAULT_MODEL)


def serve(settings: Settings, encoder: SentenceTransformerEncoder) -> Any:
    return loopback_server(create_app(settings, build_searcher(settings, encoder)))


def open_empty(tab: Tab, url: str, query: str = "") -> None:
    tab.page.goto(f"{url}/{query}")
    tab.page.wait_for_selector('body[data-state="empty"]')


def test_the_bundled_corpus_keeps_its_examples(tab: Tab, default_url: str) -> None:
    open_empty(tab, default_url)
    assert tab.page.locator("button.example").all_text_contents() == list(DEFAULT_CORPUS_EXAMPLES)
    assert tab.page.get_attribute("#q", "placeholder") == "e.g. what are milia?"
    assert tab.page.title() == "citeqa: answers with exact citations"
    assert tab.unexpected_errors() == []


def test_another_corpus_shows_no_examples(
    tab: Tab, bread_settings: Settings, encoder: SentenceTransformerEncoder
) -> None:
    with serve(bread_settings, encoder) as url:
        open_empty(tab, url, "?mode=bm25")
        assert tab.page.is_hidden("#examples")
        assert tab.page.locator("button.example").count() == 0
        assert tab.page.get_attribute("#q", "placeholder") == "Type a question"
        assert "milia" not in tab.page.content().lower()
        tab.page.fill("#q", "zzyzx qwertyuiop")
        tab.page.press("#q", "Enter")
        tab.page.wait_for_selector('body[data-state="none"]')
        assert tab.page.is_hidden("#examples"), "no examples to fall back on"
        assert "one of the examples" not in tab.page.text_content("#status")
        screenshot(tab.page, "search-corpus-without-examples")
        assert tab.unexpected_errors() == []


def test_configured_examples_and_corpus_name(
    tab: Tab, bread_settings: Settings, encoder: SentenceTransformerEncoder
) -> None:
    named = {"example_questions": BREAD_QUESTIONS, "corpus_name": "Bread notes"}
    settings = bread_settings.model_copy(update=named)
    with serve(settings, encoder) as url:
        open_empty(tab, url)
        assert tab.page.title() == "citeqa: Bread notes"
        assert tab.page.locator("button.example").all_text_contents() == BREAD_QUESTIONS
        assert tab.page.get_attribute("#q", "placeholder") == f"e.g. {BREAD_QUESTIONS[0]}"
        screenshot(tab.page, "search-corpus-configured-examples")
        tab.page.locator("button.example").first.click()
        tab.page.wait_for_selector('body[data-state="results"], body[data-state="low-confidence"]')
        assert tab.page.input_value("#q") == BREAD_QUESTIONS[0]
        titles = tab.page.locator("#results .result-title").all_text_contents()
        assert titles[0] == "Rye loaf"
        assert tab.unexpected_errors() == []


def test_cards_show_relevance_not_scores(tab: Tab, default_url: str) -> None:
    question = "is it safe to pop milia with a needle"
    params = {"q": question, "k": 5}
    body = httpx.get(f"{default_url}/search", params=params, timeout=60, trust_env=False).json()
    tab.page.goto(f"{default_url}/?q={question.replace(' ', '+')}")
    tab.page.wait_for_selector('body[data-state="results"], body[data-state="low-confidence"]')
    shown = tab.page.locator("#results .relevance").all_text_contents()
    assert shown == [f"relevance {round(r['relevance'] * 100)}%" for r in body["results"]]
    text = tab.page.text_content("#results")
    assert "score" not in text.lower()
    assert all(f"{r['score']:.2f}" not in text for r in body["results"])


def test_a_short_article_marks_its_answer_more_strongly(
    tab: Tab, bread_settings: Settings, encoder: SentenceTransformerEncoder
) -> None:
    with serve(bread_settings, encoder) as url:
        tab.page.goto(f"{url}/?q=how+long+does+a+rye+loaf+bake")
        tab.page.wait_for_selector('body[data-state="results"], body[data-state="low-confidence"]')
        card = tab.page.locator('#results article.result[data-rank="1"]')
        sentence = card.locator(".passage mark").first.text_content()
        card.locator("a.view").click()
        tab.page.wait_for_selector('body[data-state="cited"]')
        text = BREAD[0].text
        assert tab.page.text_content("#article-text") == text
        assert tab.page.text_content("#article-text mark#cited") == text, "the passage is the whole article"
        strong = tab.page.locator("#cited mark.answering")
        assert strong.all_text_contents() == [sentence]
        assert "70 minutes" in sentence and len(sentence) < len(text)
        colour = "el => getComputedStyle(el).backgroundColor"
        assert tab.page.eval_on_selector("#cited", colour) != tab.page.eval_on_selector(
            "#cited mark.answering", colour
        )
        assert "more strongly" in tab.page.text_content("#cite-note")
        screenshot(tab.page, "view-short-article-answer")
        assert tab.unexpected_errors() == []
