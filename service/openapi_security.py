"""The OpenAPI document states access as service.auth enforces it, per operation.

Every read and write route depends on the bearer scheme, so FastAPI would declare the key on all of
them. Writes always need it; reads only with CITEQA_REQUIRE_KEY_FOR_READS. With public reads, the read
operations (those that depend on ``read_access``) are documented without ``security`` and without the
401 and 403 answers they can then never give: a generated client sends no key, a scanner flags nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from service.auth import read_access
from service.methods import flat_routes


def depends_on(dependant: Dependant, call: Callable[..., Any]) -> bool:
    return any(d.call is call or depends_on(d, call) for d in dependant.dependencies)


def read_operations(app: FastAPI) -> set[tuple[str, str]]:
    """(path, method) of every operation guarded by ``read_access``."""
    return {
        (route.path_format, method.lower())  # the template as OpenAPI writes it ("{doc_id}")
        for route in flat_routes(app.router.routes)
        if isinstance(route, APIRoute) and depends_on(route.dependant, read_access)
        for method in route.methods
    }


def make_reads_public(schema: dict[str, Any], reads: set[tuple[str, str]]) -> None:
    for path, method in reads:
        operation = schema.get("paths", {}).get(path, {}).get(method)
        if operation is None:
            continue
        operation.pop("security", None)
        for status in ("401", "403"):
            operation.get("responses", {}).pop(status, None)


def install_access_documentation(app: FastAPI, require_key_for_reads: bool) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            if not require_key_for_reads:
                make_reads_public(schema, read_operations(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
