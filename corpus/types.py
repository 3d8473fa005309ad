"""The document: what the corpus layer hands to every layer above it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import pairwise

from corpus.errors import CorpusError


@dataclass(frozen=True)
class Document:
    """A cleaned source document; citations index into ``text``.

    ``page_starts`` is empty for documents without pages; for a paged document (a PDF) it holds the
    offset in ``text`` where each page begins: the first is 0, they never decrease, and a page whose
    text is empty starts where the next page does. ``corpus.pages.page_span`` maps a span to its pages.
    """

    doc_id: str
    title: str
    text: str
    author: str | None = None
    publisher: str | None = None
    url: str | None = None
    provenance: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    page_starts: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not self.page_starts:
            if not isinstance(self.page_starts, tuple):
                object.__setattr__(self, "page_starts", ())
            return
        starts = tuple(self.page_starts)
        object.__setattr__(self, "page_starts", starts)
        if (
            not all(type(s) is int for s in starts)
            or starts[0] != 0
            or any(b < a for a, b in pairwise(starts))
            or starts[-1] > len(self.text)
        ):
            raise CorpusError(
                f"document {self.doc_id!r}: field 'page_starts' must be offsets into 'text' that start at 0 "
                f"and never decrease, found {list(starts[:5])}{'...' if len(starts) > 5 else ''}"
            )
