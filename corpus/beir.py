"""Read a BEIR corpus.jsonl into Documents, streamed, with errors that name the file, line and field.

The line and record readers here are shared with the evaluation's queries and qrels loaders (``eval.beir``).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from corpus.errors import CorpusError
from corpus.types import Document
from corpus.unicode_check import LONE_SURROGATE_FIX, field_with_lone_surrogate

CORPUS_FILE = "corpus.jsonl"
# Metadata keys that become Document fields rather than Document.metadata entries.
_DOCUMENT_KEYS = ("url", "author", "publisher")
_ONE_OBJECT = "write exactly one JSON object per line"


# Where a line is: its number, or (for a part of the file read alone, see ``documents_in_range``) a label
# such as "the line at byte 1024".
Line = int | str


def line_label(line: Line) -> str:
    return f"line {line}" if isinstance(line, int) else line


def beir_error(path: Path, line: Line | None, name: str | None, problem: str, fix: str) -> CorpusError:
    where = str(path) if line is None else f"{path}, {line_label(line)}"
    if name is not None:
        where += f", field {name!r}"
    return CorpusError(f"{where}: {problem}; {fix}")


def json_type(value: object) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def resolve_file(path: Path, filename: str) -> Path:
    """``path`` itself, or ``path/filename`` when ``path`` is a folder; it must be an existing file."""
    file = path / filename if path.is_dir() else path
    if not file.is_file():
        raise beir_error(file, None, None, "file not found", f"expected {filename} here (or pass its folder)")
    return file


# Line reading.


def read_lines(path: Path, locate_bad_bytes: Callable[[str], str | None]) -> Iterator[tuple[int, str]]:
    """Yield (number, text) of the non-blank lines; ``locate_bad_bytes`` names the field of a bad byte."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise beir_error(
            path, None, None, f"cannot be opened ({exc.strerror})", "check the path and permissions"
        ) from exc
    with handle:
        for number, raw in enumerate(handle, start=1):
            text = decode_line(path, number, raw, number == 1, locate_bad_bytes)
            if text.strip():
                yield number, text.rstrip("\r\n")


def decode_line(
    path: Path, line: Line, raw: bytes, first: bool, locate_bad_bytes: Callable[[str], str | None]
) -> str:
    """A line's text (a byte-order mark dropped from the file's first line); bad UTF-8 is an error that
    names the field holding it when ``locate_bad_bytes`` finds it."""
    try:
        return raw.decode("utf-8-sig" if first else "utf-8")
    except UnicodeDecodeError as exc:
        name = locate_bad_bytes(raw.decode("utf-8", errors="replace"))
        problem = f"invalid UTF-8 at byte {exc.start} of the line"
        raise beir_error(path, line, name, problem, "re-encode the file as UTF-8") from None


def _jsonl_bad_field(text: str) -> str | None:
    """Best effort: the (dotted) key whose value holds the replacement character, if the line still parses."""
    try:
        record = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(record, dict):
        return None
    for key, value in record.items():
        if isinstance(value, dict):
            nested = next((sub for sub, item in value.items() if "\ufffd" in f"{sub}{item}"), None)
            if nested is not None:
                return f"{key}.{nested}"
        elif "\ufffd" in f"{key}{value}":
            return key
    return None


def read_records(path: Path) -> Iterator[tuple[int, dict[str, object]]]:
    for number, text in read_lines(path, _jsonl_bad_field):
        yield number, parse_record(path, number, text)


def parse_record(path: Path, line: Line, text: str) -> dict[str, object]:
    """One line's JSON object."""
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise beir_error(
            path, line, None, f"invalid JSON ({exc.msg} at column {exc.colno})", _ONE_OBJECT
        ) from None
    except RecursionError:
        raise beir_error(path, line, None, "invalid JSON (nested too deeply)", _ONE_OBJECT) from None
    if not isinstance(record, dict):
        raise beir_error(path, line, None, f"expected a JSON object, found {json_type(record)}", _ONE_OBJECT)
    bad = field_with_lone_surrogate(record)
    if bad:
        raise beir_error(path, line, bad, LONE_SURROGATE_FIX, "write the character itself or remove it")
    return record


# Fields.


def record_id(path: Path, number: Line, record: Mapping[str, object], seen: dict[str, Line]) -> str:
    """The record's ``_id`` (an integer is accepted and turned into a string), unique within the file."""
    value = record.get("_id")
    fix = 'give every line a unique, non-empty string "_id"'
    if value is None:
        raise beir_error(path, number, "_id", "missing", fix)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise beir_error(path, number, "_id", f"must be a string, found {json_type(value)}", fix)
    if not value.strip():
        raise beir_error(path, number, "_id", "is empty", fix)
    if value in seen:
        problem = f"duplicate id {value!r}, first used on {line_label(seen[value])}"
        raise beir_error(path, number, "_id", problem, fix)
    seen[value] = number
    return value


def required_text(path: Path, number: Line, record: Mapping[str, object]) -> str:
    value = record.get("text")
    fix = 'give every line a non-empty string "text"'
    if value is None:
        raise beir_error(path, number, "text", "missing", fix)
    if not isinstance(value, str):
        raise beir_error(path, number, "text", f"must be a string, found {json_type(value)}", fix)
    if not value.strip():
        raise beir_error(path, number, "text", "is empty", fix)
    return value


def _optional_string(path: Path, number: Line, value: object, name: str) -> str | None:
    """A string field that may be absent, null or empty (all give None)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise beir_error(
            path, number, name, f"must be a string or null, found {json_type(value)}", "fix its value"
        )
    return value.strip() or None


def metadata_field(path: Path, number: Line, record: Mapping[str, object]) -> dict[str, object]:
    value = record.get("metadata")
    if value is None:
        return {}
    if not isinstance(value, dict):
        problem = f"must be an object, found {json_type(value)}"
        raise beir_error(path, number, "metadata", problem, 'write "metadata": {...} or leave it out')
    return value


def as_strings(metadata: Mapping[str, object], exclude: tuple[str, ...] = ()) -> dict[str, str]:
    """Metadata with every value a string: non-string values are JSON-encoded."""
    return {
        key: value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
        for key, value in metadata.items()
        if key not in exclude
    }


# Corpus and queries.


def _document(path: Path, number: Line, record: Mapping[str, object], doc_id: str) -> Document:
    # BEIR allows an empty title; the document's id stands in for it so citations always show a name.
    given_title = _optional_string(path, number, record.get("title"), "title")
    title = given_title or doc_id
    text = _document_text(path, number, record, given_title)
    metadata = metadata_field(path, number, record)
    strings = {
        key: _optional_string(path, number, metadata.get(key), f"metadata.{key}") for key in _DOCUMENT_KEYS
    }
    return Document(
        doc_id=doc_id,
        title=title,
        text=text,
        author=strings["author"],
        publisher=strings["publisher"],
        url=strings["url"],
        provenance=f"BEIR corpus {path}",
        metadata=as_strings(metadata, exclude=_DOCUMENT_KEYS),
    )


def _document_text(path: Path, number: Line, record: Mapping[str, object], title: str | None) -> str:
    """The line's text; an empty one (only spaces) with a title is the title: BEIR reads a document as its
    title and text together, so a title-only page is a document, and one such line failed the whole build
    (and ``citeqa eval --dataset``). Without a title too it stays an error."""
    value = record.get("text")
    if title is not None and isinstance(value, str) and not value.strip():
        return title
    return required_text(path, number, record)


def iter_beir_corpus(path: Path | str) -> Iterator[Document]:
    """Stream the documents of a corpus.jsonl file, or of the corpus.jsonl in folder ``path``.

    title: stripped, or the doc_id when empty or missing; text: as written, or the title when empty (only
    spaces) and a title is given; url/author/publisher: from metadata (empty -> None);
    metadata: the other metadata keys, non-string values JSON-encoded; provenance: "BEIR corpus <file path>".
    """
    file = resolve_file(Path(path), CORPUS_FILE)
    seen: dict[str, Line] = {}
    for number, record in read_records(file):
        yield _document(file, number, record, record_id(file, number, record, seen))
    if not seen:
        raise beir_error(file, None, None, "holds no documents", "write one JSON object per document")


def corpus_file(path: Path | str) -> Path:
    """The corpus.jsonl file of ``path`` (the file itself, or the one in folder ``path``)."""
    return resolve_file(Path(path), CORPUS_FILE)


def documents_in_range(file: Path, start: int, end: int, shown: Path | None = None) -> Iterator[Document]:
    """The documents of the lines of corpus.jsonl ``file`` that begin in bytes [start, end), read on their
    own (a part of the file, as a Ray task reads it). Errors name a line by its byte offset, since its
    number is not known here; an ``_id`` used twice in different parts is left to the caller. ``shown``:
    the path as the owner gave it (in errors and provenance), when ``file`` is another name for it."""
    seen: dict[str, Line] = {}
    named = shown or file
    with file.open("rb") as handle:
        handle.seek(start)
        offset = start
        while offset < end:
            raw = handle.readline()
            if not raw:
                break
            where = f"the line at byte {offset}"
            text = decode_line(named, where, raw, offset == 0, _jsonl_bad_field)
            offset += len(raw)
            if text.strip():
                record = parse_record(named, where, text.rstrip("\r\n"))
                yield _document(named, where, record, record_id(named, where, record, seen))


def line_ranges(file: Path, part_bytes: int) -> list[tuple[int, int]]:
    """``file`` cut into byte ranges of about ``part_bytes``, each ending at a line's end."""
    size = file.stat().st_size
    cuts = [0]
    with file.open("rb") as handle:
        while cuts[-1] + part_bytes < size:
            handle.seek(cuts[-1] + part_bytes)
            handle.readline()  # to the end of the line the cut fell in
            if handle.tell() >= size:
                break
            cuts.append(handle.tell())
    cuts.append(size)
    return list(itertools.pairwise(cuts))


def load_beir_corpus(path: Path | str) -> list[Document]:
    """All documents of a BEIR corpus (see ``iter_beir_corpus``)."""
    return list(iter_beir_corpus(path))
