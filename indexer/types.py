"""The passage: a span of one document, what the indexer stores and the query core retrieves."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Passage:
    """A span of one document: ``document.text[start:end] == text``."""

    passage_id: int
    doc_id: str
    start: int
    end: int
    text: str
