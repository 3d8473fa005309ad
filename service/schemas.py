"""Request and response bodies of the HTTP API (the contract outside clients depend on)."""

from __future__ import annotations

from dataclasses import MISSING, asdict, fields
from typing import Any, get_type_hints

from pydantic import BaseModel, Field, create_model

from citeqa.answers import Answer, Response, Result
from citeqa.types import Citation, DocumentInfo, SearchMode
from corpus.types import Document


class _CitationBase(BaseModel):
    @classmethod
    def from_citation(cls, c: Citation) -> CitationOut:
        return cls(**asdict(c))  # type: ignore[return-value]


CITATION_DESCRIPTIONS = {
    "start": "offset in Unicode code points of the first cited character in the document's text",
    "end": "offset in code points just after the last cited character: text[start:end] is the citation",
    "page": "PDF: the page (from 1) that holds the first cited character; null without pages",
    "page_end": "PDF: the page of the last cited character when it is a later page, else null",
}
# The API's citation is the query core's Citation, field for field (derived, so the two cannot drift).
CitationOut = create_model(
    "CitationOut",
    __base__=_CitationBase,
    **{
        f.name: (
            get_type_hints(Citation)[f.name],
            Field(... if f.default is MISSING else f.default, description=CITATION_DESCRIPTIONS.get(f.name)),
        )
        for f in fields(Citation)
    },
)


class HighlightOut(BaseModel):
    start: int = Field(..., description="document offset of an answering sentence inside the result")
    end: int


class SnippetOut(BaseModel):
    text: str = Field(
        ...,
        description="what a search box shows: the answering sentences with some context (at most 300 "
        "characters), exactly document.text[start:end]",
    )
    start: int = Field(..., description="document offset in code points of the snippet's first character")
    end: int = Field(..., description="document offset just after its last character")

    @classmethod
    def of(cls, result: Result) -> SnippetOut:
        """The result's snippet (a result from outside the answer layer has none: its whole text)."""
        snippet = result.snippet
        if snippet is None:
            c = result.citation
            return cls(text=result.text, start=c.start, end=c.end)
        return cls(text=snippet.text, start=snippet.start, end=snippet.end)


class ResultOut(BaseModel):
    rank: int
    score: float = Field(
        ..., description="fused ranking score: orders one question's results; not comparable across questions"
    )
    relevance: float = Field(
        ...,
        ge=0.0,
        le=1.0,
        description="calibrated probability that this result answers the question (the answerability "
        "model applied to this result alone; 0.5 or more: it would be judged answering)",
    )
    text: str = Field(..., description="the whole result, exactly document.text[citation.start:citation.end]")
    citation: CitationOut
    highlights: list[HighlightOut] = Field(..., description="the sentences that best answer the question")
    snippet: SnippetOut = Field(..., description="the answering sentences in context, short enough to list")

    @classmethod
    def from_result(cls, result: Result) -> ResultOut:
        return cls(
            rank=result.rank,
            score=result.score,
            relevance=0.0 if result.relevance is None else result.relevance,
            text=result.text,
            citation=CitationOut.from_citation(result.citation),
            highlights=[HighlightOut(start=h.start, end=h.end) for h in result.highlights],
            snippet=SnippetOut.of(result),
        )


class AnswerOut(BaseModel):
    text: str = Field(..., description="the answering sentence, exactly document.text[start:end]")
    score: float
    citation: CitationOut = Field(..., description="the sentence's span in its document")

    @classmethod
    def from_answer(cls, answer: Answer) -> AnswerOut:
        return cls(text=answer.text, score=answer.score, citation=CitationOut.from_citation(answer.citation))


class QueryResponse(BaseModel):
    question: str
    mode: SearchMode
    took_ms: float
    answerable: bool = Field(..., description="whether the corpus answers the question (calibrated)")
    confidence: float = Field(..., ge=0.0, le=1.0, description="confidence that it does")
    answer: AnswerOut | None = Field(..., description="the best answering sentence, or null if unanswerable")
    offset: int = Field(0, description="results skipped before these (the request's offset)")
    has_more: bool = Field(False, description="true when a next page (offset + k) has results")
    index_version: int = Field(..., ge=1, description="the version of the index this response came from")
    results: list[ResultOut]

    @classmethod
    def from_response(cls, response: Response, took_ms: float) -> QueryResponse:
        return cls(
            question=response.question,
            mode=response.mode,
            took_ms=took_ms,
            answerable=response.answerable,
            confidence=response.confidence,
            answer=AnswerOut.from_answer(response.answer) if response.answer else None,
            offset=response.offset,
            has_more=response.has_more,
            index_version=response.index_version,
            results=[ResultOut.from_result(r) for r in response.results],
        )


class _DocumentSummaryBase(BaseModel):
    @classmethod
    def from_document(cls, document: Document) -> DocumentSummary:
        return cls(**asdict(DocumentInfo.of(document)))  # type: ignore[return-value]


# The API's document summary is the query core's DocumentInfo, field for field (derived, so they agree).
DocumentSummary = create_model(
    "DocumentSummary",
    __base__=_DocumentSummaryBase,
    **{f.name: (dict[str, str] if f.name == "metadata" else get_type_hints(DocumentInfo)[f.name], ...)
       for f in fields(DocumentInfo)},
)


class DocumentList(BaseModel):
    documents: list[DocumentSummary]
    total: int = Field(..., description="documents stored in the index")
    offset: int = Field(0, description="documents skipped before this page")
    next_offset: int | None = Field(
        None, description="the offset of the next page (null on the last page): GET /documents?offset=..."
    )


class DocumentOut(DocumentSummary):
    text: str = Field(..., description="the cleaned text that citation offsets index into")
    page_starts: list[int] = Field(
        default_factory=list,
        description="PDF: the offset in text where each page begins (page 1 first); empty without pages",
    )


class HealthOut(BaseModel):
    status: str = Field(..., description='"ok"; "degraded" while the index folder cannot be opened')
    index: dict[str, Any] = Field(..., description="the index served (the last one opened, when degraded)")
    message: str | None = Field(None, description="when degraded: what is wrong and how to fix it")


class ReadyOut(BaseModel):
    status: str
    message: str
    documents: int | None = None
    passages: int | None = None
    took_ms: float | None = None


class ErrorOut(BaseModel):
    error: str
    message: str
    detail: list[dict[str, Any]] | None = None
