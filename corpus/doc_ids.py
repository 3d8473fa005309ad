"""The one doc_id rule: what an id may look like, and the message that says so."""

from __future__ import annotations

import re

from corpus.errors import InvalidDocumentIdError

# A letter or digit, then letters, digits, '_', '-' and single dots ('..' never: ids name files and URLs).
DOC_ID_REGEX = r"^[A-Za-z0-9](?:\.?[A-Za-z0-9_-])*\.?$"
DOC_ID_MAX_CHARS = 128
DOC_ID_PATTERN = re.compile(DOC_ID_REGEX)
DOC_ID_RULE = "1-128 letters, digits, '.', '_' or '-', starting with a letter or digit, without '..'"
SHOWN_CHARS = 80


def is_valid_doc_id(doc_id: object) -> bool:
    return (
        isinstance(doc_id, str)
        and len(doc_id) <= DOC_ID_MAX_CHARS
        and DOC_ID_PATTERN.fullmatch(doc_id) is not None
    )


def check_doc_id(doc_id: object, source: object | None = None) -> str:
    """``doc_id`` if it follows the rule; else ``InvalidDocumentIdError`` (a ``CorpusError``) naming
    ``source`` (a file, a request field) when given."""
    if is_valid_doc_id(doc_id):
        return doc_id  # type: ignore[return-value]
    shown = doc_id
    if isinstance(doc_id, str) and len(doc_id) > SHOWN_CHARS:
        shown = doc_id[:SHOWN_CHARS] + "..."
    where = f"{source}: " if source is not None else ""
    raise InvalidDocumentIdError(f"{where}field 'doc_id' {shown!r} is invalid; use {DOC_ID_RULE}")
