"""Request and response bodies of the write endpoints (POST/PUT/DELETE /documents, POST /index/rebuild)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from corpus.doc_ids import DOC_ID_MAX_CHARS, DOC_ID_REGEX, DOC_ID_RULE, SHOWN_CHARS, is_valid_doc_id
from corpus.errors import InvalidDocumentIdError
from corpus.records import metadata_strings
from corpus.types import Document
from indexer.live import MAX_TITLE_CHARS
from service.query_contract import JsonNumber

KNOWN_FIELDS = {"doc_id", "title", "text", "author", "publisher", "url", "metadata", "page_starts"}


class DocumentBody(BaseModel):
    """A document to store. Keys other than the named fields go into ``metadata`` (as strings)."""

    # Extra keys are scalars (they become metadata strings); the schema says so.
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={"additionalProperties": {"type": ["string", "number", "boolean", "null"]}},
    )

    title: str = Field(
        ...,
        min_length=1,
        description=f"the document's title (at most {MAX_TITLE_CHARS:,} characters)",
        json_schema_extra={"maxLength": MAX_TITLE_CHARS},  # refused by indexer.live, in its own words
    )
    text: str = Field(..., min_length=1, description="the document's text; citations index into it")
    author: str | None = None
    publisher: str | None = None
    url: str | None = None
    metadata: dict[str, Any] = Field(
        default_factory=dict,
        description="any extra fields, stored as strings as a JSON line's are: a string as it is, any other "
        'value as JSON text (true is "true", [1, 2] is "[1, 2]"), a null left out',
    )
    page_starts: list[Annotated[int, JsonNumber]] | None = Field(
        None,
        description="a paged document's (a PDF's) offsets in text where each page begins, from 0, never "
        "decreasing; citations then name their pages (citeqa add --url sends them)",
    )

    @field_validator("metadata")
    @classmethod
    def stored_as_strings(cls, value: dict[str, Any]) -> dict[str, str]:
        try:
            return metadata_strings(value)
        except RecursionError:  # pydantic reports ValueError as a 422; this would be a 500
            raise ValueError("a metadata value nests too deeply; send it flatter, or as a string") from None

    @model_validator(mode="after")
    def extras_to_metadata(self) -> DocumentBody:
        """Extra keys become metadata as a file's record or a JSON line's do (``corpus.records``)."""
        # A PUT body may repeat its path's doc_id (GET /documents/{doc_id} returns one): an id, not metadata.
        extra = {k: v for k, v in (self.model_extra or {}).items() if k != "doc_id"}
        for key, value in extra.items():
            if isinstance(value, dict | list):
                raise ValueError(f"extra field {key!r} must be a string, number or boolean")
        self.metadata.update(metadata_strings(extra))
        return self

    def document(self, doc_id: str) -> Document:
        """The document stored as ``doc_id``; an id the body names too must be the same one."""
        named = (self.model_extra or {}).get("doc_id")
        if named is not None and named != doc_id:
            raise InvalidDocumentIdError(
                f"the body's field 'doc_id' ({named!r}) is not the URL path's id {doc_id!r}; "
                "leave it out of the body or send the same id, as a string"
            )
        return Document(
            doc_id=doc_id,
            title=self.title,
            text=self.text,
            author=self.author,
            publisher=self.publisher,
            url=self.url,
            provenance="api",
            metadata=dict(self.metadata),
            page_starts=tuple(self.page_starts or ()),
        )


class NewDocument(DocumentBody):
    # The schema states the rule; the validator says it in words (pydantic's own message was the regex).
    doc_id: str = Field(
        ...,
        description=DOC_ID_RULE,
        json_schema_extra={"pattern": DOC_ID_REGEX, "maxLength": DOC_ID_MAX_CHARS},
    )

    @field_validator("doc_id")
    @classmethod
    def follows_the_rule(cls, value: str) -> str:
        if not is_valid_doc_id(value):
            shown = value if len(value) <= SHOWN_CHARS else value[:SHOWN_CHARS] + "..."
            raise ValueError(f"{shown!r} is not a doc_id; use {DOC_ID_RULE}")
        return value


class DocumentBatch(BaseModel):
    documents: list[NewDocument] = Field(..., min_length=1, description="documents to add or replace")

    def as_documents(self) -> list[Document]:
        return [d.document(d.doc_id) for d in self.documents]


class WriteOut(BaseModel):
    index_version: int = Field(..., ge=1, description="the first index version that contains this write")
    op: str = Field(..., description="put, delete or rebuild")
    doc_ids: list[str] = Field(..., description="the documents written")
    embedded_passages: int = Field(..., ge=0, description="passages chunked and embedded by this write")

    @classmethod
    def of(cls, result: Any) -> WriteOut:
        return cls(
            index_version=result.index_version,
            op=result.op,
            doc_ids=list(result.doc_ids),
            embedded_passages=result.embedded_passages,
        )
