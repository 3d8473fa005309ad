"""HTTP caching of GET /search: a validator (ETag) derived from what decides the answer.

The ETag is weak (W/"..."): two answers with the same tag hold the same passages, scores and citations,
but took_ms differs from one computation to the next. It hashes the index manifest (which changes with
every build: checksums, counts, creation time), everything else that decides an answer (fusion, reranker,
calibration, near-duplicate rule: Answerer.settings_view), the package version (the response format) and
the normalized request (filters included), so it changes whenever the index or the answer could.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any
from weakref import WeakKeyDictionary

from citeqa import __version__
from citeqa.answers import Answerer
from citeqa.paging import PAGE_DEPTH

SEARCH_CACHE_CONTROL = "public, max-age=60"
# With CITEQA_REQUIRE_KEY_FOR_READS an answer is for key holders only: "public" would let a shared cache (a
# proxy, a CDN) store it and hand it to a request without a key (RFC 9111 3.5), so only the client keeps it.
KEYED_SEARCH_CACHE_CONTROL = "private, max-age=60"


def search_cache_control(keyed_reads: bool) -> str:
    """GET /search's Cache-Control: shared caches may keep it unless reading needs an API key."""
    return KEYED_SEARCH_CACHE_CONTROL if keyed_reads else SEARCH_CACHE_CONTROL


def index_identity(manifest: dict[str, Any]) -> str:
    """A hash of the index manifest: the identity of one built index."""
    return hashlib.sha256(json.dumps(manifest, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


# What decides an answer besides the request, hashed once per answerer (one per index snapshot; its settings
# never change): hashing the manifest for every GET /search cost more than the rest of the tag.
_ANSWERER_IDENTITY: WeakKeyDictionary[Answerer, str] = WeakKeyDictionary()


def answerer_identity(answerer: Answerer) -> str:
    identity = _ANSWERER_IDENTITY.get(answerer)
    if identity is None:
        manifest = answerer.searcher.index.manifest
        key = [__version__, index_identity(manifest), answerer.settings_view(), PAGE_DEPTH]
        identity = hashlib.sha256(json.dumps(key, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
        _ANSWERER_IDENTITY[answerer] = identity
    return identity


def search_etag(
    answerer: Answerer,
    question: str,
    k: int,
    mode: str,
    offset: int,
    filters: Mapping[str, Sequence[str]] | None = None,
) -> str:
    # Filters in a canonical form: the order of keys, and of values within a key, changes nothing.
    canonical = sorted((key, sorted(set(values))) for key, values in (filters or {}).items())
    key = [answerer_identity(answerer), question.strip(), k, mode, offset, canonical]
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return f'W/"{digest[:32]}"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """True when an If-None-Match header names ``etag`` (weak comparison, RFC 9110 13.1.2) or is ``*``."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    wanted = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == wanted for tag in if_none_match.split(","))
