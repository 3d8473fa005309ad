"""The FastAPI app factory: the model and index are loaded once, in the lifespan; the routes are the
routers of service/routes/."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.routing import Router

from citeqa import __version__
from citeqa.answers import Answerer
from citeqa.search import Searcher
from citeqa.sharded.local import ShardedLive
from indexer.batching_encoder import ready_for_load
from indexer.live import LiveIndex
from indexer.shards import is_sharded
from service.admission import QueryGate
from service.auth import install_access_policy
from service.cors import JsonCorsMiddleware
from service.deps import AppState
from service.errors import install_error_handlers
from service.head import HeadAsGet
from service.heap import loaded_heap_frozen
from service.limits import BodySizeLimit, SecurityHeaders, WriteAdmission, WriteQueue
from service.methods import MethodGuard
from service.metrics import ServiceMetrics
from service.openapi_filters import install_filter_keys_documentation
from service.openapi_security import install_access_documentation
from service.requestlog import RequestObserver
from service.response_cache import ResponseCache
from service.routes import docs, documents, examples, ops, pages, query
from service.settings import Settings
from service.wiring import (
    answerer_factory,
    build_answerer,
    build_live,
    build_sharded,
    sharded_answerer_factory,
)
from service.write_schemas import DocumentBatch
from service.writes import register_schema

# pages before documents: an id may hold "/" (BEIR ids do), so GET /documents/{doc_id}/view must be tried
# before GET /documents/{doc_id}.
AREAS = (ops, query, examples, pages, documents, docs)


def create_app(
    settings: Settings | None = None,
    searcher: Searcher | None = None,
    answerer: Answerer | None = None,
    live: LiveIndex | None = None,
    open_sharded: Callable[[], tuple[ShardedLive, Answerer]] | None = None,
) -> FastAPI:
    """Build the app; ``searcher`` or ``answerer`` (and ``live``, opened over the answerer's index) may be
    passed to share ones already loaded (tests, embedding, the CLI, which loads them before serving so that
    a bad setting fails fast). The live index is closed (checkpointed) when the app shuts down.

    A sharded index (indexer/shards.py) is served from this process, or through ``open_sharded`` (the Ray
    Serve ingress: shards on other replicas, see service.ray_engine)."""
    settings = settings or Settings()
    # The answerer or searcher passed, held until the app starts and not by the running app (nor by its
    # lifespan's frame): the commit they were opened on stays in memory while anything holds them, whatever
    # writes and merges replaced it. A stopped app holds the answerer of the commit it served last instead.
    given: list[Any] = [answerer, searcher]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        gate = QueryGate(
            settings.max_queued_queries, settings.query_concurrency, settings.retry_after_seconds
        )
        responses = ResponseCache(settings.response_cache_size)
        single = open_sharded is None and (
            any(part is not None for part in (*given, live)) or not is_sharded(settings.index_path)
        )
        if not single:
            sharded, base = open_sharded() if open_sharded is not None else build_sharded(settings)
            make = sharded_answerer_factory(sharded, base)
            ready_for_load(base.searcher.question_encoder)
            first = sharded.current
            opened: Any = sharded
            app.state.citeqa = AppState(opened, make, (first, make(first)), responses, gate)  # type: ignore[arg-type]
        else:
            start = given[0] or build_answerer(settings, given[1])
            given[:] = [None, None]
            opened = live or build_live(settings, start)
            app.state.citeqa = AppState(
                opened, answerer_factory(start), (start.searcher.index, start), responses, gate
            )
            ready_for_load(start.searcher.question_encoder)
            del start
        try:
            with loaded_heap_frozen():
                yield
        finally:
            opened.close()
            if single:
                given[0] = app.state.citeqa.latest[1]

    app = FastAPI(
        title="citeqa",
        version=__version__,
        summary="Questions in, passages with exact citations out.",
        lifespan=lifespan,
        docs_url=None,  # /docs and /redoc: service/routes/docs.py, served with no network
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.write_queue = WriteQueue(settings.max_queued_writes, settings.retry_after_seconds)
    app.state.metrics = ServiceMetrics(app)
    install_access_policy(app, settings)
    install_error_handlers(app)
    builtin = list(app.router.routes)  # /openapi.json, /docs, /redoc
    for area in AREAS:
        app.include_router(area.router)
    register_schema(app, DocumentBatch)
    install_access_documentation(app, settings.require_key_for_reads)
    install_filter_keys_documentation(app)
    # FastAPI keeps an included router as one opaque route; the request log names a request refused before
    # routing (a 413) by matching it against the routes themselves.
    templates = Router([*builtin, *(route for area in AREAS for route in area.router.routes)])
    # Added first runs last: a method the path does not take is refused (405 with Allow) right before
    # routing, after HEAD became GET, so everything outside sees HEAD.
    app.add_middleware(MethodGuard, routes=app.router.routes)
    app.add_middleware(HeadAsGet)
    if settings.cors_origins:
        app.add_middleware(
            JsonCorsMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"],  # every method a route takes
            allow_headers=["Content-Type", "Authorization", "If-None-Match"],
            # Retry-After: a page on another origin reads it on a 503 (queue full) to know when to retry.
            expose_headers=["ETag", "X-Request-ID", "Retry-After"],
        )
    # Added last runs first: headers on every response, then the request id, log line and metrics, then
    # the queue of writes (a 503 before a write's body is read), then the body limit (so a 413 or a 503 is
    # logged and counted too).
    app.add_middleware(
        BodySizeLimit, limit=settings.max_body_bytes, write_limit=settings.max_write_body_bytes
    )
    app.add_middleware(WriteAdmission, queue=app.state.write_queue)
    app.add_middleware(RequestObserver, metrics=app.state.metrics, router=templates)
    app.add_middleware(SecurityHeaders)
    return app
