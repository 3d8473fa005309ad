"""The question routes, one contract (service.query_contract): POST /query (a JSON body) and GET /search
(a cacheable URL with an ETag that covers every parameter, filters included).

Both pass the query gate (service.admission: a bounded queue, 503 when full; a query whose client left is
not computed) and answer in a worker thread, where the response body is serialized once by pydantic (the
route builds a validated QueryResponse; FastAPI does not validate it again)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from citeqa.answers import Answerer
from service.caching import etag_matches, search_cache_control, search_etag
from service.deps import GateDep, ResponsesDep, SettingsDep, StateDep
from service.limits import no_query_parameters
from service.query_contract import QueryRequest, SearchQuery, check_single_fields
from service.querying import json_response, run_query
from service.response_cache import ResponseCache
from service.routes import (
    INVALID_RESPONSES,
    NOT_MODIFIED,
    READ_ACCESS,
    READ_RESPONSES,
    VERSION_RESPONSES,
)
from service.schemas import ErrorOut, QueryResponse

router = APIRouter()
OVERLOADED = {
    503: {"model": ErrorOut, "description": "too many queries in progress: retry after Retry-After"}
}


def answer(
    answerer: Answerer, request: QueryRequest, responses: ResponseCache, headers: dict[str, str] | None = None
) -> Response:
    computed = run_query(
        answerer,
        request.question,
        request.top_k,
        request.mode,
        request.offset,
        filters=request.filters,
        cache=responses,
    )
    return json_response(computed, headers)


@router.post(
    "/query",
    response_model=QueryResponse,
    responses={  # no 404: a filter that matches nothing answers an empty page
        **INVALID_RESPONSES,
        **READ_RESPONSES,
        **VERSION_RESPONSES,
        **OVERLOADED,
        413: {"model": ErrorOut},
    },
    dependencies=[
        *READ_ACCESS,
        Depends(
            no_query_parameters(
                "send question, top_k, mode, offset, filters and min_version in the JSON body "
                "(GET /search takes them in the URL)"
            )
        ),
    ],
)
async def query(
    body: QueryRequest, state: StateDep, responses: ResponsesDep, gate: GateDep, request: Request
) -> Response:
    check_single_fields(await request.body())
    answerer = state.answerer_at_least(body.min_version)
    return await gate.run(request, lambda: answer(answerer, body, responses))


@router.get(
    "/search",
    response_model=QueryResponse,
    responses={**INVALID_RESPONSES, **NOT_MODIFIED, **READ_RESPONSES, **VERSION_RESPONSES, **OVERLOADED},
    dependencies=READ_ACCESS,
)
async def search(
    params: Annotated[SearchQuery, Query()],
    state: StateDep,
    responses: ResponsesDep,
    gate: GateDep,
    settings: SettingsDep,
    request: Request,
) -> Response:
    SearchQuery.check_encoding(request.scope["query_string"])
    SearchQuery.check_single([name for name, _ in request.query_params.multi_items()])
    asked = params.request()
    answerer = state.answerer_at_least(asked.min_version)
    etag = search_etag(answerer, asked.question, asked.top_k, asked.mode, asked.offset, asked.filters)
    headers = {"ETag": etag, "Cache-Control": search_cache_control(settings.require_key_for_reads)}
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return await gate.run(request, lambda: answer(answerer, asked, responses, headers))
