"""Load a BEIR dataset folder (corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv) into citeqa types.

Every malformed input raises ``CorpusError`` naming the file, the line and the field, and saying what to fix.
Files are read as bytes and decoded one line at a time, so a large corpus is streamed and a bad byte is
reported with its line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from citeqa.errors import CorpusError
from citeqa.types import Document
from eval.metrics import Qrels

CORPUS_FILE = "corpus.jsonl"
QUERIES_FILE = "queries.jsonl"
QRELS_HEADER = ("query-id", "corpus-id", "score")
# Metadata keys that become Document fields rather than Document.metadata entries.
_DOCUMENT_KEYS = ("url", "author", "publisher")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_ONE_OBJECT = "write exactly one JSON object per line"


@dataclass(frozen=True)
class Query:
    qid: str
    text: str
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BeirDataset:
    """A BEIR dataset; ``queries`` holds only the queries judged in ``qrels``."""

    name: str
    corpus: list[Document]
    queries: dict[str, Query]
    qrels: Qrels


def _error(path: Path, line: int | None, name: str | None, problem: str, fix: str) -> CorpusError:
    where = str(path) if line is None else f"{path}, line {line}"
    if name is not None:
        where += f", field {name!r}"
    return CorpusError(f"{where}: {problem}; {fix}")


def _json_type(value: object) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def _resolve(path: Path, filename: str) -> Path:
    """``path`` itself, or ``path/filename`` when ``path`` is a folder; it must be an existing file."""
    file = path / filename if path.is_dir() else path
    if not file.is_file():
        raise _error(file, None, None, "file not found", f"expected {filename} here (or pass its folder)")
    return file


# Line reading.


def _read_lines(path: Path, locate_bad_bytes: Callable[[str], str | None]) -> Iterator[tuple[int, str]]:
    """Yield (number, text) of the non-blank lines; ``locate_bad_bytes`` names the field of a bad byte."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise _error(
            path, None, None, f"cannot be opened ({exc.strerror})", "check the path and permissions"
        ) from exc
    with handle:
        for number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                name = locate_bad_bytes(raw.decode("utf-8", errors="replace"))
                problem = f"invalid UTF-8 at byte {exc.start} of the line"
                raise _error(path, number, name, problem, "re-encode the file as UTF-8") from None
            if text.strip():
                yield number, text.rstrip("\r\n")


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


def _tsv_bad_field(text: str) -> str | None:
    return next(
        (name for name, cell in zip(QRELS_HEADER, text.split("\t"), strict=False) if "\ufffd" in cell), None
    )


def _read_records(path: Path) -> Iterator[tuple[int, dict[str, object]]]:
    for number, text in _read_lines(path, _jsonl_bad_field):
        try:
            record = json.loads(text)
        except json.JSONDecodeError as exc:
            raise _error(
                path, number, None, f"invalid JSON ({exc.msg} at column {exc.colno})", _ONE_OBJECT
            ) from None
        except RecursionError:
            raise _error(path, number, None, "invalid JSON (nested too deeply)", _ONE_OBJECT) from None
        if not isinstance(record, dict):
            raise _error(
                path, number, None, f"expected a JSON object, found {_json_type(record)}", _ONE_OBJECT
            )
        yield number, record


# Fields.


def _record_id(path: Path, number: int, record: Mapping[str, object], seen: dict[str, int]) -> str:
    """The record's ``_id`` (an integer is accepted and turned into a string), unique within the file."""
    value = record.get("_id")
    fix = 'give every line a unique, non-empty string "_id"'
    if value is None:
        raise _error(path, number, "_id", "missing", fix)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise _error(path, number, "_id", f"must be a string, found {_json_type(value)}", fix)
    if not value.strip():
        raise _error(path, number, "_id", "is empty", fix)
    if value in seen:
        raise _error(path, number, "_id", f"duplicate id {value!r}, first used on line {seen[value]}", fix)
    seen[value] = number
    return value


def _required_text(path: Path, number: int, record: Mapping[str, object]) -> str:
    value = record.get("text")
    fix = 'give every line a non-empty string "text"'
    if value is None:
        raise _error(path, number, "text", "missing", fix)
    if not isinstance(value, str):
        raise _error(path, number, "text", f"must be a string, found {_json_type(value)}", fix)
    if not value.strip():
        raise _error(path, number, "text", "is empty", fix)
    return value


def _optional_string(path: Path, number: int, value: object, name: str) -> str | None:
    """A string field that may be absent, null or empty (all give None)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise _error(
            path, number, name, f"must be a string or null, found {_json_type(value)}", "fix its value"
        )
    return value.strip() or None


def _metadata(path: Path, number: int, record: Mapping[str, object]) -> dict[str, object]:
    value = record.get("metadata")
    if value is None:
        return {}
    if not isinstance(value, dict):
        problem = f"must be an object, found {_json_type(value)}"
        raise _error(path, number, "metadata", problem, 'write "metadata": {...} or leave it out')
    return value


def _as_strings(metadata: Mapping[str, object], exclude: tuple[str, ...] = ()) -> dict[str, str]:
    """Metadata with every value a string: non-string values are JSON-encoded."""
    return {
        key: value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
        for key, value in metadata.items()
        if key not in exclude
    }


# Corpus and queries.


def _document(path: Path, number: int, record: Mapping[str, object], doc_id: str) -> Document:
    # BEIR allows an empty title; the document's id stands in for it so citations always show a name.
    title = _optional_string(path, number, record.get("title"), "title") or doc_id
    text = _required_text(path, number, record)
    metadata = _metadata(path, number, record)
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
        metadata=_as_strings(metadata, exclude=_DOCUMENT_KEYS),
    )


def iter_beir_corpus(path: Path | str) -> Iterator[Document]:
    """Stream the documents of a corpus.jsonl file, or of the corpus.jsonl in folder ``path``.

    title: stripped, or the doc_id when empty or missing; url/author/publisher: from metadata (empty -> None);
    metadata: the other metadata keys, non-string values JSON-encoded; provenance: "BEIR corpus <file path>".
    """
    file = _resolve(Path(path), CORPUS_FILE)
    seen: dict[str, int] = {}
    for number, record in _read_records(file):
        yield _document(file, number, record, _record_id(file, number, record, seen))
    if not seen:
        raise _error(file, None, None, "holds no documents", "write one JSON object per document")


def load_beir_corpus(path: Path | str) -> list[Document]:
    """All documents of a BEIR corpus (see ``iter_beir_corpus``)."""
    return list(iter_beir_corpus(path))


def load_queries(path: Path | str) -> dict[str, Query]:
    """Queries of a queries.jsonl file, or of the queries.jsonl in folder ``path``, by id, in file order."""
    file = _resolve(Path(path), QUERIES_FILE)
    seen: dict[str, int] = {}
    queries: dict[str, Query] = {}
    for number, record in _read_records(file):
        qid = _record_id(file, number, record, seen)
        text = _required_text(file, number, record)
        queries[qid] = Query(qid=qid, text=text, metadata=_as_strings(_metadata(file, number, record)))
    if not queries:
        raise _error(file, None, None, "holds no queries", "write one JSON object per query")
    return queries


# Qrels.


def _check_header(path: Path, line: tuple[int, str] | None) -> None:
    expected = "\t".join(QRELS_HEADER)
    fix = f"start the file with the tab-separated header {expected!r}"
    if line is None:
        raise _error(path, None, "header", "the file is empty", fix)
    number, text = line
    if tuple(cell.strip() for cell in text.split("\t")) != QRELS_HEADER:
        raise _error(path, number, "header", f"expected {expected!r}, found {text[:80]!r}", fix)


def _qrels_row(path: Path, number: int, text: str) -> tuple[str, str, int]:
    cells = [cell.strip() for cell in text.split("\t")]
    if len(cells) != len(QRELS_HEADER):
        hint = " (columns must be separated by tabs, not spaces)" if len(cells) == 1 and " " in text else ""
        problem = f"expected 3 tab-separated columns (query-id, corpus-id, score), found {len(cells)}{hint}"
        raise _error(path, number, "columns", problem, "write one judgment per line")
    qid, doc_id, score = cells
    for name, value in (("query-id", qid), ("corpus-id", doc_id)):
        if not value:
            raise _error(path, number, name, "is empty", "write the id")
    if not _INTEGER.fullmatch(score):
        raise _error(
            path, number, "score", f"must be an integer, found {score!r}", "write a whole number grade"
        )
    return qid, doc_id, int(score)


def _check_known(path: Path, number: int, name: str, value: str, known: set[str] | None, where: str) -> None:
    if known is not None and value not in known:
        raise _error(path, number, name, f"{value!r} is not in {where}", f"fix the id or add it to {where}")


def load_qrels(
    path: Path | str, corpus_ids: set[str] | None = None, query_ids: set[str] | None = None
) -> Qrels:
    """Graded judgments of a qrels .tsv file; ids are checked against corpus_ids/query_ids if given."""
    file = Path(path)
    if file.is_dir():
        raise _error(file, None, None, "is a folder", f"pass the qrels file itself, e.g. {file / 'test.tsv'}")
    if not file.is_file():
        raise _error(file, None, None, "file not found", "expected a tab-separated qrels file here")
    lines = _read_lines(file, _tsv_bad_field)
    _check_header(file, next(lines, None))
    qrels: Qrels = {}
    seen: dict[tuple[str, str], int] = {}
    for number, text in lines:
        qid, doc_id, score = _qrels_row(file, number, text)
        _check_known(file, number, "query-id", qid, query_ids, "the queries")
        _check_known(file, number, "corpus-id", doc_id, corpus_ids, "the corpus")
        if (qid, doc_id) in seen:
            problem = f"duplicate judgment of ({qid!r}, {doc_id!r}), first on line {seen[qid, doc_id]}"
            raise _error(file, number, "corpus-id", problem, "keep one line per query and document")
        seen[qid, doc_id] = number
        qrels.setdefault(qid, {})[doc_id] = score
    if not qrels:
        raise _error(
            file, None, None, "holds no judgments", "write one 'query-id, corpus-id, score' line each"
        )
    return qrels


def load_beir_dataset(folder: Path | str, split: str = "test") -> BeirDataset:
    """Corpus, queries and qrels/SPLIT.tsv of a BEIR folder, cross-checked; keeps only the judged queries."""
    root = Path(folder)
    if not root.is_dir():
        expected = f"{CORPUS_FILE}, {QUERIES_FILE} and qrels/{split}.tsv"
        raise _error(root, None, None, "dataset folder not found", f"pass a folder holding {expected}")
    corpus = load_beir_corpus(root)
    all_queries = load_queries(root)
    qrels_file = root / "qrels" / f"{split}.tsv"
    qrels = load_qrels(qrels_file, {document.doc_id for document in corpus}, set(all_queries))
    queries = {qid: query for qid, query in all_queries.items() if qid in qrels}
    return BeirDataset(name=root.resolve().name, corpus=corpus, queries=queries, qrels=qrels)
