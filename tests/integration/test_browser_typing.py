"""How the search page behaves as a person types and reads (Chromium, the real app on loopback, the default
index): an input method's unfinished text is not searched, going back from an article keeps every result
that was shown, a screen reader hears one short status line per search, not the results' text, and
right-to-left text reads right to left."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from browser_support import Tab

from corpus.types import Document
from eval.bench import loopback_server
from indexer.build import IndexSettings, build_index
from indexer.embedding import DEFAULT_MODEL, SentenceTransformerEncoder
from service.app import create_app
from service.settings import Settings
from service.wiring import build_searcher

SETTLED = ("results", "low-confidence", "none", "error")


def wait_settled(tab: Tab) -> str:
    tab.page.wait_for_selector(", ".join(f'body[data-state="{s}"]' for s in SETTLED))
    return tab.page.evaluate("document.body.dataset.state")


def searches_sent(tab: Tab) -> list[str]:
    """The questions the page asked the API for, in order (every GET /search and POST /query)."""
    return tab.page.evaluate("window.__asked")


def record_searches(tab: Tab) -> None:
    tab.page.add_init_script(
        """
        window.__asked = [];
        const fetchBefore = window.fetch;
        window.fetch = (resource, options) => {
          const url = new URL(typeof resource === "string" ? resource : resource.url, location.href);
          if (url.pathname === "/search") window.__asked.push(url.searchParams.get("q"));
          if (url.pathname === "/query") window.__asked.push(JSON.parse(options.body).question);
          return fetchBefore(resource, options);
        };
        """
    )


def test_an_input_methods_unfinished_text_is_not_searched(tab: Tab, live_url: str) -> None:
    # Was: typing with an IME (Japanese, Chinese, Korean; also dead keys) searched every intermediate
    # composition ("m", "mi", "mil") while the person was still choosing characters.
    record_searches(tab)
    tab.page.goto(f"{live_url}/")
    tab.page.wait_for_selector('body[data-state="empty"]')
    tab.page.focus("#q")
    cdp: Any = tab.page.context.new_cdp_session(tab.page)
    for partial in ("m", "mi", "mil", "mili", "milia"):
        at = len(partial)
        cdp.send("Input.imeSetComposition", {"text": partial, "selectionStart": at, "selectionEnd": at})
        tab.page.wait_for_timeout(400)  # longer than the page's debounce: a search would have started
    assert searches_sent(tab) == []
    assert tab.page.evaluate("document.body.dataset.state") == "empty"
    cdp.send("Input.insertText", {"text": "milia"})  # the composition is committed
    assert wait_settled(tab) in {"results", "low-confidence"}
    assert searches_sent(tab) == ["milia"]
    assert tab.unexpected_errors() == []


def test_going_back_from_an_article_keeps_the_results_shown(tab: Tab, live_url: str) -> None:
    # Was: after "More results", opening a result and going back showed only the first five again.
    tab.page.goto(f"{live_url}/?q=how+are+milia+treated")
    assert wait_settled(tab) in {"results", "low-confidence"}
    tab.page.click("#more")
    tab.page.locator("article.result").nth(5).wait_for()
    shown = tab.page.evaluate("[...document.querySelectorAll('article.result')].map((a) => a.id)")
    tab.page.locator("article.result a.view").nth(len(shown) - 1).click()
    tab.page.wait_for_selector('body[data-state="cited"]')
    tab.page.go_back()
    tab.page.locator("article.result").nth(len(shown) - 1).wait_for()
    assert wait_settled(tab) in {"results", "low-confidence"}
    again = tab.page.evaluate("[...document.querySelectorAll('article.result')].map((a) => a.id)")
    assert again == shown
    assert tab.unexpected_errors() == []


def test_a_screen_reader_hears_the_status_line_not_the_results(tab: Tab, live_url: str) -> None:
    # Was: the results list was a live region as well as the status line, so a screen reader read the
    # status, then every passage (thousands of characters) after each keystroke's search.
    tab.page.goto(f"{live_url}/?q=what+are+milia")
    assert wait_settled(tab) in {"results", "low-confidence"}
    live = tab.page.evaluate(
        "[...document.querySelectorAll('[aria-live], [role=status], [role=alert], [role=log]')]"
        ".filter((e) => e.getAttribute('aria-live') !== 'off')"
        ".map((e) => ({id: e.id, length: e.textContent.length, hidden: e.hidden}))"
    )
    spoken = [region for region in live if not region["hidden"]]
    assert [region["id"] for region in spoken] == ["status"]
    assert 0 < spoken[0]["length"] <= 200


HEBREW = Document(
    doc_id="hebrew-bread",
    title="לחם שיפון",
    text=(
        "לחם שיפון כבד צריך אפייה ארוכה של שבעים דקות לפחות. "
        "יש להניח ללחם לנוח יום שלם לפני שפורסים אותו 🍞. Rye bread, in English, rests a day."
    ),
)


@pytest.fixture(scope="module")
def hebrew_url(
    tmp_path_factory: pytest.TempPathFactory, encoder: SentenceTransformerEncoder
) -> Iterator[str]:
    path = tmp_path_factory.mktemp("rtl-index") / "index"
    build_index([HEBREW], encoder, path, IndexSettings(), "a right-to-left test document")
    settings = Settings(index_path=path, model=DEFAULT_MODEL)
    with loopback_server(create_app(settings, build_searcher(settings, encoder))) as url:
        yield url


def reads_right_to_left(tab: Tab, selector: str) -> bool:
    return tab.page.locator(selector).first.evaluate("(e) => e.matches(':dir(rtl)')")


def test_right_to_left_text_reads_right_to_left_in_results_and_article(tab: Tab, hebrew_url: str) -> None:
    # Was: Hebrew and Arabic passages, titles and articles were laid out left to right (the page is in
    # English), so a sentence's end punctuation and an embedded English phrase landed on the wrong side.
    tab.page.goto(f"{hebrew_url}/?q=" + quote("כמה זמן אופים לחם שיפון"))
    assert wait_settled(tab) in {"results", "low-confidence"}
    for selector in ("article.result .result-title", "article.result .snippet", "article.result .passage"):
        assert reads_right_to_left(tab, selector), selector
    assert not reads_right_to_left(tab, "#status")  # the page's own English stays left to right
    tab.page.locator("article.result a.view").first.click()
    tab.page.wait_for_selector('body[data-state="cited"]')
    assert reads_right_to_left(tab, "#article-title")
    assert reads_right_to_left(tab, "#article-text")
    assert tab.unexpected_errors() == []
