"""GET /ready: 200 when an index is loaded and a real one-passage query answers, else 503 saying why.
(GET /health, in service/app.py, only says the process is up and what it serves.)"""

from __future__ import annotations

import logging
import time

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from corpus.errors import CiteqaError

PROBE_QUESTION = "ready"
logger = logging.getLogger("citeqa.service")


class ReadyOut(BaseModel):
    status: str
    message: str
    documents: int | None = None
    passages: int | None = None
    took_ms: float | None = None


router = APIRouter()


def not_ready(message: str) -> JSONResponse:
    return JSONResponse(status_code=503, content=ReadyOut(status="not_ready", message=message).model_dump())


@router.get("/ready", response_model=ReadyOut, responses={503: {"model": ReadyOut}})
def ready(request: Request) -> ReadyOut | JSONResponse:
    state = getattr(request.app.state, "citeqa", None)
    if state is None:
        return not_ready("no index loaded yet; the service is starting or failed to load its index")
    searcher = state.searcher
    started = time.perf_counter()
    try:
        searcher.search(PROBE_QUESTION, 1, "hybrid")
    except CiteqaError as err:
        return not_ready(f"a probe query failed: {err}")
    except Exception:
        logger.exception("readiness probe query failed")
        return not_ready("a probe query failed; see server log")
    return ReadyOut(
        status="ready",
        message="index loaded and a probe query answered",
        documents=len(searcher.index.documents),
        passages=len(searcher.index.passages),
        took_ms=round((time.perf_counter() - started) * 1000, 3),
    )


def install_probes(app: FastAPI) -> None:
    app.include_router(router)
