"""The OpenAPI document names the filter keys of the index being served.

A filter key is a Document field or a metadata key some document of the index has (citeqa.filters); any
other key is refused with 422. That set changes with the index, so /openapi.json states the current one:
``propertyNames`` of POST /query's ``filters`` and the ``pattern`` of GET /search's ``filter=key:value``,
with the rule that a doc_id is never empty (citeqa.filters refuses it).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI

from citeqa.filters import NEVER_EMPTY


def with_filter_keys(schema: dict[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    """A copy of ``schema`` whose filter parameters accept exactly ``keys``."""
    patched = copy.deepcopy(schema)
    body = patched.get("components", {}).get("schemas", {}).get("QueryRequest", {})
    filters = body.get("properties", {}).get("filters", {})
    fields = [key for key in keys if key in NEVER_EMPTY]  # citeqa.filters refuses an empty value for these
    for option in filters.get("anyOf", [filters]):
        if option.get("type") == "object":
            option["propertyNames"] = {"enum": list(keys)}
            never_empty = {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}}
            option["properties"] = {key: never_empty for key in fields}
    # GET splits filter=key:value at its first colon: an empty key, or one holding a colon, is for POST only.
    pattern = "|".join(
        [
            *(rf"{re.escape(k)}:[\s\S]" for k in fields),  # a value of at least one character, any one
            *(f"{re.escape(k)}:" for k in keys if k and k not in fields and ":" not in k),
        ]
    )
    for parameter in patched.get("paths", {}).get("/search", {}).get("get", {}).get("parameters", []):
        if parameter.get("name") == "filter" and parameter.get("in") == "query":
            parameter["schema"].setdefault("items", {})["pattern"] = f"^(?:{pattern})"
    return patched


def install_filter_keys_documentation(app: FastAPI) -> None:
    generate = app.openapi
    last: dict[tuple[str, ...], dict[str, Any]] = {}

    def openapi() -> dict[str, Any]:
        schema = generate()
        state = getattr(app.state, "citeqa", None)
        if state is None:  # before the index is loaded
            return schema
        keys = tuple(state.searcher.passage_filter.known_keys)
        if keys not in last:
            last.clear()
            last[keys] = with_filter_keys(schema, keys)
        return last[keys]

    app.openapi = openapi  # type: ignore[method-assign]
