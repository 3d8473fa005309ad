"""Pick the loader for a corpus path: a BEIR corpus.jsonl (the file itself or a folder holding one), else
the one ingestion path (``corpus.ingest``) for a folder or file of documents."""

from __future__ import annotations

from pathlib import Path

from corpus.beir import load_beir_corpus
from corpus.errors import CorpusError
from corpus.ingest import OnError, ingest_paths
from corpus.report import Ingested, IngestReport
from corpus.types import Document


def is_beir_corpus(path: Path) -> bool:
    return (path.is_file() and path.suffix == ".jsonl") or (path / "corpus.jsonl").is_file()


def ingest_corpus(path: Path, *, errors: OnError = "raise") -> Ingested:
    """The documents of a corpus path and the report of what was taken and skipped (``corpus.ingest``)."""
    path = Path(path)
    if not path.exists():
        raise CorpusError(f"{path}: no such file or folder; pass a documents folder or a BEIR corpus.jsonl")
    if is_beir_corpus(path):
        documents = load_beir_corpus(path)
        return Ingested(tuple(documents), IngestReport(taken={".jsonl": 1}, documents=len(documents)))
    return ingest_paths([path], errors=errors)


def load_corpus(path: Path) -> list[Document]:
    return list(ingest_corpus(path).documents)
