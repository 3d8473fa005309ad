"""The one ingestion path: files, folders and uploads -> validated, cleaned ``Document``s.

``citeqa index`` (through ``corpus.sources.load_corpus``), ``citeqa add`` and uploads all come here, so
they read the same file types with the same metadata rule and the same errors:

* formats (``corpus.formats``): .txt, .md, .html/.htm, .pdf and .docx files, and .jsonl batches of
  ``{doc_id, title, text, ...}`` lines (``corpus.jsonl``);
* metadata (``corpus.records``): a ``NAME.json`` beside ``NAME.pdf`` (or .txt, .md, ...) is that file's
  record and is taken as written; what it leaves out comes from the file itself. A file without one also
  gets ``source_format`` and ``source_file`` in its metadata, and its doc_id is its slugged name;
* folders are read recursively in sorted order; hidden files and folders are ignored, and every other
  file that is not a document (or the metadata of one) is skipped and reported with the reason.

Errors are ``CorpusError``s naming the file (or JSONL line) and the field, and saying what to fix;
``UnsupportedFormatError`` (a ``CorpusError``) for a file type citeqa does not read.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from email.message import Message
from pathlib import Path, PurePath
from typing import Any, Literal

from corpus.errors import CorpusError, NoDocumentsError, UnsupportedFormatError
from corpus.formats import (
    MEDIA_TYPE_FORMATS,
    SUFFIX_FORMATS,
    SUPPORTED_MEDIA_TYPES,
    SUPPORTED_SUFFIXES,
    Format,
    RequestBudget,
    extract,
)
from corpus.jsonl import MAX_BULK_DOCUMENTS, documents_from_jsonl
from corpus.loader import check_unique_ids
from corpus.records import MAX_DOCUMENT_CHARS, build_document, read_bytes, read_sidecar, slug
from corpus.report import Ingested, IngestReport, ReportBuilder, Skip, suffix_of
from corpus.types import Document

__all__ = [
    "MAX_BULK_DOCUMENTS",
    "MAX_DOCUMENT_CHARS",
    "MAX_UPLOAD_BYTES",
    "IngestReport",
    "Ingested",
    "Skip",
    "document_files",
    "document_from_file",
    "document_from_upload",
    "documents_from_jsonl",
    "documents_from_paths",
    "ingest_paths",
    "read_document_file",
    "skip_beside",
    "upload_format",
]

MAX_UPLOAD_BYTES = 20_000_000
# Media types that say nothing about the content: the filename's suffix decides.
GENERIC_MEDIA_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream"})
JSONL_SUFFIX = ".jsonl"
SIDECAR_SUFFIX = ".json"
# What an upload may be: the upload routes also take a .jsonl batch (one document a line).
SUPPORTED = f"a {SUPPORTED_SUFFIXES} file ({SUPPORTED_MEDIA_TYPES}), or a .jsonl batch (application/x-ndjson)"
SUPPORTED_FILES = SUPPORTED_SUFFIXES.replace(" or ", ", ") + " or .jsonl"
OnError = Literal["raise", "skip"]
BESIDE_BEIR = (
    "a folder holding a BEIR corpus.jsonl is read as that file alone; "
    "index other documents from a folder of their own, or add them with citeqa add"
)


def ingest_paths(paths: Sequence[Path], *, errors: OnError = "raise") -> Ingested:
    """The documents of files and folders, and a report of what was taken and skipped, by file type.

    A file that cannot be read (a scanned PDF, empty text, a bad sidecar) raises its ``CorpusError``, or
    with ``errors="skip"`` is skipped with that message as the reason. A path that does not exist, a file
    named directly that is not a document, a folder without documents, no documents at all, or a doc_id
    twice always raise.
    """
    report = ReportBuilder()
    documents: list[Document] = []
    sources: list[str] = []
    failures: list[str] = []
    for path in map(Path, paths):
        for file in document_files(path, report):
            try:
                batch = read_document_file(file)
            except CorpusError as err:
                if errors == "raise":
                    raise
                report.skip(file, str(err))
                failures.append(str(err))
                continue
            report.take(file)
            documents += batch
            sources += (
                [f"{file} ({d.doc_id})" for d in batch] if suffix_of(file) == JSONL_SUFFIX else [str(file)]
            )
    check_unique_ids(documents, sources)
    if not documents:
        skipped = len(report.skips)
        raise CorpusError(
            f"no documents could be read from {', '.join(map(str, paths))}: {skipped} file(s) skipped"
            + (f"; the first that failed: {failures[0]}" if failures else "")
        )
    return Ingested(tuple(documents), report.build(len(documents)))


def documents_from_paths(paths: Sequence[Path]) -> list[Document]:
    """``ingest_paths(paths).documents`` as a list (errors raise)."""
    return list(ingest_paths(paths).documents)


def document_from_file(path: Path) -> Document:
    """One file; a ``NAME.json`` beside it is its metadata, taken as written."""
    path = Path(path)
    kind = file_format(path)
    sidecar = path.with_suffix(SIDECAR_SUFFIX)
    fields: dict[str, Any] | None = read_sidecar(sidecar) if sidecar.is_file() else None
    meta = dict(fields or {})
    if "text" in meta:  # dropped silently before: the text is the file's, never the sidecar's
        raise CorpusError(
            f"{sidecar}: field 'text' is not read from a NAME.json (the document's text is {path.name}'s); "
            "remove the field"
        )
    if meta.get("doc_id") is None:  # left out or null, as a null title is: the file name
        meta["doc_id"] = slug(path.stem) or None
    extra = {} if fields is not None else {"source_format": kind, "source_file": path.name}
    content = _checked_size(read_bytes(path), str(path))
    named = str(sidecar) if fields is not None else None
    extracted = extract(content, kind, None, str(path))
    return build_document(str(path), extracted, meta, extra=extra, fields_source=named)


def document_from_upload(
    content: bytes,
    *,
    filename: str | None = None,
    media_type: str | None = None,
    doc_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    budget: RequestBudget | None = None,
) -> Document:
    """One uploaded file as a Document; its format comes from ``media_type``, else from the filename
    (``UnsupportedFormatError`` when neither names one citeqa reads). ``budget``: that of the request,
    shared by its files (corpus.formats.RequestBudget)."""
    source = filename or "upload"
    _checked_size(content, source)
    kind, charset = upload_format(filename, media_type)
    meta = dict(metadata or {})
    if doc_id is not None:
        meta["doc_id"] = doc_id
    elif "doc_id" not in meta and filename:
        meta["doc_id"] = slug(PurePath(filename).stem) or None
    extra = {"source_format": kind, **({"source_file": PurePath(filename).name} if filename else {})}
    return build_document(source, extract(content, kind, charset, source, budget), meta, extra=extra)


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
            raise UnsupportedFormatError(
                f"{filename or 'upload'}: field 'media_type' {essence!r} is not supported; upload {SUPPORTED}"
            )
        # Markdown is plain text: browsers often send .md files as text/plain.
        return ("markdown" if kind == "text" and by_suffix == "markdown" else kind), charset
    if by_suffix is None:
        named = f"suffix {suffix!r}" if suffix else "no suffix"
        raise UnsupportedFormatError(
            f"{filename or 'upload'}: field 'filename' has {named} and no media type says the format; "
            f"upload {SUPPORTED}"
        )
    return by_suffix, charset


def file_format(path: Path) -> Format:
    kind = SUFFIX_FORMATS.get(suffix_of(path))
    if kind is None:
        raise UnsupportedFormatError(f"{path}: unsupported file type {path.suffix!r}; use {SUPPORTED_FILES}")
    return kind


def _checked_size(content: bytes, source: str) -> bytes:
    if len(content) > MAX_UPLOAD_BYTES:
        raise CorpusError(
            f"{source}: field 'content' is {len(content):,} bytes, more than the {MAX_UPLOAD_BYTES:,} "
            "allowed; split the document"
        )
    return content


def read_document_file(file: Path) -> list[Document]:
    """The documents of one file of a folder: one, or a .jsonl file's lines."""
    if suffix_of(file) == JSONL_SUFFIX:
        return documents_from_jsonl(read_bytes(file), max_documents=10**9, source=str(file))
    return [document_from_file(file)]


LINKED_FOLDER = (
    "a link to a folder, not followed (it could loop or read files twice); copy the files into the folder, "
    "or pass the folder it links to"
)


def document_files(path: Path, report: ReportBuilder) -> list[Path]:
    """``path`` itself (a document file), or the document files under a folder, sorted; the folder's
    other files are skipped into ``report``."""
    if path.is_dir():
        linked: list[Path] = []
        files = _walk(path, linked)
        for link in sorted(linked):
            report.skip(link, LINKED_FOLDER)
        stems = {(f.parent, f.stem) for f in files if suffix_of(f) in SUFFIX_FORMATS}
        documents = []
        for file in files:
            suffix = suffix_of(file)
            if suffix in SUFFIX_FORMATS or suffix == JSONL_SUFFIX:
                documents.append(file)
            elif suffix == SIDECAR_SUFFIX and (file.parent, file.stem) in stems:
                report.sidecars += 1
            elif suffix == SIDECAR_SUFFIX:
                report.skip(file, f"metadata without a document: no {file.stem}.txt, .md, .html, .pdf, .docx")
            else:
                report.skip(file, f"unsupported file type {file.suffix!r}" if suffix else "no file suffix")
        documents = _without_repeated_links(documents, report)
        if not documents:
            raise NoDocumentsError(
                f"{path}: no {SUPPORTED_FILES} documents in this folder; add some, or give another folder"
            )
        return documents
    if not path.is_file():
        raise CorpusError(f"{path}: no such file or folder")
    if suffix_of(path) != JSONL_SUFFIX:
        file_format(path)
    return [path]


def _without_repeated_links(files: list[Path], report: ReportBuilder) -> list[Path]:
    """``files`` but the links to a file read already (under its own name, or through an earlier link),
    which would index the same document twice under two ids; each is skipped into ``report``. A link to a
    file outside the folder is read as a document (a dangling one fails when read, as before)."""
    first_name: dict[Path, Path] = {}
    for file in sorted(files, key=lambda f: (f.is_symlink(), f)):  # real files first, then links
        if file.exists():
            first_name.setdefault(file.resolve(), file)
    kept = []
    for file in files:
        named = first_name.get(file.resolve()) if file.exists() else None
        if named is not None and named != file:
            report.skip(file, f"a link to {file.resolve()}, read already as {named}: the same document twice")
        else:
            kept.append(file)
    return kept


def skip_beside(corpus: Path, report: ReportBuilder) -> None:
    """Skip into ``report`` every file of the folder of ``corpus`` (a BEIR corpus.jsonl) but itself: such a
    folder is read as that file alone (its queries, qrels, documents of other types)."""
    for file in _walk(corpus.parent):
        if file != corpus:
            report.skip(file, BESIDE_BEIR)


def _walk(folder: Path, linked: list[Path] | None = None) -> list[Path]:
    """The files under ``folder``, sorted (hidden ones left out). A link to a folder is not followed (it may
    loop or repeat files); ``linked`` collects such links, to be reported rather than left out silently."""
    files: list[Path] = []
    for root, folders, names in os.walk(folder):
        folders[:] = [name for name in folders if not name.startswith(".")]
        if linked is not None:
            linked += [Path(root, name) for name in folders if Path(root, name).is_symlink()]
        files += [Path(root, name) for name in names if not name.startswith(".")]
    return sorted(files)
