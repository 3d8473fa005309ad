"""The search page and the article view in a real browser (headless Chromium via Playwright) against
the real app served by uvicorn on 127.0.0.1, over the session searcher.

States the real API cannot produce on demand (a failing server, a low-confidence answer until the
service sends ``answerable``) are made by intercepting /search with page.route and fulfilling a real
response that is changed or replaced. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from browser_support import PHONE, REPO, Tab, screenshot, static_server

from citeqa.search import Searcher
from corpus.types import Document
from eval.bench import loopback_server
from indexer.embedding import DEFAULT_MODEL, SentenceTransformerEncoder
from service.app import create_app
from service.settings import Settings
from service.wiring import build_searcher

BABY_QUESTION = "my 5 month old son has milia on his chin, will they go away?"
BAILEY_TITLE = "Baby Milia from Baby Acne"
NO_MATCH = "zzyzx qwertyuiop"
XSS_TEXT = "<script>alert(1)</script>"
XSS_IMG = "<img src=x onerror=alert(2)>"
RESOURCE_ERROR = "Failed to load resource"


def api_search(base: str, question: str, **params: Any) -> dict[str, Any]:
    response = httpx.get(f"{base}/search", params={"q": question, **params}, timeout=60, trust_env=False)
    response.raise_for_status()
    return response.json()


def wait_state(tab: Tab, *states: str) -> str:
    selector = ", ".join(f'body[data-state="{s}"]' for s in states)
    tab.page.wait_for_selector(selector)
    return tab.page.evaluate("document.body.dataset.state")


def rendered(tab: Tab) -> list[dict[str, Any]]:
    """What the results list shows, read from the DOM."""
    return tab.page.eval_on_selector_all(
        "#results article.result",
        """items => items.map(a => ({
            rank: Number(a.dataset.rank),
            title: a.querySelector('.result-title').textContent,
            source: a.querySelector('.source') ? a.querySelector('.source').textContent : null,
            passage: a.querySelector('.passage').textContent,
            marks: [...a.querySelectorAll('.passage mark')].map(m => m.textContent),
            view: a.querySelector('a.view').getAttribute('href'),
            original: a.querySelector('a.original')?.getAttribute('href') ?? null,
        }))""",
    )


def search_in_page(tab: Tab, base: str, question: str) -> str:
    tab.page.goto(f"{base}/")
    wait_state(tab, "empty")
    tab.page.get_by_label("Ask a question about the articles").press_sequentially(question)
    return wait_state(tab, "results", "low-confidence", "none")


def no_horizontal_scroll(tab: Tab) -> bool:
    return tab.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


# --- the search page ---------------------------------------------------------------------------------


def test_empty_page_offers_examples(tab: Tab, live_url: str) -> None:
    tab.page.goto(f"{live_url}/")
    wait_state(tab, "empty")
    examples = tab.page.locator("button.example")
    assert examples.count() >= 3
    assert tab.page.locator("#results article").count() == 0
    screenshot(tab.page, "search-empty-desktop")
    screenshot(tab.page, "search-empty-phone", PHONE)
    assert no_horizontal_scroll(tab)
    first = examples.first.get_attribute("data-q")
    examples.first.click()
    wait_state(tab, "results", "low-confidence")
    assert tab.page.input_value("#q") == first
    assert [r["title"] for r in rendered(tab)] == [
        r["citation"]["title"] for r in api_search(live_url, first, k=5)["results"]
    ]
    assert tab.unexpected_errors() == [] and tab.dialogs == []


def test_typing_a_question_shows_its_cited_passages(tab: Tab, live_url: str, searcher: Searcher) -> None:
    search_in_page(tab, live_url, BABY_QUESTION)
    expected = api_search(live_url, BABY_QUESTION, k=5)
    assert expected["results"][0]["citation"]["title"] == BAILEY_TITLE
    shown = rendered(tab)
    assert [r["rank"] for r in shown] == [1, 2, 3, 4, 5]
    assert [r["title"] for r in shown] == [r["citation"]["title"] for r in expected["results"]]
    for row, result in zip(shown, expected["results"], strict=True):
        c = result["citation"]
        assert (
            row["passage"]
            == result["text"]
            == searcher.index.documents[c["doc_id"]].text[c["start"] : c["end"]]
        )
        hl = ",".join(f"{h['start']}-{h['end']}" for h in result["highlights"])
        span = f"start={c['start']}&end={c['end']}" + (f"&hl={hl}" if hl else "")
        assert row["view"] == f"/documents/{c['doc_id']}/view?{span}#cited"
        assert row["original"] == c["url"], "the original article is linked exactly when its URL is known"
        if c["author"]:
            assert c["author"] in row["source"]
    status = tab.page.text_content("#status")
    assert "5 passages" in status and BABY_QUESTION in status
    assert f"q={BABY_QUESTION.split()[0]}" in tab.page.url, "the question is kept in the page URL"
    # The status line announces the search; the results are read on demand (test_browser_typing).
    assert tab.page.get_attribute("#status", "aria-live") == "polite"
    screenshot(tab.page, "search-results-desktop")
    screenshot(tab.page, "search-results-phone", PHONE)
    assert no_horizontal_scroll(tab)
    assert tab.unexpected_errors() == [] and tab.dialogs == []


def test_more_results_page_without_repeats(tab: Tab, live_url: str) -> None:
    search_in_page(tab, live_url, "how do you get rid of milia")
    assert tab.page.is_visible("#more")
    tab.page.click("#more")
    tab.page.wait_for_function("() => document.querySelectorAll('#results article.result').length > 5")
    wait_state(tab, "results", "low-confidence")
    shown = rendered(tab)
    assert [r["rank"] for r in shown] == list(range(1, len(shown) + 1))
    assert len({r["view"] for r in shown}) == len(shown), "a passage was shown twice"
    expected = api_search(live_url, "how do you get rid of milia", k=len(shown))["results"]
    assert [r["passage"] for r in shown] == [r["text"] for r in expected]
    assert tab.page.evaluate("document.activeElement.dataset.rank") == "6", (
        "focus moves to the first new result"
    )


def test_view_in_article_marks_exactly_the_cited_characters(
    tab: Tab, live_url: str, searcher: Searcher
) -> None:
    search_in_page(tab, live_url, BABY_QUESTION)
    shown = rendered(tab)
    # The result cited furthest into its article, so that scrolling it into view matters.
    deepest = max(range(len(shown)), key=lambda i: int(re.search(r"start=(\d+)", shown[i]["view"]).group(1)))
    tab.page.locator("#results article.result a.view").nth(deepest).click()
    wait_state(tab, "cited")
    match = re.search(r"/documents/([^/]+)/view\?start=(\d+)&end=(\d+)", tab.page.url)
    assert match, tab.page.url
    doc_id, start, end = match.group(1), int(match.group(2)), int(match.group(3))
    document = searcher.index.documents[doc_id]
    marks = tab.page.locator("#article-text > mark")
    assert marks.count() == 1
    assert marks.text_content() == document.text[start:end]
    parts = tab.page.eval_on_selector(
        "#article-text", "el => [...el.childNodes].map(n => [n.nodeName, n.id, n.textContent])"
    )
    assert parts == [
        ["#text", None, document.text[:start]],
        ["MARK", "cited", document.text[start:end]],
        ["#text", None, document.text[end:]],
    ]
    # The answering sentences (hl=) are marked inside the cited passage, exactly.
    hl = re.search(r"[?&]hl=([\d,-]+)", tab.page.url)
    answers = [tuple(map(int, span.split("-"))) for span in hl.group(1).split(",")] if hl else []
    strong = tab.page.locator("#cited mark.answering").all_text_contents()
    assert answers and strong == [document.text[a:b] for a, b in answers]
    assert tab.page.text_content("#article-title") == document.title
    in_view = "(() => { const r = document.getElementById('cited').getBoundingClientRect();"
    in_view += " return r.top < window.innerHeight && r.bottom > 0; })()"
    assert tab.page.evaluate(in_view), "the cited span is scrolled into view"
    assert tab.page.evaluate("document.activeElement.id") == "cited"
    if document.url:
        assert tab.page.get_attribute("#article-links a.original", "href") == document.url
    screenshot(tab.page, "view-desktop")
    tab.page.set_viewport_size(PHONE)
    tab.page.reload()  # as a phone opens it: laid out at phone width, then scrolled
    wait_state(tab, "cited")
    assert tab.page.evaluate(in_view), "the cited span is scrolled into view at phone width"
    screenshot(tab.page, "view-phone")
    assert no_horizontal_scroll(tab)
    tab.page.click("#back")
    wait_state(tab, "results", "low-confidence")
    assert tab.page.input_value("#q") == BABY_QUESTION, "going back keeps the question"
    assert tab.unexpected_errors() == [] and tab.dialogs == []


def test_view_page_explains_bad_links(tab: Tab, live_url: str, searcher: Searcher) -> None:
    response = tab.page.goto(f"{live_url}/documents/no-such-article/view?start=0&end=5")
    assert response is not None and response.status == 404
    wait_state(tab, "error")
    assert "no-such-article" in tab.page.text_content("#error-message")
    doc_id, document = next(iter(searcher.index.documents.items()))
    tab.page.goto(f"{live_url}/documents/{doc_id}/view?start=50&end={len(document.text) + 10}")
    wait_state(tab, "article")
    assert tab.page.locator("#article-text mark").count() == 0
    assert tab.page.text_content("#article-text") == document.text
    assert "not inside this article" in tab.page.text_content("#cite-note")
    # A link cut inside a percent-encoded character: the page said "Loading…" for ever (decodeURIComponent
    # threw). Found by the security probe.
    tab.page.goto(f"{live_url}/documents/%E0%A4/view")
    wait_state(tab, "error")
    assert "does not name an article" in tab.page.text_content("#error-message")
    assert tab.unexpected_errors(RESOURCE_ERROR) == [] and tab.dialogs == []


def test_no_results_state(tab: Tab, live_url: str) -> None:
    assert api_search(live_url, NO_MATCH, mode="bm25")["results"] == []
    tab.page.goto(f"{live_url}/?mode=bm25")
    wait_state(tab, "empty")
    tab.page.fill("#q", NO_MATCH)
    tab.page.press("#q", "Enter")
    wait_state(tab, "none")
    assert "No passages match" in tab.page.text_content("#status")
    assert NO_MATCH in tab.page.text_content("#status")
    assert tab.page.is_visible("#examples"), "examples are offered again"
    assert tab.page.locator("#results article").count() == 0
    assert tab.unexpected_errors() == []


def changed_search(tab: Tab, change: Any) -> None:
    """Fulfil every /search with the real response changed by ``change(body)``."""

    def handle(route: Any) -> None:
        response = route.fetch()
        body = response.json()
        change(body)
        route.fulfill(response=response, body=json.dumps(body))

    tab.page.route(re.compile(r"/search\?"), handle)


def test_low_confidence_state(tab: Tab, live_url: str) -> None:
    def unsure(body: dict[str, Any]) -> None:
        body.update(answerable=False, confidence=0.12, answer=None)

    changed_search(tab, unsure)
    state = search_in_page(tab, live_url, "what is the boiling point of mercury")
    assert state == "low-confidence"
    warning = tab.page.text_content("#notice .low-confidence")
    assert "may not answer" in warning and "12%" in warning
    assert tab.page.locator("#results article.result").count() == 5, "the closest passages are still shown"
    screenshot(tab.page, "search-low-confidence-desktop")
    screenshot(tab.page, "search-low-confidence-phone", PHONE)
    assert tab.unexpected_errors() == []


def test_a_near_certain_percentage_does_not_read_as_certain(tab: Tab, live_url: str) -> None:
    """Found by a probe: Math.round showed a confidence of 0.997 as "confidence 100%"."""

    def sure(body: dict[str, Any]) -> None:
        body.update(answerable=False, confidence=0.997, answer=None)
        body["results"][0]["relevance"] = 0.001
        body["results"][1]["relevance"] = 0.0

    changed_search(tab, sure)
    assert search_in_page(tab, live_url, "what are milia") == "low-confidence"
    assert "confidence >99%" in tab.page.text_content("#notice .low-confidence")
    badges = tab.page.locator("#results .relevance").all_text_contents()
    assert badges[:2] == ["relevance <1%", "relevance 0%"]
    assert tab.unexpected_errors() == []


def answer_span(passage: str) -> tuple[int, int]:
    """A sentence of the passage to play the answer: the one about the son, else the first 60 characters."""
    begin = passage.find("I have a question")
    if begin < 0:
        return 0, min(60, len(passage))
    stop = passage.find(".", begin)
    return begin, (stop + 1 if stop > 0 else len(passage))


def test_answer_and_highlights_render_when_present(tab: Tab, live_url: str, searcher: Searcher) -> None:
    def answered(body: dict[str, Any]) -> None:
        first = body["results"][0]
        c = first["citation"]
        begin, stop = answer_span(first["text"])
        # Two highlights as document offsets inside the passage span, one overlapping its end.
        first["highlights"] = [
            {"start": c["start"] + begin, "end": c["start"] + stop},
            {"start": c["end"] - 8, "end": c["end"] + 5},
        ]
        body.update(
            answerable=True,
            confidence=0.87,
            answer={"text": first["text"][begin:stop], "score": first["score"], "citation": c},
        )

    changed_search(tab, answered)
    search_in_page(tab, live_url, BABY_QUESTION)
    api = api_search(live_url, BABY_QUESTION, k=5)["results"][0]
    c = api["citation"]
    text = searcher.index.documents[c["doc_id"]].text
    begin, stop = answer_span(api["text"])
    first = rendered(tab)[0]
    assert first["marks"] == [text[c["start"] + begin : c["start"] + stop], text[c["end"] - 8 : c["end"]]]
    assert first["passage"] == api["text"], "marks never change the passage text"
    assert tab.page.text_content("#notice .answer-text") == api["text"][begin:stop]
    assert "87%" in tab.page.text_content("#notice .answer-cite")
    assert tab.page.evaluate("document.body.dataset.state") == "results"
    screenshot(tab.page, "search-answer-desktop")
    assert tab.unexpected_errors() == []


def test_error_state_and_retry(tab: Tab, live_url: str) -> None:
    failing = json.dumps({"error": "internal_error", "message": "internal error; see server log"})
    tab.page.route(
        re.compile(r"/search\?"),
        lambda route: route.fulfill(status=500, body=failing, content_type="application/json"),
    )
    state = search_in_page_expecting(tab, live_url, "what are milia", "error")
    assert state == "error"
    assert tab.page.text_content("#error-message") == "internal error; see server log"
    assert tab.page.is_visible("#retry")
    assert tab.page.locator("#results article").count() == 0
    screenshot(tab.page, "search-error-desktop")
    screenshot(tab.page, "search-error-phone", PHONE)
    tab.page.unroute(re.compile(r"/search\?"))
    tab.page.route(re.compile(r"/search\?"), lambda route: route.abort("connectionrefused"))
    tab.page.click("#retry")
    wait_state(tab, "error")
    assert "Could not reach the search service" in tab.page.text_content("#error-message")
    tab.page.unroute(re.compile(r"/search\?"))
    tab.page.click("#retry")
    wait_state(tab, "results", "low-confidence")
    assert tab.page.is_hidden("#error")
    assert tab.page.locator("#results article.result").count() == 5
    assert tab.unexpected_errors(RESOURCE_ERROR) == []


def search_in_page_expecting(tab: Tab, base: str, question: str, state: str) -> str:
    tab.page.goto(f"{base}/")
    wait_state(tab, "empty")
    tab.page.fill("#q", question)
    return wait_state(tab, state)


def test_a_slow_old_answer_never_replaces_a_newer_one(tab: Tab, live_url: str) -> None:
    held: list[Any] = []
    failed: list[str] = []

    def hold_first(route: Any) -> None:
        if "slow" in route.request.url and not held:
            held.append(route)  # not answered until the newer search has rendered
        else:
            route.continue_()

    tab.page.route(re.compile(r"/search\?"), hold_first)
    tab.page.on("requestfailed", lambda request: failed.append(request.url))
    tab.page.goto(f"{live_url}/")
    wait_state(tab, "empty")
    with tab.page.expect_request(lambda request: "slow" in request.url):
        tab.page.fill("#q", "slow question about milia")
    wait_state(tab, "loading")
    tab.page.fill("#q", "what are milia")
    wait_state(tab, "results", "low-confidence")
    newer = rendered(tab)
    assert [f for f in failed if "slow" in f], "the older request was aborted"
    stale = {
        "question": "slow",
        "mode": "hybrid",
        "took_ms": 1.0,
        "offset": 0,
        "has_more": False,
        "results": [],
    }
    with contextlib.suppress(Exception):  # the browser may have dropped the aborted request already
        held[0].fulfill(status=200, body=json.dumps(stale), content_type="application/json")
    tab.page.evaluate("new Promise(requestAnimationFrame)")
    assert rendered(tab) == newer and newer
    assert tab.page.evaluate("document.body.dataset.state") in {"results", "low-confidence"}
    assert "what are milia" in tab.page.text_content("#status")


def test_keyboard_navigation(tab: Tab, live_url: str) -> None:
    search_in_page(tab, live_url, BABY_QUESTION)
    active_rank = "document.activeElement.dataset.rank || document.activeElement.id"
    tab.page.focus("#q")
    tab.page.keyboard.press("ArrowDown")
    assert tab.page.evaluate(active_rank) == "1"
    outline = tab.page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in {"none", ""}, "the focused result shows a visible outline"
    tab.page.keyboard.press("ArrowDown")
    tab.page.keyboard.press("ArrowDown")
    assert tab.page.evaluate(active_rank) == "3"
    tab.page.keyboard.press("ArrowUp")
    assert tab.page.evaluate(active_rank) == "2"
    screenshot(tab.page, "search-keyboard-desktop")
    tab.page.keyboard.press("ArrowUp")
    tab.page.keyboard.press("ArrowUp")
    assert tab.page.evaluate(active_rank) == "q"
    tab.page.keyboard.press("ArrowDown")
    expected_view = rendered(tab)[0]["view"].split("#")[0]
    tab.page.keyboard.press("Enter")
    wait_state(tab, "cited")
    assert tab.page.url.startswith(f"{live_url}{expected_view}")
    tab.page.go_back()
    wait_state(tab, "results", "low-confidence")
    assert tab.page.input_value("#q") == BABY_QUESTION
    tab.page.focus("#q")
    tab.page.keyboard.press("Escape")
    wait_state(tab, "empty")
    assert tab.page.input_value("#q") == ""
    assert tab.page.locator("#results article").count() == 0
    assert tab.page.url == f"{live_url}/"
    assert tab.unexpected_errors() == []


def test_pages_load_nothing_from_other_origins(tab: Tab, live_url: str) -> None:
    requested: list[str] = []
    tab.page.on("request", lambda request: requested.append(request.url))
    search_in_page(tab, live_url, "what are milia")
    tab.page.locator("#results a.view").first.click()
    wait_state(tab, "cited")
    assert requested and all(url.startswith(f"{live_url}/") for url in requested), requested
    assert tab.unexpected_errors() == [], "no CSP violation or script error"


# --- untrusted text ------------------------------------------------------------------------------------


HOSTILE = [
    Document(
        doc_id="hostile-markup",
        title='Milia <b>facts</b> <script>alert("title")</script>',
        text=(
            f"Milia are tiny white bumps made of trapped dead skin cells. {XSS_TEXT} Some pages try to "
            f"inject markup such as {XSS_IMG} into search results. Milia in babies usually clear up on "
            "their own within a few weeks, and nobody should squeeze them."
        ),
        author="<img src=x onerror=alert(3)>",
        publisher="Example & Co <i>",
        url="javascript:alert(4)",
    ),
    Document(
        doc_id="plain-article",
        title="Skin care for newborns",
        text="Newborn skin is delicate. Wash it gently with warm water and pat it dry. Milia need no care.",
        url="https://example.org/newborn-skin",
    ),
]


@pytest.fixture(scope="module")
def hostile_url(
    tmp_path_factory: pytest.TempPathFactory, encoder: SentenceTransformerEncoder
) -> Iterator[str]:
    """The real app over a small index of documents whose text, title and metadata hold markup."""
    from indexer.build import IndexSettings, build_index

    path = tmp_path_factory.mktemp("hostile-index") / "index"
    build_index(HOSTILE, encoder, path, IndexSettings(), "hostile test documents")
    settings = Settings(index_path=path, model=DEFAULT_MODEL)
    with loopback_server(create_app(settings, build_searcher(settings, encoder))) as url:
        yield url


def test_markup_in_documents_and_queries_renders_as_text(tab: Tab, hostile_url: str) -> None:
    question = f"{XSS_TEXT} {XSS_IMG} milia"
    search_in_page(tab, hostile_url, question)
    shown = rendered(tab)
    hostile = next(r for r in shown if "hostile-markup" in r["view"])
    assert hostile["title"] == HOSTILE[0].title
    assert XSS_TEXT in hostile["passage"] and XSS_IMG in hostile["passage"]
    assert hostile["source"] == "<img src=x onerror=alert(3)> · Example & Co <i>"
    assert hostile["original"] is None, "a javascript: URL is never linked"
    plain = next(r for r in shown if "plain-article" in r["view"])
    assert plain["original"] == "https://example.org/newborn-skin"
    assert question in tab.page.text_content("#status")
    page_markup = "document.querySelectorAll('main img, main script, main b, main i').length"
    assert tab.page.evaluate(page_markup) == 0
    assert tab.page.evaluate("document.scripts.length") == 1
    screenshot(tab.page, "search-untrusted-text-desktop")
    tab.page.locator("#results article.result a.view").first.click()
    wait_state(tab, "cited")
    assert XSS_TEXT in tab.page.text_content("#article-text") or XSS_TEXT not in HOSTILE[0].text
    assert tab.page.evaluate(page_markup) == 0
    assert tab.page.evaluate("document.scripts.length") == 1
    tab.page.goto(f"{hostile_url}/documents/hostile-markup/view")
    wait_state(tab, "article")
    assert tab.page.text_content("#article-text") == HOSTILE[0].text
    assert tab.page.text_content("#article-title") == HOSTILE[0].title
    assert tab.page.locator("#article-links a").count() == 0
    assert tab.dialogs == [], "no script from a document or a query ran"
    assert tab.unexpected_errors() == []


# --- the embeddable example, from another origin ------------------------------------------------------


def test_embed_example_searches_across_origins(
    browser: Any, searcher: Searcher, app_settings: Settings
) -> None:
    with static_server(REPO / "docs") as docs_origin:
        settings = app_settings.model_copy(update={"cors_origins": [docs_origin]})
        with loopback_server(create_app(settings, searcher)) as api:
            tab = Tab.open(browser)
            try:
                tab.page.goto(f"{docs_origin}/embed-example.html?api={api}")
                tab.page.get_by_label("Your question").press_sequentially("what are milia")
                tab.page.wait_for_selector("#citeqa-results li")
                expected = api_search(api, "what are milia", k=3)["results"]
                titles = tab.page.eval_on_selector_all(
                    "#citeqa-results h3", "hs => hs.map(h => h.textContent)"
                )
                assert titles == [r["citation"]["title"] for r in expected]
                link = tab.page.get_attribute("#citeqa-results li a", "href")
                assert link.startswith(f"{api}/documents/")
                screenshot(tab.page, "embed-example-desktop")
                # A request that needs a CORS preflight (JSON POST) is allowed from this origin too.
                status = tab.page.evaluate(
                    """api => fetch(api + '/query', {
                        method: 'POST',
                        headers: {'Content-Type': 'application/json'},
                        body: JSON.stringify({question: 'what are milia', top_k: 2}),
                    }).then(r => r.status)""",
                    api,
                )
                assert status == 200
                assert tab.unexpected_errors() == []
            finally:
                tab.close()


def test_embed_example_is_refused_by_a_server_that_does_not_allow_its_origin(
    browser: Any, live_url: str
) -> None:
    with static_server(REPO / "docs") as docs_origin:
        tab = Tab.open(browser)
        try:
            tab.page.goto(f"{docs_origin}/embed-example.html?api={live_url}")
            tab.page.get_by_label("Your question").press_sequentially("what are milia")
            tab.page.wait_for_function(
                "document.getElementById('citeqa-status').textContent.startsWith('Search failed')"
            )
            assert tab.page.locator("#citeqa-results li").count() == 0
            assert any("CORS" in e for e in tab.errors), tab.errors
        finally:
            tab.close()
