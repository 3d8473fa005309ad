"""The typed data contracts passed between stages: corpus -> passages -> hits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

SearchMode = Literal["hybrid", "dense", "bm25"]
SEARCH_MODES: tuple[SearchMode, ...] = ("hybrid", "dense", "bm25")


@dataclass(frozen=True)
class Document:
    """A cleaned source document; citations index into ``text``."""

    doc_id: str
    title: str
    text: str
    author: str | None = None
    publisher: str | None = None
    url: str | None = None
    provenance: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Passage:
    """A span of one document: ``document.text[start:end] == text``."""

    passage_id: int
    doc_id: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Citation:
    doc_id: str
    title: str
    url: str | None
    author: str | None
    publisher: str | None
    start: int
    end: int

    @classmethod
    def of(cls, document: Document, start: int, end: int) -> Citation:
        """The citation of ``document.text[start:end]``."""
        return cls(
            doc_id=document.doc_id,
            title=document.title,
            url=document.url,
            author=document.author,
            publisher=document.publisher,
            start=start,
            end=end,
        )


@dataclass(frozen=True)
class Hit:
    rank: int
    score: float
    passage: Passage
    citation: Citation
