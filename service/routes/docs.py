"""The API's documentation, with no network: Swagger UI at /docs and ReDoc at /redoc, both over
/openapi.json. Their JavaScript and CSS come from the installed fastapi-offline package (served under
/docs-assets/); the pages are shells like the search page and files of ours start the viewers, so no
inline script is needed and the Content-Security-Policy names no other origin.

ReDoc needs two allowances, for /redoc only: its styles go into <style> elements, allowed by a nonce drawn
for each response (never 'unsafe-inline'), and its search runs in a Web Worker made from a blob: URL. Its
bundle shows one image from another origin (the Redocly logo); it is served here with that address
pointed at the app's own icon.
"""

from __future__ import annotations

import secrets
from functools import cache
from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, Response

from service.routes.pages import (
    COMMON_HEADERS,
    CONTENT_SECURITY_POLICY,
    PAGE_HEADERS,
    STATIC_DIR,
    StaticPageFiles,
    page,
)

ASSETS_DIR = Path(str(files("fastapi_offline") / "static"))
REDOCLY_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
LOCAL_LOGO = "/static/favicon.svg"

router = APIRouter(include_in_schema=False)


@cache
def redoc_page() -> str:
    return (STATIC_DIR / "redoc.html").read_text(encoding="utf-8")


@cache
def redoc_bundle() -> bytes:
    text = (ASSETS_DIR / "redoc.standalone.js").read_text(encoding="utf-8")
    return text.replace(REDOCLY_LOGO, LOCAL_LOGO).encode("utf-8")


@router.get("/docs")
def swagger_ui() -> FileResponse:
    return page("docs.html")


@router.get("/redoc")
def redoc() -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    policy = CONTENT_SECURITY_POLICY.replace("style-src 'self'", f"style-src 'self' 'nonce-{nonce}'")
    headers = {**PAGE_HEADERS, "Content-Security-Policy": f"{policy}; worker-src 'self' blob:"}
    return HTMLResponse(redoc_page().replace("{nonce}", nonce), headers=headers)


@router.get("/docs-assets/redoc.standalone.js")
def redoc_script() -> Response:
    headers = {**COMMON_HEADERS, "Cache-Control": "no-cache"}
    return Response(redoc_bundle(), media_type="text/javascript; charset=utf-8", headers=headers)


router.mount("/docs-assets", StaticPageFiles(directory=ASSETS_DIR), name="docs-assets")
