"""The question routes, one contract (service.query_contract): POST /query (a JSON body) and GET /search
(a cacheable URL with an ETag that covers every parameter, filters included)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from citeqa.answers import Answerer
from service.caching import SEARCH_CACHE_CONTROL, etag_matches, search_etag
from service.deps import ResponsesDep, StateDep
from service.query_contract import QueryRequest, SearchQuery
from service.querying import run_query
from service.response_cache import ResponseCache
from service.routes import ERROR_RESPONSES, NOT_MODIFIED, READ_ACCESS, READ_RESPONSES, VERSION_RESPONSES
from service.schemas import ErrorOut, QueryResponse

router = APIRouter()


def answer(answerer: Answerer, request: QueryRequest, responses: ResponseCache) -> QueryResponse:
    return run_query(
        answerer,
        request.question,
        request.top_k,
        request.mode,
        request.offset,
        filters=request.filters,
        cache=responses,
    )


@router.post(
    "/query",
    response_model=QueryResponse,
    responses={**ERROR_RESPONSES, **READ_RESPONSES, **VERSION_RESPONSES, 413: {"model": ErrorOut}},
    dependencies=READ_ACCESS,
)
def query(body: QueryRequest, state: StateDep, responses: ResponsesDep) -> QueryResponse:
    return answer(state.answerer_at_least(body.min_version), body, responses)


@router.get(
    "/search",
    response_model=QueryResponse,
    responses={**ERROR_RESPONSES, **NOT_MODIFIED, **READ_RESPONSES, **VERSION_RESPONSES},
    dependencies=READ_ACCESS,
)
def search(
    params: Annotated[SearchQuery, Query()],
    state: StateDep,
    responses: ResponsesDep,
    request: Request,
    response: Response,
) -> QueryResponse | Response:
    asked = params.request()
    answerer = state.answerer_at_least(asked.min_version)
    etag = search_etag(answerer, asked.question, asked.top_k, asked.mode, asked.offset, asked.filters)
    headers = {"ETag": etag, "Cache-Control": SEARCH_CACHE_CONTROL}
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    response.headers.update(headers)
    return answer(answerer, asked, responses)
