"""The query core's contracts: search modes, citations and hits (documents and passages come from the
layers below: ``corpus.types``, ``indexer.types``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from corpus.types import Document
from indexer.types import Passage

SearchMode = Literal["hybrid", "dense", "bm25"]
SEARCH_MODES: tuple[SearchMode, ...] = ("hybrid", "dense", "bm25")


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
