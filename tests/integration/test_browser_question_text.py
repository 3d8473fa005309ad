"""What the search page says back about the question a person typed (Chromium, the real app on loopback,
the default index): however long, in whatever script, the echo of the question fits a phone's width and
reads as typed. Found by a probe of the page (probe3)."""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Iterator
from urllib.parse import urlencode, urlsplit

import httpx
import pytest
from browser_support import Tab, screenshot

NARROW = {"width": 375, "height": 800}
SETTLED = ("results", "low-confidence", "none", "error")


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


def refused_status(base: str, target: str) -> int:
    """The status of GET ``target`` (httpx itself refuses URLs this long, so plain http.client)."""
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        connection.request("GET", target)
        return connection.getresponse().status
    finally:
        connection.close()


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


def test_the_status_line_quotes_a_long_question_shortly(phone: Tab, live_url: str) -> None:
    # Was: a pasted question of 9,600 characters was quoted whole in the status line (aria-live, so read
    # aloud in full), pushing the answer and the results some 4,000 px down a phone's screen.
    question = "milia " * 1600
    assert ask(phone, live_url, question) == "results"
    status = phone.page.text_content("#status")
    assert status == f"Top 5 passages for “{question.strip()[:80]}…”"
    first = phone.page.locator("#results article.result").first.bounding_box()
    assert first is not None and first["y"] < 2 * NARROW["height"], "the results start near the top"
    assert phone.page.input_value("#q") == question, "the search box keeps the whole question"
    # The cut counts the characters a reader sees: it never splits an emoji into half a character, nor a
    # family emoji (four code points joined) or a letter from its combining accent (found in review).
    assert ask(phone, live_url, "🐧" * 100) in {"results", "low-confidence"}
    assert phone.page.text_content("#status") == f"Top 5 passages for “{'🐧' * 80}…”"
    family, accented = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466", "e\u0301"
    assert ask(phone, live_url, "a" + family * 100) in {"results", "low-confidence", "none"}
    assert f"“a{family * 79}…”" in phone.page.text_content("#status")
    assert ask(phone, live_url, accented * 100) in {"results", "low-confidence", "none"}
    assert f"“{accented * 80}…”" in phone.page.text_content("#status")
    # A short question is quoted whole.
    assert ask(phone, live_url, "what are milia?") == "results"
    assert phone.page.text_content("#status") == "Top 5 passages for “what are milia?”"
    assert page_width(phone) <= NARROW["width"]
    assert phone.unexpected_errors() == []


def test_a_question_too_long_for_a_url_is_still_answered(phone: Tab, live_url: str) -> None:
    # Was: 7,600 Chinese characters (under the 10,000 a question may hold, and under the search box's
    # maxlength) make a 68 kB /search URL; uvicorn refused it with a bare 400 and the page said "The search
    # service failed (HTTP 400). Try again in a moment.", which could never work. And the page URL kept the
    # question, so a reload was refused too ("Invalid HTTP request received.").
    question = "熊" * 7600
    assert refused_status(live_url, "/search?" + urlencode({"q": question, "k": 5})) == 400, (
        "the server refuses such a URL (else this test proves nothing)"
    )
    sent: list[str] = []
    phone.page.on("request", lambda request: sent.append(f"{request.method} {urlsplit(request.url).path}"))
    state = ask(phone, live_url, question)
    assert state in {"results", "low-confidence"}, phone.page.text_content("#error-message")
    assert "POST /query" in sent and "GET /search" not in sent
    expected = httpx.post(
        f"{live_url}/query", json={"question": question, "top_k": 10}, timeout=60, trust_env=False
    ).json()
    ranks = [(r["rank"], r["citation"]["doc_id"], r["citation"]["start"]) for r in expected["results"]]
    phone.page.click("#more")
    phone.page.wait_for_function("() => document.querySelectorAll('#results article.result').length === 10")
    shown = phone.page.eval_on_selector_all(
        "#results article.result", "items => items.map(a => Number(a.dataset.rank))"
    )
    assert shown == [rank for rank, _, _ in ranks], "both pages come from POST /query, in order"
    assert "q=" not in phone.page.url, "a question too long to load again stays out of the page URL"
    phone.page.reload()
    phone.page.wait_for_selector('body[data-state="empty"]')
    # A question that fits a URL still goes as GET /search and into the page URL.
    sent.clear()
    assert ask(phone, live_url, "what are milia?") == "results"
    assert "GET /search" in sent and "POST /query" not in sent
    assert "q=what+are+milia" in phone.page.url
    assert phone.unexpected_errors() == []


GLYPH_X = """([node, index]) => {
    const text = node.firstChild;
    const range = document.createRange();
    range.setStart(text, index);
    range.setEnd(text, index + 1);
    return range.getBoundingClientRect().x;
}"""


def test_a_right_to_left_question_reads_as_typed(phone: Tab, live_url: str) -> None:
    # Was: the search box and the status line laid a Hebrew question out left to right, so its final "?"
    # stood at the right end, after the last word, instead of at the left end where a Hebrew reader
    # expects it (and the status read “מה זה מיליה?” with the mark on the wrong side).
    question = "מה זה מיליה?"
    assert ask(phone, live_url, question) in {"results", "low-confidence"}
    assert phone.page.evaluate("document.getElementById('q').matches(':dir(rtl)')"), "the box reads RTL"
    assert phone.page.evaluate("document.getElementById('q').value") == question
    bdi = phone.page.locator("#status bdi")
    assert bdi.text_content() == question
    assert phone.page.text_content("#status") == f"Top 5 passages for “{question}”"
    handle = bdi.element_handle()
    first_letter, mark = (phone.page.evaluate(GLYPH_X, [handle, i]) for i in (0, len(question) - 1))
    assert mark < first_letter, "the question mark ends the Hebrew question on its left"
    screenshot(phone.page, "search-rtl-question-phone")
    # An English question is unchanged: left to right, its mark on the right.
    assert ask(phone, live_url, "what are milia?") == "results"
    assert phone.page.evaluate("document.getElementById('q').matches(':dir(ltr)')")
    handle = phone.page.locator("#status bdi").element_handle()
    first_letter, mark = (phone.page.evaluate(GLYPH_X, [handle, i]) for i in (0, len("what are milia?") - 1))
    assert mark > first_letter
    assert phone.unexpected_errors() == []


def test_more_results_right_after_typing_searches_the_typed_question(tab: Tab, live_url: str) -> None:
    # Was: clicking "More results" within the 250 ms debounce after editing the question cancelled the
    # edited question's search and appended a page of the old one: the box said "how do you treat milia",
    # the list and the URL were "what are milia" (10 results), and the typed question was never searched.
    tab.page.goto(f"{live_url}/?q=what+are+milia")
    tab.page.wait_for_selector('body[data-state="results"]')
    tab.page.fill("#q", "how do you treat milia")
    tab.page.click("#more")
    tab.page.wait_for_function(
        "text => document.getElementById('status').textContent === text",
        arg="Top 5 passages for “how do you treat milia”",
    )
    expected = httpx.get(
        f"{live_url}/search", params={"q": "how do you treat milia", "k": 5}, timeout=60, trust_env=False
    ).json()
    shown = tab.page.eval_on_selector_all(
        "#results article.result", "items => items.map(a => a.querySelector('.passage').textContent)"
    )
    assert shown == [r["text"] for r in expected["results"]]
    assert "q=how+do+you+treat+milia" in tab.page.url
    # With the question unchanged, the button pages on as before.
    tab.page.click("#more")
    tab.page.wait_for_function("() => document.querySelectorAll('#results article.result').length === 10")
    assert tab.page.text_content("#status") == "Top 10 passages for “how do you treat milia”"
    assert tab.unexpected_errors() == []
