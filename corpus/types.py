"""The document: what the corpus layer hands to every layer above it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


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
