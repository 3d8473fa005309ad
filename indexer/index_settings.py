"""The settings that decide an index's contents besides the corpus itself, and what is embedded."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from corpus.types import Document
from indexer.chunking import ChunkerSettings
from indexer.faiss_factory import INDEX_TYPES
from indexer.types import Passage


@dataclass(frozen=True)
class IndexSettings:
    """Everything that decides an index's contents besides the corpus itself.

    ``embed_title`` / ``bm25_title``: the document title is put before each passage's text in what is
    embedded / what BM25 indexes (citations always quote the passage's own text).
    ``index_type``: the FAISS index of each segment, "auto" (by size: indexer/faiss_factory.py), "flat",
    "hnsw" or "ivf"; the parameters chosen are recorded per segment in the manifest.
    ``shard_size``: a build writes one segment per this many passages.
    """

    chunker: ChunkerSettings = field(default_factory=ChunkerSettings)
    embed_title: bool = True
    bm25_title: bool = True
    shard_size: int = 1_000_000
    batch_size: int = 64
    index_type: str = "auto"

    def __post_init__(self) -> None:
        if self.index_type not in INDEX_TYPES:
            raise ValueError(f"index_type must be one of {', '.join(INDEX_TYPES)}, not {self.index_type!r}")

    def manifest_view(self) -> dict[str, Any]:
        return {
            "chunker": asdict(self.chunker),
            "embed_title": self.embed_title,
            "bm25_title": self.bm25_title,
            "index_type": self.index_type,
        }

    @classmethod
    def of_manifest(cls, manifest: dict[str, Any]) -> IndexSettings:
        """The settings an index was built with, from its manifest. The first release (format 1) wrote no
        ``bm25_title``: its BM25 read the passage text alone."""
        return cls(
            chunker=ChunkerSettings(**manifest["chunker"]),
            embed_title=bool(manifest["embed_title"]),
            bm25_title=bool(manifest.get("bm25_title", False)),
            index_type=str(manifest.get("index_type", "auto")),
        )


def indexed_title(document: Document) -> str:
    """The title put before a document's passages in what is embedded and indexed: none when the doc_id
    stands in for a missing one (a BEIR line with an empty title): an id such as "CDC_0000001_Sec1" or
    "4983" names the document in a citation but says nothing of its text to the model or to BM25."""
    return "" if document.title == document.doc_id else document.title


def embedding_text(passage: Passage, title: str, embed_title: bool) -> str:
    """What is embedded (or indexed by BM25) for a passage; citations always use the passage's own text."""
    return f"{title}\n{passage.text}" if embed_title and title else passage.text
