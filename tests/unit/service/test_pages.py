"""The browser pages over HTTP (TestClient): security headers, no inline script or outside resource,
the static modules they load, and the article view's status codes. The browser tests drive them."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient
from support import BAILEY_ID

from service.routes.pages import STATIC_DIR

PAGES = ["/", f"/documents/{BAILEY_ID}/view?start=0&end=10"]


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text inside <script> and <style> elements."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.inline: list[str] = []
        self._open: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._open = tag if tag in {"script", "style"} else None

    def handle_endtag(self, tag: str) -> None:
        self._open = None

    def handle_data(self, data: str) -> None:
        if self._open and data.strip():
            self.inline.append(f"<{self._open}>{data.strip()[:40]}")


def parse(html: str) -> Tags:
    tags = Tags()
    tags.feed(html)
    return tags


@pytest.mark.parametrize("path", PAGES)
def test_pages_send_security_headers(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'" and "unsafe" not in csp
    assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "same-origin"


@pytest.mark.parametrize("path", PAGES)
def test_pages_hold_no_inline_code_and_nothing_from_outside(client: TestClient, path: str) -> None:
    tags = parse(client.get(path).text)
    assert tags.inline == [], "inline <script>/<style> would be blocked by the CSP"
    for tag, attrs in tags.tags:
        assert not [a for a in attrs if a.startswith("on") or a == "style"], (tag, attrs)
        for attr in ("src", "href"):
            value = attrs.get(attr)
            if value is not None and tag in {"script", "link", "img"}:
                assert value.startswith("/static/"), f"{tag} {attr}={value} must come from this server"
    scripts = [attrs for tag, attrs in tags.tags if tag == "script"]
    assert scripts and all(a.get("type") == "module" and a.get("src") for a in scripts)


def test_every_referenced_static_file_is_served(client: TestClient) -> None:
    referenced: set[str] = set()
    for path in PAGES:
        referenced |= {
            value
            for _, attrs in parse(client.get(path).text).tags
            for value in (attrs.get("src"), attrs.get("href"))
            if value and value.startswith("/static/")
        }
    for module in STATIC_DIR.glob("*.js"):
        imports = re.findall(r'from\s+"\./([\w.-]+)"', module.read_text(encoding="utf-8"))
        referenced |= {f"/static/{name}" for name in imports}
    assert "/static/search.js" in referenced and "/static/render.js" in referenced
    types = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
    for path in sorted(referenced):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith(types[path[path.rindex(".") :]]), path
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "no-cache" in response.headers["cache-control"]


def test_static_modules_never_parse_markup() -> None:
    for module in STATIC_DIR.glob("*.js"):
        code = module.read_text(encoding="utf-8")
        for sink in (
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
        ):
            assert sink not in code, f"{module.name} uses {sink}"


def test_view_of_an_unknown_document_is_a_404_page(client: TestClient) -> None:
    response = client.get("/documents/no-such-doc/view?start=0&end=4")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "content-security-policy" in response.headers


@pytest.mark.parametrize("query", ["start=abc&end=4", "start=-1&end=4"])
def test_view_with_unusable_offsets_is_a_clear_422(client: TestClient, query: str) -> None:
    response = client.get(f"/documents/{BAILEY_ID}/view?{query}")
    assert response.status_code == 422
    assert "start" in response.json()["message"]


def test_missing_static_file_is_a_json_404(client: TestClient) -> None:
    response = client.get("/static/nope.js")
    assert response.status_code == 404 and response.json()["error"] == "not_found"


def test_api_docs_keep_working(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    # Served from the package: the page's policy allows this origin only (see tests/integration/
    # test_browser_docs.py for the pages in a browser).
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert "http" not in response.headers["content-security-policy"] and "cdn" not in response.text
    schema = client.get("/openapi.json").json()
    assert "/" not in schema["paths"] and "/search" in schema["paths"]
    params = {p["name"] for p in schema["paths"]["/search"]["get"]["parameters"]}
    assert {"q", "k", "mode", "offset"} <= params
