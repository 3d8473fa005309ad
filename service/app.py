"""The FastAPI app factory: the model and index are loaded once, in the lifespan."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, FastAPI, Query, Request, Response
from fastapi.middleware.cors import CORSMiddleware

from citeqa import __version__
from citeqa.answers import Answerer
from citeqa.paging import PAGE_DEPTH
from citeqa.search import MAX_QUESTION_CHARS, MAX_TOP_K, Searcher
from citeqa.types import SearchMode
from indexer.errors import DocumentNotFoundError
from indexer.live import LiveIndex
from indexer.load import LoadedIndex
from service.auth import ReadAccess, install_access_policy
from service.caching import SEARCH_CACHE_CONTROL, etag_matches, search_etag
from service.errors import install_error_handlers
from service.limits import BodySizeLimit, SecurityHeaders, valid_doc_id
from service.metrics import install_metrics
from service.pages import install_pages
from service.probes import install_probes
from service.requestlog import RequestObserver
from service.response_cache import ResponseCache
from service.schemas import (
    DocumentList,
    DocumentOut,
    DocumentSummary,
    ErrorOut,
    HealthOut,
    QueryRequest,
    QueryResponse,
)
from service.settings import Settings
from service.wiring import answerer_factory, build_answerer, build_live
from service.writes import WriteLimits, install_write_routes

ERROR_RESPONSES = {404: {"model": ErrorOut}, 422: {"model": ErrorOut}}
READ_RESPONSES = {401: {"model": ErrorOut}, 403: {"model": ErrorOut}}
READ_ACCESS = [ReadAccess]  # a key is needed only with CITEQA_REQUIRE_KEY_FOR_READS (see service/auth.py)
NOT_MODIFIED = {304: {"description": "not modified: If-None-Match named the current ETag"}}


@dataclass
class AppState:
    """The live index and the answerer of its current snapshot. A request reads ``answerer`` once and uses
    only that: one index version per response, whatever writes land meanwhile. ``responses`` is keyed by
    index version, so a write never lets an older answer out."""

    live: LiveIndex
    make_answerer: Callable[[LoadedIndex], Answerer]
    latest: tuple[LoadedIndex, Answerer]
    responses: ResponseCache

    @property
    def answerer(self) -> Answerer:
        index = self.live.current
        latest = self.latest
        if latest[0] is not index:
            latest = (index, self.make_answerer(index))
            self.latest = latest  # one assignment: a concurrent reader sees the old or the new pair
        return latest[1]

    @property
    def searcher(self) -> Searcher:
        return self.answerer.searcher


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
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Content-Type", "Authorization", "If-None-Match"],
            expose_headers=["ETag", "X-Request-ID"],
        )
    install_error_handlers(app)
    install_access_policy(app, settings)
    metrics = install_metrics(app)
    install_probes(app)
    # Added last runs first: headers on every response, then the request id, log line and metrics, then
    # the body limit (so a 413 is logged and counted too).
    app.add_middleware(
        BodySizeLimit, limit=settings.max_body_bytes, write_limit=settings.max_write_body_bytes
    )
    app.add_middleware(RequestObserver, metrics=metrics, router=app.router)
    app.add_middleware(SecurityHeaders)
    add_routes(app)
    install_write_routes(app, WriteLimits(settings.max_document_chars, settings.max_bulk_documents))
    install_pages(app)
    return app


def get_searcher(request: Request) -> Searcher:
    return request.app.state.citeqa.searcher


def get_answerer(request: Request) -> Answerer:
    return request.app.state.citeqa.answerer


def get_responses(request: Request) -> ResponseCache:
    return request.app.state.citeqa.responses


SearcherDep = Annotated[Searcher, Depends(get_searcher)]
AnswererDep = Annotated[Answerer, Depends(get_answerer)]
ResponsesDep = Annotated[ResponseCache, Depends(get_responses)]


def run_query(
    answerer: Answerer,
    question: str,
    top_k: int,
    mode: SearchMode,
    offset: int = 0,
    filters: dict[str, list[str]] | None = None,
    cache: ResponseCache | None = None,
) -> QueryResponse:
    started = time.perf_counter()
    if cache is None:
        response = answerer.respond(question, top_k, mode, offset, filters)
    else:
        response = cache.respond(answerer, question, top_k, mode, offset, filters)
    took_ms = (time.perf_counter() - started) * 1000
    # The question is echoed as sent (the library strips it).
    return QueryResponse.from_response(response, round(took_ms, 3)).model_copy(update={"question": question})


def add_routes(app: FastAPI) -> None:
    @app.post(
        "/query",
        response_model=QueryResponse,
        responses={**ERROR_RESPONSES, **READ_RESPONSES, 413: {"model": ErrorOut}},
        dependencies=READ_ACCESS,
    )
    def query(body: QueryRequest, answerer: AnswererDep, responses: ResponsesDep) -> QueryResponse:
        return run_query(
            answerer, body.question, body.top_k, body.mode, filters=body.filters, cache=responses
        )

    @app.get(
        "/search",
        response_model=QueryResponse,
        responses={**ERROR_RESPONSES, **NOT_MODIFIED, **READ_RESPONSES},
        dependencies=READ_ACCESS,
    )
    def search(
        answerer: AnswererDep,
        responses: ResponsesDep,
        request: Request,
        response: Response,
        q: Annotated[str, Query(min_length=1, max_length=MAX_QUESTION_CHARS, description="the question")],
        k: Annotated[int, Query(ge=1, le=MAX_TOP_K, description="how many passages")] = 5,
        mode: SearchMode = "hybrid",
        offset: Annotated[int, Query(ge=0, le=PAGE_DEPTH, description="results to skip (paging)")] = 0,
    ) -> QueryResponse | Response:
        headers = {"ETag": search_etag(answerer, q, k, mode, offset), "Cache-Control": SEARCH_CACHE_CONTROL}
        if etag_matches(request.headers.get("if-none-match"), headers["ETag"]):
            return Response(status_code=304, headers=headers)
        response.headers.update(headers)
        return run_query(answerer, q, k, mode, offset, cache=responses)

    @app.get("/documents", response_model=DocumentList, responses=READ_RESPONSES, dependencies=READ_ACCESS)
    def documents(searcher: SearcherDep) -> DocumentList:
        docs = searcher.index.documents.values()
        return DocumentList(documents=[DocumentSummary.from_document(d) for d in docs])

    @app.get(
        "/documents/{doc_id}",
        response_model=DocumentOut,
        responses={**ERROR_RESPONSES, **READ_RESPONSES},
        dependencies=[*READ_ACCESS, Depends(valid_doc_id)],
    )
    def document(doc_id: str, searcher: SearcherDep) -> DocumentOut:
        found = searcher.index.documents.get(doc_id)
        if found is None:
            raise DocumentNotFoundError(f"no document with doc_id {doc_id!r}; GET /documents lists them")
        return DocumentOut(**DocumentSummary.from_document(found).model_dump(), text=found.text)

    @app.get("/health", response_model=HealthOut)
    def health(searcher: SearcherDep) -> HealthOut:
        manifest = searcher.index.manifest
        return HealthOut(
            status="ok",
            index={
                "path": str(searcher.index.path.name),
                "documents": manifest["counts"]["documents"],
                "passages": manifest["counts"]["passages"],
                "model": manifest["model"]["name"],
                "dimension": manifest["model"]["dimension"],
                "built_at": manifest["created_at"],
                "fusion": searcher.fusion.method,
                "reranker": searcher.reranker is not None,
            },
        )
