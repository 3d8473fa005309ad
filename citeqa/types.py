"""The query core's contracts: search modes, citations, hits, and the results, highlights and answers of a
response (documents and passages come from the layers below: ``corpus.types``, ``indexer.types``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from corpus.pages import page_span
from corpus.types import Document
from indexer.types import Passage

SearchMode = Literal["hybrid", "dense", "bm25"]
SEARCH_MODES: tuple[SearchMode, ...] = ("hybrid", "dense", "bm25")


@dataclass(frozen=True)
class Citation:
    """``document.text[start:end]`` of ``doc_id``; for a paged document (a PDF), ``page`` holds the first
    character (1-based) and ``page_end`` the last when that is on a later page (else None)."""

    doc_id: str
    title: str
    url: str | None
    author: str | None
    publisher: str | None
    start: int
    end: int
    page: int | None = None
    page_end: int | None = None

    @classmethod
    def of(cls, document: Document, start: int, end: int) -> Citation:
        """The citation of ``document.text[start:end]``, with its pages when the document has pages."""
        page, page_end = page_span(document, start, end) if document.page_starts else (None, None)
        return cls(
            doc_id=document.doc_id,
            title=document.title,
            url=document.url,
            author=document.author,
            publisher=document.publisher,
            start=start,
            end=end,
            page=page,
            page_end=page_end,
        )


@dataclass(frozen=True)
class Hit:
    rank: int
    score: float
    passage: Passage
    citation: Citation


@dataclass(frozen=True)
class Highlight:
    """A sentence of a result, in document offsets; ``score`` is its highlight score."""

    start: int
    end: int
    score: float


@dataclass(frozen=True)
class Snippet:
    """What a search box shows of a result: ``text == document.text[start:end]`` (see citeqa.snippets)."""

    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Result:
    """One result: ``text == document.text[citation.start:citation.end]``, made of ``passage_ids`` (best
    first; several when overlapping passages were merged). ``score`` is the fused ranking score (it orders
    the results of one question, nothing more); ``relevance`` is the calibrated answerability model applied
    to this result alone, in [0, 1] (None until the answerability decision is made)."""

    rank: int
    score: float
    text: str
    citation: Citation
    passage_ids: tuple[int, ...]
    highlights: tuple[Highlight, ...] = ()
    relevance: float | None = None
    snippet: Snippet | None = None  # None until the answer layer has chosen the highlights


@dataclass(frozen=True)
class Answer:
    """The best answering sentence of a response (see citeqa.answer_choice); its citation spans the
    sentence only."""

    text: str
    score: float
    citation: Citation


@dataclass(frozen=True)
class Response:
    question: str
    mode: SearchMode
    results: tuple[Result, ...]
    answer: Answer | None
    answerable: bool
    confidence: float
    features: Mapping[str, float]
    offset: int = 0
    has_more: bool = False
    index_version: int = 1


@dataclass(frozen=True)
class DocumentInfo:
    """A document without its text, as GET /documents lists it (``chars`` is the text's length)."""

    doc_id: str
    title: str
    author: str | None
    publisher: str | None
    url: str | None
    provenance: str | None
    metadata: Mapping[str, str]
    chars: int

    @classmethod
    def of(cls, document: Document) -> DocumentInfo:
        return cls(
            doc_id=document.doc_id,
            title=document.title,
            author=document.author,
            publisher=document.publisher,
            url=document.url,
            provenance=document.provenance,
            metadata=dict(document.metadata),
            chars=len(document.text),
        )
