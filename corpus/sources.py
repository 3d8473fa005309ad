"""Pick the loader for a corpus path: a folder of NAME.txt + NAME.json documents, or a BEIR
corpus.jsonl (the file itself or a folder holding one)."""

from __future__ import annotations

from pathlib import Path

from corpus.beir import load_beir_corpus
from corpus.errors import CorpusError
from corpus.loader import load_documents
from corpus.types import Document


def is_beir_corpus(path: Path) -> bool:
    return (path.is_file() and path.suffix == ".jsonl") or (path / "corpus.jsonl").is_file()


def load_corpus(path: Path) -> list[Document]:
    path = Path(path)
    if not path.exists():
        raise CorpusError(f"{path}: no such file or folder; pass a documents folder or a BEIR corpus.jsonl")
    if is_beir_corpus(path):
        return load_beir_corpus(path)
    return load_documents(path)
