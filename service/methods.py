"""Method dispatch as the OpenAPI document states it, before routing.

A path's methods are those of its most specific route template: a literal segment beats a {parameter}, so
/documents/upload is POST only, never the GET, PUT or DELETE of /documents/{doc_id} with doc_id "upload".
Any other method gets 405 with an ``Allow`` header that lists every method of the path (HEAD wherever GET
is), and OPTIONS answers 204 with that header. Paths no route matches, and mounts (/static), pass through.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from service.errors import error_body


def flat_routes(routes: Iterable[BaseRoute]) -> Iterator[BaseRoute]:
    """Every route, the routes of included routers (FastAPI keeps them in their own router) among them."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from flat_routes(included.routes)
        else:
            yield route


def path_methods(routes: Iterable[BaseRoute], path: str) -> tuple[frozenset[str], Route] | None:
    """The methods of ``path`` (HEAD and OPTIONS included) and a route of its most specific template, or
    None when no route, or a mount or a route of any method, serves it."""
    matching: list[Route] = []
    for route in routes:
        if isinstance(route, Mount) and route.path_regex.match(path):
            return None
        if isinstance(route, Route) and route.path_regex.match(path):
            matching.append(route)
    if not matching:
        return None
    fewest = min(len(route.param_convertors) for route in matching)
    chosen = [route for route in matching if len(route.param_convertors) == fewest]
    if any(route.methods is None for route in chosen):
        return None
    methods = {method for route in chosen for method in route.methods or ()}
    methods |= {"HEAD", "OPTIONS"} if "GET" in methods else {"OPTIONS"}
    return frozenset(methods), chosen[0]


def allow_header(methods: frozenset[str]) -> str:
    order = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    return ", ".join(sorted(methods, key=lambda m: (order.index(m) if m in order else len(order), m)))


class MethodGuard:
    """405 (with Allow) for a method the path does not take, 204 (with Allow) for OPTIONS."""

    def __init__(self, app: ASGIApp, routes: Iterable[BaseRoute]) -> None:
        self.app = app
        self._routes = routes  # read at the first request: routes may be added after the middleware
        self._flat: list[BaseRoute] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._flat is None:
            self._flat = list(flat_routes(self._routes))
        found = path_methods(self._flat, scope["path"])
        method = scope["method"]
        if found is None or (method in found[0] and method != "OPTIONS"):
            await self.app(scope, receive, send)
            return
        methods, route = found
        scope["route"] = route  # so the request log and metrics name the route
        headers = {"Allow": allow_header(methods)}
        response: Response
        if method == "OPTIONS":
            response = Response(status_code=204, headers=headers)
        else:
            message = f"{method} is not allowed on {scope['path']}; it takes {headers['Allow']} (see /docs)"
            response = JSONResponse(
                status_code=405, content=error_body("method_not_allowed", message), headers=headers
            )
        await response(scope, receive, send)
