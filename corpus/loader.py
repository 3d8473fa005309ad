"""The strict reader of citeqa's native corpus format: ``NAME.txt`` (UTF-8 text) beside ``NAME.json``
(metadata). ``citeqa index`` reads folders through ``corpus.ingest`` (every format, derived titles), which
reads a folder in this format to the same Documents; this reader stays for callers that want the strict rule.

The metadata file holds ``title`` (required), and optionally ``doc_id`` (defaults to NAME),
``author``, ``publisher``, ``url``, ``provenance`` and a ``metadata`` object of extra string keys.
A ``.txt`` without a ``.json`` is an error: a document without a title cannot be cited.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from corpus.cleaning import clean_text
from corpus.doc_ids import check_doc_id
from corpus.errors import CorpusError, DuplicateDocumentIdError
from corpus.types import Document
from corpus.unicode_check import LONE_SURROGATE_FIX, field_with_lone_surrogate, is_blank

OPTIONAL_FIELDS = ("author", "publisher", "url", "provenance")


def load_documents(folder: Path) -> list[Document]:
    """Every document of a corpus folder, validated, cleaned and sorted by file name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CorpusError(f"{folder}: not a folder; pass a folder of NAME.txt + NAME.json documents")
    text_files = sorted(folder.glob("*.txt"))
    if not text_files:
        raise CorpusError(f"{folder}: no .txt documents found; each document is NAME.txt beside NAME.json")
    documents = [load_document(path) for path in text_files]
    check_unique_ids(documents, [str(p) for p in text_files])
    return documents


def load_document(text_path: Path) -> Document:
    meta_path = text_path.with_suffix(".json")
    meta = _read_metadata(meta_path)
    raw = _read_text(text_path)
    text, fired_rules = clean_text(raw)
    if is_blank(text):
        raise CorpusError(f"{text_path}: field 'text' is empty (after cleaning); add the article text")
    doc_id = meta.get("doc_id", text_path.stem)
    check_doc_id(doc_id, meta_path)
    title = meta.get("title")
    if not isinstance(title, str) or is_blank(title):
        raise CorpusError(f"{meta_path}: field 'title' is missing or empty; every document needs a title")
    optional = {}
    for name in OPTIONAL_FIELDS:
        value = meta.get(name)
        if value is not None and not isinstance(value, str):
            raise CorpusError(
                f"{meta_path}: field '{name}' must be a string or null, not {type(value).__name__}"
            )
        optional[name] = value or None
    extra = meta.get("metadata", {})
    if not isinstance(extra, dict):
        raise CorpusError(f"{meta_path}: field 'metadata' must be an object of string values")
    extra = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in extra.items()}
    if fired_rules:
        extra["cleaning_rules"] = ",".join(fired_rules)
    return Document(doc_id=doc_id, title=title.strip(), text=text, metadata=extra, **optional)


# What to do when two files of a folder get one doc_id (e.g. a/notes.txt and b/notes.txt: "notes").
DUPLICATE_ID_FIX = (
    "doc_ids must be unique: give one of them its own doc_id in a NAME.json beside it "
    '({"doc_id": "..."}), or rename the file'
)


def check_unique_ids(documents: Iterable[Document], sources: list[str], fix: str = DUPLICATE_ID_FIX) -> None:
    seen: dict[str, str] = {}
    for document, source in zip(documents, sources, strict=True):
        if document.doc_id in seen:
            first = seen[document.doc_id]
            if Path(first).with_suffix("") == Path(source).with_suffix(""):  # a.txt and a.md: one a.json
                fix = (
                    f"{Path(first).name} and {Path(source).name} share one name, so one NAME.json would "
                    "describe both: rename one of them"
                )
            raise DuplicateDocumentIdError(
                f"{source}: field 'doc_id' duplicates '{document.doc_id}' of {first}; {fix}"
            )
        seen[document.doc_id] = source


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise CorpusError(
            f"{path}: field 'text' is not valid UTF-8 (byte {err.start}); save the file as UTF-8"
        ) from None


def _read_metadata(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise CorpusError(f"{path}: metadata file missing; create it with at least a 'title' field")
    try:
        meta = json.loads(_read_text(path))
    except json.JSONDecodeError as err:
        raise CorpusError(f"{path}: invalid JSON at line {err.lineno}: {err.msg}") from None
    if not isinstance(meta, dict):
        raise CorpusError(f"{path}: metadata must be a JSON object")
    bad = field_with_lone_surrogate(meta)
    if bad:
        raise CorpusError(f"{path}: field '{bad}': {LONE_SURROGATE_FIX}; fix the metadata file")
    return meta
