"""Request ids and one structured log line per request; the same observation feeds the metrics.

The id comes from the client's X-Request-ID when it is printable and at most 128 characters, else a new
uuid4 hex; it is echoed in the response's X-Request-ID header and carried by every log record of the
request (``request_id`` attribute, via a context variable).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime

from starlette.datastructures import Headers, MutableHeaders
from starlette.routing import Match, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from citeqa.timing import listen_to_stages
from service.errors import internal_error_response
from service.metrics import ServiceMetrics

REQUEST_ID_HEADER = "X-Request-ID"
MAX_REQUEST_ID_CHARS = 128
UNMATCHED_ROUTE = "<unmatched>"
# Fields of a record passed with ``extra=`` that the JSON formatter writes out.
EXTRA_FIELDS = ("request_id", "method", "route", "status", "duration_ms")

logger = logging.getLogger("citeqa.access")
current_request_id: ContextVar[str | None] = ContextVar("citeqa_request_id", default=None)


def request_id_from(header: str | None) -> str:
    """The client's id if usable (printable, 1 to 128 characters), else a fresh one."""
    if header and len(header) <= MAX_REQUEST_ID_CHARS and header.isprintable() and header.isascii():
        return header
    return uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    """Puts the current request's id on every record that has none."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the request fields, and the exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in EXTRA_FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                entry[field] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_json_logging(level: int = logging.INFO) -> None:
    """Route the root logger (and uvicorn's) to stderr as JSON lines; used by `citeqa serve`."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Our access log replaces uvicorn's.
    logging.getLogger("uvicorn.access").disabled = True


def route_template(scope: Scope, router: Router | None = None) -> str:
    """The path template of the route that served the request ("/documents/{doc_id}"), never the raw
    path, so that metrics labels stay few."""
    route = scope.get("route")
    router = router or scope.get("router")
    if route is None and router is not None:
        # Plain Starlette routes (/openapi.json, /docs) are not recorded in the scope, and a request refused
        # before routing (413) has none: match it here.
        route = next((r for r in router.routes if r.matches(scope)[0] is Match.FULL), None)
    # path_format: the template without convertors ("/documents/{doc_id}", not "{doc_id:cited_id}")
    return getattr(route, "path_format", None) or getattr(route, "path", None) or UNMATCHED_ROUTE


class RequestObserver:
    """Assigns the request id, times the request, logs it, and records it (and its query stages) in the
    app's metrics."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics, router: Router | None = None) -> None:
        self.app = app
        self.metrics = metrics
        self.router = router

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # A mount (/static) rewrites the scope's path on the way in: match routes on the path as it arrived.
        arrived = dict(scope)
        request_id = request_id_from(Headers(scope=scope).get(REQUEST_ID_HEADER))
        token = current_request_id.set(request_id)
        status = 500
        started = time.perf_counter()
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            with listen_to_stages(self.metrics.observe_stage):
                await self.app(scope, receive, send_with_id)
        except Exception as error:
            # Handled here rather than by Starlette's outermost handler, so the 500 carries the request id
            # and is logged once, with its traceback, under that id.
            logger.exception("unhandled error on %s %s", scope["method"], scope.get("path", ""))
            if not response_started:
                await internal_error_response(error)(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = route_template({**arrived, "route": scope.get("route")}, self.router)
            self.metrics.observe_request(route, scope["method"], status, seconds)
            logger.info(
                "%s %s %s",
                scope["method"],
                route,
                status,
                extra={
                    "request_id": request_id,
                    "method": scope["method"],
                    "route": route,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 3),
                },
            )
            current_request_id.reset(token)
