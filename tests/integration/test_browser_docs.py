"""/docs (Swagger UI) and /redoc (ReDoc) render in Chromium from the app alone: every request the pages
make goes to the app's own origin, under a Content-Security-Policy that names no other origin and allows
no inline script, and nothing is logged as an error. Real app on uvicorn (loopback), real index."""

from __future__ import annotations

import httpx
from browser_support import Tab, screenshot


def operation_count(base: str) -> int:
    paths = httpx.get(f"{base}/openapi.json", timeout=30, trust_env=False).json()["paths"]
    return sum(len(ops) for ops in paths.values())


def own_origin(url: str, base: str) -> bool:
    """A request to the app itself (a blob: URL the page made counts as its origin's)."""
    return url.removeprefix("blob:").startswith(f"{base}/")


def wait_for_all(tab: Tab, selector: str, count: int, key: str = "id") -> None:
    """Until ``count`` distinct elements (by ``key``) match; by locators, as the pages' CSP forbids the
    eval that wait_for_function needs."""
    found = tab.page.locator(selector)
    found.nth(count - 1).wait_for(state="attached")
    keys = tab.page.eval_on_selector_all(selector, f"els => els.map(e => e.getAttribute('{key}'))")
    assert len(set(keys)) == count, keys


def load(tab: Tab, base: str, path: str) -> list[str]:
    requested: list[str] = []
    tab.page.on("request", lambda request: requested.append(request.url))
    response = tab.page.goto(f"{base}{path}")
    assert response is not None and response.status == 200
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "http" not in policy
    return requested


def test_swagger_ui_lists_every_operation_offline(tab: Tab, live_url: str) -> None:
    requested = load(tab, live_url, "/docs")
    tab.page.wait_for_selector(".opblock")
    wait_for_all(tab, ".opblock", operation_count(live_url), key="id")
    summaries = tab.page.locator(".opblock-summary-path").all_text_contents()
    assert "/search" in summaries and "/query" in summaries
    tab.page.locator(".opblock-get .opblock-summary", has_text="/search").first.click()
    tab.page.wait_for_selector(".parameters")
    assert "filter" in tab.page.text_content(".parameters")
    screenshot(tab.page, "docs-swagger-desktop")
    assert requested and all(own_origin(url, live_url) for url in requested), requested
    assert tab.unexpected_errors() == [] and tab.dialogs == []


def test_redoc_renders_offline(tab: Tab, live_url: str) -> None:
    requested = load(tab, live_url, "/redoc")
    tab.page.wait_for_selector("[data-section-id]")
    wait_for_all(tab, '[data-section-id^="operation/"]', operation_count(live_url), key="data-section-id")
    assert "Questions in, passages with exact citations out." in tab.page.text_content("body")
    tab.page.wait_for_timeout(500)  # the search worker starts after the first render
    screenshot(tab.page, "docs-redoc-desktop")
    assert requested and all(own_origin(url, live_url) for url in requested), requested
    assert tab.unexpected_errors() == [] and tab.dialogs == []


def test_the_search_page_footer_links_the_local_docs(tab: Tab, live_url: str) -> None:
    tab.page.goto(f"{live_url}/")
    tab.page.wait_for_selector('body[data-state="empty"]')
    assert tab.page.get_attribute("footer a", "href") == "/docs"
