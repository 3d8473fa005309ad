"""The FastAPI app factory: the model and index are loaded once, in the lifespan; the routes are the
routers of service/routes/."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from citeqa import __version__
from citeqa.answers import Answerer
from citeqa.search import Searcher
from indexer.live import LiveIndex
from service.auth import install_access_policy
from service.deps import AppState
from service.errors import install_error_handlers
from service.head import HeadAsGet
from service.limits import BodySizeLimit, SecurityHeaders
from service.metrics import ServiceMetrics
from service.requestlog import RequestObserver
from service.response_cache import ResponseCache
from service.routes import documents, ops, pages, query
from service.settings import Settings
from service.wiring import answerer_factory, build_answerer, build_live
from service.write_schemas import DocumentBatch
from service.writes import register_schema


def create_app(
    settings: Settings | None = None,
    searcher: Searcher | None = None,
    answerer: Answerer | None = None,
    live: LiveIndex | None = None,
) -> FastAPI:
    """Build the app; ``searcher`` or ``answerer`` (and ``live``, opened over the answerer's index) may be
    passed to share ones already loaded (tests, embedding, the CLI, which loads them before serving so that
    a bad setting fails fast). The live index is closed (checkpointed) when the app shuts down."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        base = answerer or build_answerer(settings, searcher)
        opened = live or build_live(settings, base)
        app.state.citeqa = AppState(
            opened,
            answerer_factory(base),
            (base.searcher.index, base),
            ResponseCache(settings.response_cache_size),
        )
        try:
            yield
        finally:
            opened.close()

    app = FastAPI(
        title="citeqa",
        version=__version__,
        summary="Questions in, passages with exact citations out.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = ServiceMetrics(app)
    install_access_policy(app, settings)
    install_error_handlers(app)
    # Added first runs last: HEAD is served as GET right before routing, so everything outside sees HEAD.
    app.add_middleware(HeadAsGet)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Content-Type", "Authorization", "If-None-Match"],
            expose_headers=["ETag", "X-Request-ID"],
        )
    # Added last runs first: headers on every response, then the request id, log line and metrics, then
    # the body limit (so a 413 is logged and counted too).
    app.add_middleware(
        BodySizeLimit, limit=settings.max_body_bytes, write_limit=settings.max_write_body_bytes
    )
    app.add_middleware(RequestObserver, metrics=app.state.metrics, router=app.router)
    app.add_middleware(SecurityHeaders)
    for area in (ops, query, documents, pages):
        app.include_router(area.router)
    register_schema(app, DocumentBatch)
    return app
