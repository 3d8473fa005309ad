"""The browser pages: the search page (GET /), the article view (GET /documents/{doc_id}/view) and their
static files (GET /static/...), all served from service/static/ with no build step and nothing external.

The pages are static shells; their ES modules call the JSON API and insert every piece of document or
query text as text nodes. The headers below forbid inline script and any other origin.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

from service.auth import BearerCredentials, may_read
from service.deps import DocumentsDep
from service.limits import cited_doc_id

STATIC_DIR = Path(__file__).parent.parent / "static"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
COMMON_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}
PAGE_HEADERS = {
    **COMMON_HEADERS,
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    # Deploys change the page and its modules together; revalidate instead of mixing versions.
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


def page(name: str, status_code: int = 200) -> FileResponse:
    return FileResponse(
        STATIC_DIR / name, status_code=status_code, media_type="text/html", headers=PAGE_HEADERS
    )


@router.get("/")
def search_page() -> FileResponse:
    return page("index.html")


@router.get("/documents/{doc_id:cited_id}/view", dependencies=[Depends(cited_doc_id)])
def document_view(
    doc_id: str,
    documents: DocumentsDep,
    request: Request,
    credentials: BearerCredentials,
    start: Annotated[int | None, Query(ge=0, description="first cited character")] = None,
    end: Annotated[int | None, Query(ge=0, description="one past the last cited character")] = None,
) -> FileResponse:
    """The article page; its module fetches /documents/{doc_id} and marks text[start:end].

    An unknown document gets the same page with status 404: the page then explains what happened. With
    CITEQA_REQUIRE_KEY_FOR_READS, a request without a valid key gets 200 either way (the page then says
    the key is missing): the status would tell it which doc_ids exist.
    """
    known = doc_id in documents or not may_read(request.app.state.access, credentials)
    return page("view.html", 200 if known else 404)


class StaticPageFiles(StaticFiles):
    """StaticFiles with the security headers and revalidation on every file."""

    def file_response(self, *args: object, **kwargs: object) -> Response:
        response = super().file_response(*args, **kwargs)  # type: ignore[arg-type]
        response.headers.update({**COMMON_HEADERS, "Cache-Control": "no-cache"})
        return response


router.mount("/static", StaticPageFiles(directory=STATIC_DIR), name="static")
