"""One query, timed, as the API's response body: shared by the HTTP routes and the command line."""

from __future__ import annotations

import time

from fastapi import Response
from pydantic import BaseModel

from citeqa.answers import Answerer
from citeqa.types import SearchMode
from service.response_cache import ResponseCache
from service.schemas import QueryResponse


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


def json_response(body: BaseModel, headers: dict[str, str] | None = None) -> Response:
    """``body`` as JSON, serialized by pydantic in one pass (the same JSON FastAPI would send for it, without
    validating the model again and without the intermediate dict)."""
    return Response(body.model_dump_json(), media_type="application/json", headers=headers)
