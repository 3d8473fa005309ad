"""What the search page says back about the question a person typed (Chromium, the real app on loopback,
the default index): however long, in whatever script, the echo of the question fits a phone's width and
reads as typed. Found by a probe of the page (probe3)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from browser_support import Tab, screenshot

from citeqa.search import Searcher
from eval.bench import loopback_server
from service.app import create_app
from service.settings import Settings

NARROW = {"width": 375, "height": 800}
SETTLED = ("results", "low-confidence", "none", "error")


@pytest.fixture(scope="module")
def live_url(app_settings: Settings, searcher: Searcher) -> Iterator[str]:
    with loopback_server(create_app(app_settings, searcher)) as url:
        yield url


@pytest.fixture
def phone(browser: object) -> Iterator[Tab]:
    opened = Tab.open(browser, NARROW)  # type: ignore[arg-type]
    yield opened
    opened.close()


def wait_settled(tab: Tab) -> str:
    tab.page.wait_for_selector(", ".join(f'body[data-state="{s}"]' for s in SETTLED))
    return tab.page.evaluate("document.body.dataset.state")


def ask(tab: Tab, base: str, question: str) -> str:
    tab.page.goto(f"{base}/")
    tab.page.wait_for_selector('body[data-state="empty"]')
    tab.page.fill("#q", question)
    tab.page.press("#q", "Enter")
    return wait_settled(tab)


def page_width(tab: Tab) -> int:
    return tab.page.evaluate("document.documentElement.scrollWidth")


def test_a_long_unbroken_word_does_not_widen_the_phone_page(phone: Tab, live_url: str) -> None:
    # Was: "a" * 120 made the status line ("Top 5 passages for “aaaa…”") 1,149 px wide at 375 px.
    word = "milia" + "a" * 115
    assert ask(phone, live_url, word) in {"results", "low-confidence"}
    assert page_width(phone) <= NARROW["width"]
    assert phone.page.locator("#results article.result").count() > 0
    # An error message holding a long token wraps too.
    long_message = "unknown filter key '" + "k" * 200 + "'"
    phone.page.route(
        re.compile(r"/search\?"),
        lambda route: route.fulfill(
            status=422,
            content_type="application/json",
            body=json.dumps({"error": "invalid_query", "message": long_message}),
        ),
    )
    assert ask(phone, live_url, "what are milia") == "error"
    assert phone.page.text_content("#error-message") == long_message
    assert page_width(phone) <= NARROW["width"]
    screenshot(phone.page, "search-long-word-phone")
    assert phone.unexpected_errors("Failed to load resource") == []
