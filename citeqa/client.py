"""A small typed Python client of a running citeqa service (httpx, synchronous).

    with CiteqaClient("http://127.0.0.1:8000") as client:
        response = client.query("how do I treat milia?", top_k=3)
        for result in response.results:
            print(result.rank, result.citation.doc_id, result.text[:60])

Results are the query core's dataclasses (citeqa.types) and documents corpus.types.Document, parsed from
the API's JSON (same field names). The API sends neither the answerability features nor highlight scores:
a parsed ``Response`` has empty ``features`` and each ``Highlight`` a ``score`` of 0.0. A 4xx or 5xx answer
raises ``CiteqaClientError`` with the server's ``{"error", "message"}``.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from json import dumps
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from citeqa.types import Answer, Citation, DocumentInfo, Highlight, Response, Result, SearchMode, Snippet
from corpus.types import Document

DEFAULT_TIMEOUT = 60.0
# Longest GET /search URL sent (as the search page's): servers and proxies refuse long request lines (nginx
# at 8 kB by default) and httpx a query over 64 kB, while a question may hold 10,000 characters, up to 90 kB
# percent-encoded. A longer query is asked as POST /query, the same contract with the same answer.
MAX_GET_URL = 8000
Filters = Mapping[str, Sequence[str]]


def document_path(doc_id: str) -> str:
    """The URL path of a document: its id percent-encoded whole ("/", "?", "#" and spaces included). An
    empty id names no document (its path would be the list's, /documents/)."""
    if not doc_id:
        raise ValueError("doc_id is empty; give the id of a document (GET /documents lists them)")
    return f"/documents/{quote(doc_id, safe='')}"


class CiteqaClientError(Exception):
    """The service answered ``status`` (4xx or 5xx) with ``{"error": error, "message": message}``."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(f"{status} {error}: {message}")
        self.status = status
        self.error = error
        self.message = message


@dataclass(frozen=True)
class WriteInfo:
    """The answer to a write: the first index version that contains it."""

    index_version: int
    op: str
    doc_ids: tuple[str, ...]
    embedded_passages: int


def parse_citation(data: Mapping[str, Any]) -> Citation:
    return Citation(
        doc_id=data["doc_id"],
        title=data["title"],
        url=data.get("url"),
        author=data.get("author"),
        publisher=data.get("publisher"),
        start=data["start"],
        end=data["end"],
        page=data.get("page"),
        page_end=data.get("page_end"),
    )


def parse_highlight(data: Mapping[str, Any]) -> Highlight:
    return Highlight(start=data["start"], end=data["end"], score=float(data.get("score", 0.0)))


def parse_result(data: Mapping[str, Any]) -> Result:
    return Result(
        rank=data["rank"],
        score=data["score"],
        text=data["text"],
        citation=parse_citation(data["citation"]),
        passage_ids=(),  # the API does not expose passage ids
        highlights=tuple(parse_highlight(h) for h in data.get("highlights", ())),
        relevance=data.get("relevance"),
        snippet=parse_snippet(data["snippet"]) if data.get("snippet") else None,
    )


def parse_snippet(data: Mapping[str, Any]) -> Snippet:
    return Snippet(start=data["start"], end=data["end"], text=data["text"])


def parse_answer(data: Mapping[str, Any]) -> Answer:
    return Answer(text=data["text"], score=data["score"], citation=parse_citation(data["citation"]))


def parse_response(data: Mapping[str, Any]) -> Response:
    return Response(
        question=data["question"],
        mode=data["mode"],
        results=tuple(parse_result(r) for r in data["results"]),
        answer=parse_answer(data["answer"]) if data.get("answer") else None,
        answerable=data["answerable"],
        confidence=data["confidence"],
        features={},
        offset=data.get("offset", 0),
        has_more=data.get("has_more", False),
        index_version=data.get("index_version", 1),
    )


def parse_document_info(data: Mapping[str, Any]) -> DocumentInfo:
    values = {f.name: data.get(f.name) for f in fields(DocumentInfo)}
    return DocumentInfo(**{**values, "metadata": dict(data.get("metadata") or {})})


def parse_document(data: Mapping[str, Any]) -> Document:
    return Document(
        doc_id=data["doc_id"],
        title=data["title"],
        text=data["text"],
        author=data.get("author"),
        publisher=data.get("publisher"),
        url=data.get("url"),
        provenance=data.get("provenance"),
        metadata=dict(data.get("metadata") or {}),
        page_starts=tuple(data.get("page_starts") or ()),
    )


def parse_write(data: Mapping[str, Any]) -> WriteInfo:
    return WriteInfo(
        index_version=data["index_version"],
        op=data["op"],
        doc_ids=tuple(data["doc_ids"]),
        embedded_passages=data["embedded_passages"],
    )


def document_body(document: Document) -> dict[str, Any]:
    """POST /documents' record of ``document`` (the server sets provenance itself)."""
    body: dict[str, Any] = {
        "doc_id": document.doc_id,
        "title": document.title,
        "text": document.text,
        "author": document.author,
        "publisher": document.publisher,
        "url": document.url,
        "metadata": dict(document.metadata),
    }
    if document.page_starts:
        body["page_starts"] = list(document.page_starts)
    return body


def error_of(response: httpx.Response) -> CiteqaClientError:
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        return CiteqaClientError(response.status_code, "http_error", response.text or response.reason_phrase)
    return CiteqaClientError(
        response.status_code, str(payload.get("error", "http_error")), str(payload.get("message", ""))
    )


def with_base_url_hint(error: CiteqaClientError, base_url: str) -> CiteqaClientError:
    """A 404 "no such endpoint" from a client whose URL holds a path (``--url http://host:8000/search``):
    the client appends the endpoints to the base URL, so say to give that alone."""
    url = httpx.URL(base_url)
    if error.status != 404 or not error.message.startswith("no such endpoint") or url.path in ("", "/"):
        return error
    root = f"{url.scheme}://{url.netloc.decode('ascii')}"
    return CiteqaClientError(
        error.status,
        error.error,
        f"{error.message}; the URL {base_url} holds the path {url.path}: if that is not the service's base "
        f"URL (behind a proxy it may be), give the base URL ({root}), the client adds the endpoint",
    )


def listed(filters: Filters) -> Filters:
    """``filters`` as given, once each key's values are a list (or another sequence) of strings: a string
    is a sequence of its characters, so {"doc_id": "my-doc"} would filter by "m", "y", ... and match
    nothing."""
    for key, values in filters.items():
        if isinstance(values, str):
            raise ValueError(
                f"filters[{key!r}] is a string; give a list of values: {{{key!r}: [{values!r}]}}"
            )
    return filters


def json_content(body: Any) -> bytes:
    """``body`` as JSON in UTF-8, as httpx sends it; text that UTF-8 cannot hold (an unpaired surrogate, as
    from undecodable bytes on a command line) as JSON escapes, so that the service says what is wrong with
    it (a 422 naming the field) instead of the client failing to encode it."""
    try:
        return dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
    except UnicodeEncodeError:
        return dumps(body, separators=(",", ":"), allow_nan=False).encode()


def utf8_encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def fits_a_url(params: Sequence[tuple[str, str | int]], filters: Filters | None) -> bool:
    """True when GET /search can carry the query: its URL at most ``MAX_GET_URL`` characters and every
    filter key one that ``filter=key:value`` splits back out (not empty, no colon), its text all UTF-8."""
    if any(not key or ":" in key for key in filters or {}):
        return False
    if not all(utf8_encodable(str(value)) for _, value in params):
        return False  # a URL carries UTF-8 only: POST's JSON escapes it, and the service says what is wrong
    return len(f"/search?{httpx.QueryParams(params)}") <= MAX_GET_URL


def redirected(response: httpx.Response, asked: str) -> CiteqaClientError:
    """A redirect (3xx with a Location) said as one: the client does not follow it (a POST would lose its
    body, a key would go to another host), so the base URL should be where it leads."""
    target = response.url.join(response.headers["location"])
    return CiteqaClientError(
        response.status_code,
        "redirect",
        f"{asked} answered {response.status_code}, a redirect to {target}; the client does not follow "
        f"redirects: give it the service's URL as it is there (an http:// URL served as https://, say)",
    )


class CiteqaClient:
    """A running citeqa service at ``base_url``; ``api_key`` is sent as ``Authorization: Bearer`` (writes
    need one; reads too when the service sets CITEQA_REQUIRE_KEY_FOR_READS). Network failures raise
    ``httpx.HTTPError``; the service's refusals ``CiteqaClientError``."""

    def __init__(self, base_url: str, api_key: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.base_url = base_url.rstrip("/")
        self.http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)

    def __enter__(self) -> CiteqaClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def request(self, method: str, path: str, json: Any = None, **kwargs: Any) -> Any:
        """One request (``json``: its body); its JSON answer, or ``CiteqaClientError`` for a 4xx or 5xx."""
        if json is not None:
            kwargs["content"] = json_content(json)
            kwargs["headers"] = {**kwargs.get("headers", {}), "Content-Type": "application/json"}
        response = self.http.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise with_base_url_hint(error_of(response), self.base_url)
        if response.is_redirect:
            raise redirected(response, f"{method} {path}")
        if "json" not in response.headers.get("content-type", ""):
            # e.g. the article page: GET /documents/{id} of an id that ends in "/view" is that page.
            raise CiteqaClientError(
                response.status_code,
                "not_json",
                f"{method} {path} answered {response.headers.get('content-type', 'no content type')}, not "
                "JSON; is the URL a citeqa service's API?",
            )
        return response.json()

    def query(
        self,
        question: str,
        top_k: int = 5,
        mode: SearchMode = "hybrid",
        offset: int = 0,
        filters: Filters | None = None,
        min_version: int = 0,
    ) -> Response:
        """POST /query; ``filters`` maps a key to its allowed values; ``min_version``: the index version a
        write returned, to read that write (or later) from any worker."""
        body: dict[str, Any] = {"question": question, "top_k": top_k, "mode": mode, "offset": offset}
        if min_version:
            body["min_version"] = min_version
        if filters is not None:
            body["filters"] = {key: list(values) for key, values in listed(filters).items()}
        return parse_response(self.request("POST", "/query", json=body))

    def search(
        self,
        q: str,
        k: int = 5,
        mode: SearchMode = "hybrid",
        offset: int = 0,
        filters: Filters | None = None,
        min_version: int = 0,
    ) -> Response:
        """GET /search: the same query as a URL (filters sent as repeated ``filter=key:value``). A query a
        URL cannot carry is asked as POST /query, which answers the same body (as the search page does): a
        URL longer than ``MAX_GET_URL`` (a long pasted question), or a filter key that holds a colon or is
        empty (GET splits ``filter`` at its first colon)."""
        params: list[tuple[str, str | int]] = [("q", q), ("k", k), ("mode", mode), ("offset", offset)]
        if min_version:
            params.append(("min_version", min_version))
        for key, values in listed(filters or {}).items():
            params.extend(("filter", f"{key}:{value}") for value in values)
        if not fits_a_url(params, filters):
            return self.query(q, top_k=k, mode=mode, offset=offset, filters=filters, min_version=min_version)
        return parse_response(self.request("GET", "/search", params=params))

    def documents(self, page_size: int = 1000) -> list[DocumentInfo]:
        """Every stored document's metadata, read a page (GET /documents?offset=&limit=) at a time."""
        listed: list[DocumentInfo] = []
        offset: int | None = 0
        while offset is not None:
            page = self.request("GET", "/documents", params={"offset": offset, "limit": page_size})
            listed += [parse_document_info(d) for d in page["documents"]]
            offset = page.get("next_offset")  # a service before paging sent every document at once
        return listed

    def document(self, doc_id: str) -> Document:
        return parse_document(self.request("GET", document_path(doc_id)))

    def add(self, items: Sequence[Document] | Sequence[Path]) -> WriteInfo:
        """Add (or replace, by doc_id) documents in one write: ``Document``s as a JSON batch, or files
        (.txt, .md, .html, .pdf, .docx) uploaded as multipart form parts that the service reads."""
        if isinstance(items, str | Path | Document):  # one item: a string would be read as its characters
            raise TypeError(f"add takes a list of Documents or of file paths; give [{items!r}]")
        if all(isinstance(item, Document) for item in items):
            batch = [document_body(d) for d in items if isinstance(d, Document)]
            return parse_write(self.request("POST", "/documents", json={"documents": batch}))
        paths = [Path(item) for item in items if not isinstance(item, Document)]
        if len(paths) != len(items):
            raise TypeError("add takes Documents or file paths, not both")
        files = [
            ("file", (p.name, p.read_bytes(), mimetypes.guess_type(p.name)[0] or "application/octet-stream"))
            for p in paths
        ]
        return parse_write(self.request("POST", "/documents", files=files))

    def remove(self, doc_ids: Sequence[str]) -> WriteInfo:
        """Remove documents, one DELETE each (an id given twice once); the last write's answer. As a write
        into the folder does, it removes nothing when one of them is not stored: each is looked up (HEAD)
        before the first DELETE. One that disappears meanwhile fails the call naming those removed."""
        if isinstance(doc_ids, str) or not doc_ids:
            raise ValueError("remove takes a non-empty list of doc_ids")
        unique = list(dict.fromkeys(doc_ids))
        for doc_id in unique:
            # A JSON 404 (GET of an id ending in "/view" is an article page, and DELETE reaches that id).
            looked = self.http.head(document_path(doc_id))
            if looked.status_code == 404 and "json" in looked.headers.get("content-type", ""):
                # Its DELETE removes nothing, and says what the service says first (a key missing: 401).
                try:
                    self.request("DELETE", document_path(doc_id))
                except CiteqaClientError as err:
                    raise CiteqaClientError(
                        err.status, err.error, f"{err.message} (nothing was removed)"
                    ) from None
        written: list[WriteInfo] = []
        for doc_id in unique:
            try:
                written.append(parse_write(self.request("DELETE", document_path(doc_id))))
            except CiteqaClientError as err:
                if not written:
                    raise
                done = ", ".join(repr(d) for w in written for d in w.doc_ids)
                raise CiteqaClientError(
                    err.status, err.error, f"{err.message} (removed before it: {done})"
                ) from None
        return WriteInfo(
            index_version=written[-1].index_version,
            op="delete",
            doc_ids=tuple(d for w in written for d in w.doc_ids),
            embedded_passages=sum(w.embedded_passages for w in written),
        )

    def health(self) -> dict[str, Any]:
        """GET /health: ``{"status": "ok", "index": {...}, "message": None}`` ("degraded", with a message,
        while the service cannot open its index folder)."""
        return dict(self.request("GET", "/health"))
