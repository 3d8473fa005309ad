"""Request and response bodies of the HTTP API (the contract outside clients depend on)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from citeqa.search import MAX_QUESTION_CHARS, MAX_TOP_K
from citeqa.types import Document, Hit, SearchMode


class QueryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(..., description="the question, 1 to 2,000 characters")
    top_k: int = Field(5, ge=1, le=MAX_TOP_K, description="how many passages to return")
    mode: SearchMode = Field("hybrid", description="hybrid (default), dense or bm25")
    filters: dict[str, list[str]] | None = Field(
        None,
        description="only passages of documents whose value for every key is one of the listed values; "
        "keys: doc_id, title, author, publisher, url, or a metadata key of the index",
        examples=[{"doc_id": ["bailey-baby-milia"]}],
    )

    @field_validator("question")
    @classmethod
    def question_has_text(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty or only spaces; type a question")
        if len(value) > MAX_QUESTION_CHARS:
            raise ValueError(f"is {len(value)} characters long; shorten it to at most {MAX_QUESTION_CHARS}")
        return value


class CitationOut(BaseModel):
    doc_id: str
    title: str
    url: str | None
    author: str | None
    publisher: str | None
    start: int
    end: int


class ResultOut(BaseModel):
    rank: int
    score: float
    text: str
    citation: CitationOut

    @classmethod
    def from_hit(cls, hit: Hit) -> ResultOut:
        c = hit.citation
        return cls(
            rank=hit.rank,
            score=hit.score,
            text=hit.passage.text,
            citation=CitationOut(
                doc_id=c.doc_id,
                title=c.title,
                url=c.url,
                author=c.author,
                publisher=c.publisher,
                start=c.start,
                end=c.end,
            ),
        )


class QueryResponse(BaseModel):
    question: str
    mode: SearchMode
    took_ms: float
    offset: int = Field(0, description="passages skipped before these (always 0 for POST /query)")
    has_more: bool = Field(False, description="true when a next page (offset + k) has passages")
    results: list[ResultOut]


class DocumentSummary(BaseModel):
    doc_id: str
    title: str
    author: str | None
    publisher: str | None
    url: str | None
    provenance: str | None
    metadata: dict[str, str]
    chars: int

    @classmethod
    def from_document(cls, document: Document) -> DocumentSummary:
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


class DocumentList(BaseModel):
    documents: list[DocumentSummary]


class DocumentOut(DocumentSummary):
    text: str = Field(..., description="the cleaned text that citation offsets index into")


class HealthOut(BaseModel):
    status: str
    index: dict[str, Any]


class ErrorOut(BaseModel):
    error: str
    message: str
    detail: list[dict[str, Any]] | None = None
