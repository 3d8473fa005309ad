"""Pick the loader for a corpus path: a BEIR corpus.jsonl (the file itself or a folder holding one), else
the one ingestion path (``corpus.ingest``) for a folder or file of documents."""

from __future__ import annotations

import json
from pathlib import Path

from corpus.beir import CORPUS_FILE, corpus_file, load_beir_corpus
from corpus.errors import CorpusError
from corpus.ingest import OnError, ingest_paths, skip_beside
from corpus.report import Ingested, ReportBuilder
from corpus.types import Document


def is_beir_corpus(path: Path) -> bool:
    """A folder holding a corpus.jsonl, or a .jsonl file named corpus.jsonl or whose first record has an
    ``_id``; any other .jsonl file is a batch of ``{doc_id, title, text}`` lines, as in a folder."""
    if path.is_dir():
        return (path / CORPUS_FILE).is_file()
    return path.is_file() and path.suffix == ".jsonl" and (path.name == CORPUS_FILE or _first_has_id(path))


def _first_has_id(file: Path) -> bool:
    """Whether the first non-blank line of ``file`` is a JSON object with an ``_id`` (unreadable: no, and
    the batch reader names the problem)."""
    try:
        with file.open("rb") as lines:
            texts = (line.decode("utf-8-sig") for line in lines)  # a byte-order mark is not text
            first = next((text for text in texts if text.strip()), "")
        record = json.loads(first)
    except (OSError, ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return False
    return isinstance(record, dict) and "_id" in record


def ingest_corpus(path: Path, *, errors: OnError = "raise") -> Ingested:
    """The documents of a corpus path and the report of what was taken and skipped (``corpus.ingest``)."""
    path = Path(path)
    if not path.exists():
        raise CorpusError(f"{path}: no such file or folder; pass a documents folder or a BEIR corpus.jsonl")
    if is_beir_corpus(path):
        report = ReportBuilder()
        file = corpus_file(path)
        if path.is_dir():
            skip_beside(file, report)
        documents = load_beir_corpus(file)
        report.take(file)
        return Ingested(tuple(documents), report.build(len(documents)))
    return ingest_paths([path], errors=errors)


def load_corpus(path: Path) -> list[Document]:
    return list(ingest_corpus(path).documents)
