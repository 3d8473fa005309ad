"""Operations: GET /health (the process is up, and what it serves), GET /ready (200 when an index is
loaded and a real one-passage query answers, else 503 saying why) and GET /metrics (Prometheus)."""

from __future__ import annotations

import logging
import time

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from citeqa.answerability import calibration_summary
from citeqa.question_tower import question_side
from corpus.errors import CiteqaError
from indexer.errors import IndexMismatchError
from service.deps import LoadedStateDep, MetricsDep, StateDep
from service.schemas import HealthOut, ReadyOut

PROBE_QUESTION = "ready"
logger = logging.getLogger("citeqa.service")

router = APIRouter()


@router.get("/health", response_model=HealthOut)
def health(state: StateDep) -> HealthOut:
    # The process is up whatever the index folder says: while it cannot be opened (queries and /ready get
    # 503 naming why), /health describes the commit last served and says what is wrong, so that a liveness
    # probe does not restart a process that a fixed folder would bring back.
    try:
        answerer, problem = state.answerer, None
    except IndexMismatchError as err:
        answerer, problem = state.latest[1], str(err)
    searcher = answerer.searcher
    manifest = searcher.index.manifest
    calibration = answerer.calibration
    return HealthOut(
        status="ok" if problem is None else "degraded",
        message=problem,
        index={
            "path": str(searcher.index.path.name),
            "documents": manifest["counts"]["documents"],
            "passages": manifest["counts"]["passages"],
            "model": manifest["model"]["name"],
            "dimension": manifest["model"]["dimension"],
            "built_at": manifest["created_at"],
            "fusion": searcher.fusion.method,
            "reranker": searcher.reranker is not None,
            "questions": question_side(searcher.question_encoder, searcher.encoder),
            "calibration": None
            if calibration is None
            else calibration_summary(calibration, searcher.index.path),
        },
    )


def not_ready(message: str) -> JSONResponse:
    return JSONResponse(status_code=503, content=ReadyOut(status="not_ready", message=message).model_dump())


@router.get("/ready", response_model=ReadyOut, responses={503: {"model": ReadyOut}})
def ready(state: LoadedStateDep) -> ReadyOut | JSONResponse:
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


@router.get("/metrics", include_in_schema=False)
def metrics(service_metrics: MetricsDep) -> Response:
    """Prometheus text exposition of this app's registry."""
    return Response(generate_latest(service_metrics.registry), media_type=CONTENT_TYPE_LATEST)
