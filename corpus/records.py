"""The one metadata rule, and the checks every document passes, whichever way it came in.

Fields are the loader's sidecar format: ``doc_id``, ``title``, ``author``, ``publisher``, ``url``,
``provenance``, a ``metadata`` object, and any other key, which goes into ``Document.metadata``
(non-string values JSON-encoded). What the fields leave out comes from the file itself
(``corpus.formats.Extracted``): the title is the given one, else the file's own (PDF info, DOCX core
properties, HTML <title>/og:title), else its first heading, else its first line; author, publisher and
url likewise; the file's ``date`` goes into metadata. The text is cleaned by ``corpus.cleaning.clean_text``
(page starts move with it) and must not be empty; the doc_id must follow ``corpus.doc_ids``.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from corpus.cleaning import clean_text
from corpus.doc_ids import check_doc_id
from corpus.errors import CorpusError
from corpus.formats import Extracted
from corpus.formats.text import decode
from corpus.loader import OPTIONAL_FIELDS
from corpus.pages import drop_prefix
from corpus.types import Document
from corpus.unicode_check import LONE_SURROGATE_FIX, field_with_lone_surrogate, is_blank

MAX_DOCUMENT_CHARS = 1_000_000
MAX_DERIVED_TITLE_CHARS = 200
RESERVED_FIELDS = ("doc_id", "title", "text", "metadata", *OPTIONAL_FIELDS)
DERIVED_FIELDS = ("author", "publisher", "url")


def build_document(
    source: str,
    extracted: Extracted,
    fields: Mapping[str, Any],
    *,
    extra: Mapping[str, str],
    fields_source: str | None = None,
) -> Document:
    """Validate ``fields`` (the sidecar format), fill in from ``extracted`` and clean its text. Errors in
    ``fields`` name ``fields_source`` (the sidecar they came from) when given, else ``source``."""
    where = fields_source or source
    text = extracted.text
    if len(text) > MAX_DOCUMENT_CHARS:
        raise CorpusError(
            f"{source}: field 'text' has {len(text):,} characters, more than the {MAX_DOCUMENT_CHARS:,} "
            "allowed; split the document"
        )
    cleaned, fired_rules = clean_text(text)
    if is_blank(cleaned):
        raise CorpusError(
            f"{source}: field 'text' is empty (after conversion and cleaning); add the article text"
        )
    for name in ("title", *OPTIONAL_FIELDS):
        value = fields.get(name)
        if value is not None and not isinstance(value, str):
            raise CorpusError(f"{where}: field '{name}' must be a string or null, not {json_type(value)}")
    derived_title = extracted.title or extracted.heading
    title = (fields.get("title") or "").strip() or short_title(derived_title or first_line(cleaned))
    doc_id = fields.get("doc_id")
    doc_id = hashed_id(cleaned) if doc_id is None else doc_id
    check_doc_id(doc_id, where)
    nested = fields.get("metadata") or {}
    if not isinstance(nested, Mapping):
        raise CorpusError(f"{where}: field 'metadata' must be an object of string values")
    others = {k: v for k, v in fields.items() if k not in RESERVED_FIELDS}
    metadata = {**extracted.metadata}
    metadata.update(metadata_strings({**nested, **others}))
    metadata.update(extra)
    if fired_rules:
        metadata["cleaning_rules"] = ",".join(fired_rules)
    optional = {name: (fields.get(name) or "").strip() or None for name in OPTIONAL_FIELDS}
    for name in DERIVED_FIELDS:
        optional[name] = optional[name] or getattr(extracted, name)
    page_starts = drop_prefix(extracted.page_starts, len(text) - len(cleaned))
    return Document(
        doc_id=doc_id, title=title, text=cleaned, metadata=metadata, page_starts=page_starts, **optional
    )


def slug(name: str) -> str:
    """``name`` made to fit the doc_id rule (``corpus.doc_ids``): accents folded, runs of other characters
    -> '-' (may be '')."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    dashed = re.sub(r"\.{2,}", ".", re.sub(r"[^A-Za-z0-9._-]+", "-", ascii_name))
    return dashed.lstrip("._-").rstrip("-")[:128].rstrip("-")


def hashed_id(text: str) -> str:
    return "doc-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def first_line(text: str) -> str:
    return next(line.strip() for line in text.splitlines() if line.strip())


def short_title(title: str) -> str:
    title = " ".join(title.split())
    if len(title) <= MAX_DERIVED_TITLE_CHARS:
        return title
    cut = title[:MAX_DERIVED_TITLE_CHARS].rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:") + "\u2026"


def read_sidecar(path: Path) -> dict[str, Any]:
    return json_object(decode(read_bytes(path), None, str(path)), str(path), "fix the metadata file")


def json_object(text: str, where: str, fix: str) -> dict[str, Any]:
    """``text`` parsed as one JSON object; a ``CorpusError`` naming ``where`` and saying ``fix`` otherwise."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        problem = f"invalid JSON at line {err.lineno}, column {err.colno}: {err.msg}"
        raise CorpusError(f"{where}: {problem}; {fix}") from None
    except RecursionError:
        raise CorpusError(f"{where}: invalid JSON (nested too deeply); {fix}") from None
    if not isinstance(value, dict):
        raise CorpusError(f"{where}: expected a JSON object, found {json_type(value)}; {fix}")
    bad = field_with_lone_surrogate(value)
    if bad:
        raise CorpusError(f"{where}: field '{bad}': {LONE_SURROGATE_FIX}; {fix}")
    return value


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise CorpusError(
            f"{path}: cannot be read ({err.strerror}); check the path and permissions"
        ) from None


def metadata_strings(values: Mapping[str, object]) -> dict[str, str]:
    """Metadata as stored, however a document was sent (a file's record, JSON lines, the JSON API): a string
    as it is, any other value as JSON (``true`` is "true"), a null left out."""
    return {str(k): as_string(v) for k, v in values.items() if v is not None}


def as_string(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)


def json_type(value: object) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")
