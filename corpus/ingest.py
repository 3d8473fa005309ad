"""Uploads -> validated, cleaned ``Document``s: single files (.txt, .md, .html), JSONL batches and paths.

Every document goes through the loader's checks: the text is cleaned by ``corpus.cleaning.clean_text`` and
must not be empty, the doc_id must match the rule of ``corpus.doc_ids``, the title must be non-empty, and
author/publisher/url/provenance are strings. Errors are ``CorpusError``s naming the file (or JSONL line) and
the field, and saying what to fix.

Metadata, for every entry point, is the loader's sidecar format: ``doc_id``, ``title``, ``author``,
``publisher``, ``url``, ``provenance``, a ``metadata`` object, and any other key, which goes into
``Document.metadata`` (non-string values JSON-encoded).
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from email.message import Message
from pathlib import Path, PurePath
from typing import Any, Literal

from corpus.cleaning import clean_text
from corpus.doc_ids import check_doc_id
from corpus.errors import CorpusError
from corpus.html_text import HtmlText, html_text, markdown_text
from corpus.loader import OPTIONAL_FIELDS, check_unique_ids
from corpus.types import Document

MAX_DOCUMENT_CHARS = 1_000_000
MAX_UPLOAD_BYTES = 20_000_000
MAX_BULK_DOCUMENTS = 1_000
MAX_DERIVED_TITLE_CHARS = 200

Format = Literal["text", "markdown", "html"]
SUFFIX_FORMATS: dict[str, Format] = {
    ".txt": "text",
    ".text": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
}
MEDIA_TYPE_FORMATS: dict[str, Format] = {
    "text/plain": "text",
    "text/markdown": "markdown",
    "text/x-markdown": "markdown",
    "text/html": "html",
    "application/xhtml+xml": "html",
}
# Media types that say nothing about the content: the filename's suffix decides.
GENERIC_MEDIA_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream"})
JSONL_SUFFIX = ".jsonl"
RESERVED_FIELDS = ("doc_id", "title", "text", "metadata", *OPTIONAL_FIELDS)
SUPPORTED = "a .txt, .md or .html file (text/plain, text/markdown or text/html)"


def document_from_upload(
    content: bytes,
    *,
    filename: str | None = None,
    media_type: str | None = None,
    doc_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Document:
    """One uploaded file as a Document; its format comes from ``media_type``, else from the filename."""
    source = filename or "upload"
    if len(content) > MAX_UPLOAD_BYTES:
        raise CorpusError(
            f"{source}: field 'content' is {len(content):,} bytes, more than the {MAX_UPLOAD_BYTES:,} "
            "allowed; split the document"
        )
    kind, charset = upload_format(filename, media_type)
    if kind == "html":
        parsed = html_text(content, charset)
    else:
        text = normalize_newlines(decode(content, charset, source))
        parsed = markdown_text(text) if kind == "markdown" else HtmlText(text, None)
    meta = dict(metadata or {})
    if doc_id is not None:
        meta["doc_id"] = doc_id
    elif "doc_id" not in meta and filename:
        meta["doc_id"] = slug(PurePath(filename).stem) or None
    extra = {"source_format": kind, **({"source_file": PurePath(filename).name} if filename else {})}
    return build_document(source, parsed.text, meta, derived_title=parsed.title, extra=extra)


def documents_from_jsonl(
    data: bytes | str, *, max_documents: int = MAX_BULK_DOCUMENTS, source: str = "JSONL"
) -> list[Document]:
    """One document a line: {doc_id, title, text, author?, publisher?, url?, provenance?, metadata?, ...}.

    Blank lines are skipped; more than ``max_documents`` documents, or a doc_id twice, is an error.
    """
    lines = data.split(b"\n") if isinstance(data, bytes) else data.split("\n")
    documents: list[Document] = []
    first_line: dict[str, int] = {}
    for number, raw in enumerate(lines, 1):
        where = f"{source}, line {number}"
        line = decode(raw, "utf-8-sig" if number == 1 else None, where) if isinstance(raw, bytes) else raw
        if not line.strip():
            continue
        if len(documents) == max_documents:
            raise CorpusError(
                f"{where}: more than {max_documents:,} documents in one batch; split it into smaller batches"
            )
        record = parse_json_object(line, where)
        for name in ("doc_id", "title", "text"):
            if name not in record:
                raise CorpusError(f"{where}: field '{name}' is missing; every line needs doc_id, title, text")
        text = record.pop("text")
        for name, value in (("text", text), ("title", record["title"])):
            if not isinstance(value, str) or not value.strip():
                found = "an empty string" if isinstance(value, str) else json_type(value)
                raise CorpusError(f"{where}: field '{name}' must be a non-empty string, found {found}")
        document = build_document(where, text, record, extra={})
        if document.doc_id in first_line:
            raise CorpusError(
                f"{where}: field 'doc_id' {document.doc_id!r} duplicates line {first_line[document.doc_id]}; "
                "doc_ids must be unique in a batch"
            )
        first_line[document.doc_id] = number
        documents.append(document)
    if not documents:
        raise CorpusError(f"{source}: no documents; write one JSON object per line")
    return documents


def documents_from_paths(paths: Sequence[Path]) -> list[Document]:
    """Files (.txt, .md, .html, .htm, .jsonl) and folders (searched recursively, in sorted order).

    A ``NAME.json`` beside ``NAME.txt`` (or .md, .html) supplies that file's metadata.
    """
    documents: list[Document] = []
    sources: list[str] = []
    for path in map(Path, paths):
        for file in expand(path):
            if file.suffix.lower() == JSONL_SUFFIX:
                batch = documents_from_jsonl(read_bytes(file), max_documents=10**9, source=str(file))
                documents += batch
                sources += [f"{file} ({d.doc_id})" for d in batch]
            else:
                documents.append(document_from_file(file))
                sources.append(str(file))
    check_unique_ids(documents, sources)
    return documents


def document_from_file(path: Path) -> Document:
    sidecar = path.with_suffix(".json")
    metadata = read_sidecar(sidecar) if sidecar.is_file() else None
    try:
        return document_from_upload(read_bytes(path), filename=path.name, metadata=metadata)
    except CorpusError as err:
        # Name the whole path, not just the file name the upload saw.
        raise CorpusError(str(err).replace(path.name, str(path), 1)) from None


def expand(path: Path) -> list[Path]:
    """``path`` itself (a supported file), or the supported files under a folder, sorted."""
    suffixes = {*SUFFIX_FORMATS, JSONL_SUFFIX}
    if path.is_dir():
        files = sorted(
            p
            for p in path.rglob("*")
            if p.is_file() and p.suffix.lower() in suffixes and not p.name.startswith(".")
        )
        if not files:
            raise CorpusError(f"{path}: no .txt, .md, .html or .jsonl documents in this folder")
        return files
    if not path.is_file():
        raise CorpusError(f"{path}: no such file or folder")
    if path.suffix.lower() not in suffixes:
        raise CorpusError(f"{path}: unsupported file type {path.suffix!r}; use .txt, .md, .html or .jsonl")
    return [path]


def upload_format(filename: str | None, media_type: str | None) -> tuple[Format, str | None]:
    """The format of an upload and the charset its media type names, if any."""
    message = Message()
    message["content-type"] = media_type or ""
    essence = message.get_content_type() if media_type and media_type.strip() else ""
    charset = message.get_param("charset") if media_type else None
    charset = charset if isinstance(charset, str) else None
    suffix = PurePath(filename).suffix.lower() if filename else ""
    by_suffix = SUFFIX_FORMATS.get(suffix)
    if essence not in GENERIC_MEDIA_TYPES:
        kind = MEDIA_TYPE_FORMATS.get(essence)
        if kind is None:
            raise CorpusError(
                f"{filename or 'upload'}: field 'media_type' {essence!r} is not supported; upload {SUPPORTED}"
            )
        # Markdown is plain text: browsers often send .md files as text/plain.
        return ("markdown" if kind == "text" and by_suffix == "markdown" else kind), charset
    if by_suffix is None:
        named = f"suffix {suffix!r}" if suffix else "no suffix"
        raise CorpusError(
            f"{filename or 'upload'}: field 'filename' has {named} and no media type says the format; "
            f"upload {SUPPORTED}"
        )
    return by_suffix, charset


def build_document(
    source: str,
    text: str,
    fields: Mapping[str, Any],
    *,
    derived_title: str | None = None,
    extra: Mapping[str, str],
) -> Document:
    """Validate ``fields`` (the sidecar format) and clean ``text`` into a Document."""
    if len(text) > MAX_DOCUMENT_CHARS:
        raise CorpusError(
            f"{source}: field 'text' has {len(text):,} characters, more than the {MAX_DOCUMENT_CHARS:,} "
            "allowed; split the document"
        )
    cleaned, fired_rules = clean_text(text)
    if not cleaned.strip():
        raise CorpusError(
            f"{source}: field 'text' is empty (after conversion and cleaning); add the article text"
        )
    for name in ("title", *OPTIONAL_FIELDS):
        value = fields.get(name)
        if value is not None and not isinstance(value, str):
            raise CorpusError(f"{source}: field '{name}' must be a string or null, not {json_type(value)}")
    title = (fields.get("title") or "").strip() or derived_title or first_line(cleaned)
    doc_id = fields.get("doc_id")
    doc_id = hashed_id(cleaned) if doc_id is None else doc_id
    check_doc_id(doc_id, source)
    nested = fields.get("metadata") or {}
    if not isinstance(nested, Mapping):
        raise CorpusError(f"{source}: field 'metadata' must be an object of string values")
    others = {k: v for k, v in fields.items() if k not in RESERVED_FIELDS}
    metadata = {str(k): as_string(v) for k, v in {**nested, **others}.items() if v is not None}
    metadata.update(extra)
    if fired_rules:
        metadata["cleaning_rules"] = ",".join(fired_rules)
    optional = {name: (fields.get(name) or "").strip() or None for name in OPTIONAL_FIELDS}
    return Document(doc_id=doc_id, title=title, text=cleaned, metadata=metadata, **optional)


def slug(name: str) -> str:
    """``name`` made to fit the doc_id rule (``corpus.doc_ids``): accents folded, runs of other characters
    -> '-' (may be '')."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    dashed = re.sub(r"\.{2,}", ".", re.sub(r"[^A-Za-z0-9._-]+", "-", ascii_name))
    return dashed.lstrip("._-").rstrip("-")[:128].rstrip("-")


def hashed_id(text: str) -> str:
    return "doc-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def first_line(text: str) -> str:
    line = next(line.strip() for line in text.splitlines() if line.strip())
    if len(line) <= MAX_DERIVED_TITLE_CHARS:
        return line
    cut = line[:MAX_DERIVED_TITLE_CHARS].rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:") + "\u2026"


def decode(data: bytes, charset: str | None, source: str) -> str:
    try:
        return data.decode(charset or "utf-8-sig")
    except LookupError:
        raise CorpusError(
            f"{source}: field 'charset' {charset!r} is not a known encoding; use utf-8"
        ) from None
    except UnicodeDecodeError as err:
        raise CorpusError(
            f"{source}: field 'text' is not valid {charset or 'UTF-8'} (byte {err.start}); "
            "save the file as UTF-8"
        ) from None


def normalize_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def parse_json_object(line: str, where: str) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as err:
        raise CorpusError(
            f"{where}: invalid JSON ({err.msg} at column {err.colno}); write one JSON object per line"
        ) from None
    except RecursionError:
        raise CorpusError(
            f"{where}: invalid JSON (nested too deeply); write one JSON object per line"
        ) from None
    if not isinstance(record, dict):
        raise CorpusError(f"{where}: expected a JSON object, found {json_type(record)}; write one per line")
    return record


def read_sidecar(path: Path) -> dict[str, Any]:
    text = decode(read_bytes(path), None, str(path))
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as err:
        raise CorpusError(
            f"{path}: invalid JSON at line {err.lineno}: {err.msg}; fix the metadata file"
        ) from None
    if not isinstance(meta, dict):
        raise CorpusError(f"{path}: metadata must be a JSON object, not {json_type(meta)}")
    return meta


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise CorpusError(
            f"{path}: cannot be read ({err.strerror}); check the path and permissions"
        ) from None


def as_string(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)


def json_type(value: object) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")
