"""Load an index folder, refusing one whose files or settings do not match its manifest."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corpus.types import Document
from indexer.bm25_index import Bm25Index
from indexer.errors import IndexMismatchError
from indexer.faiss_factory import IndexSpec
from indexer.index_folder import (
    DOCUMENTS,
    PASSAGES,
    REBUILD_HINT,
    document_from_record,
    read_jsonl,
    read_manifest,
    recover_interrupted_swap,
    verify_files,
)
from indexer.types import Passage
from indexer.vector_index import FaissIndex


@dataclass(frozen=True)
class LoadedIndex:
    path: Path
    manifest: dict[str, Any]
    documents: dict[str, Document]
    passages: list[Passage]
    dense: FaissIndex
    bm25: Bm25Index

    @property
    def model_name(self) -> str:
        return self.manifest["model"]["name"]

    @property
    def version(self) -> int:
        """The index version: every change to the corpus makes a higher one (a fresh build is 1)."""
        return int(self.manifest.get("version", 1))


def load_index(
    folder: Path, expected_model: str | None = None, mmap: bool = False, checksums: bool = True
) -> LoadedIndex:
    """Load and check an index folder.

    ``mmap``: FAISS shards are memory-mapped read-only rather than read into memory (start-up in seconds
    for a large index; pages come in as searches touch them). ``checksums=False`` checks each file's
    presence and size only, skipping the sha256 of every byte (`citeqa verify` does the full check).
    """
    folder = Path(folder)
    recover_interrupted_swap(folder)
    hint = REBUILD_HINT.format(path=folder)
    manifest = read_manifest(folder)
    if expected_model is not None and manifest["model"]["name"] != expected_model:
        raise IndexMismatchError(
            f"index at {folder} was built with model {manifest['model']['name']!r} but the configured model "
            f"is {expected_model!r}; {hint}, or configure the index's model"
        )
    verify_files(folder, manifest, checksums=checksums)
    documents = {r["doc_id"]: document_from_record(r) for r in read_jsonl(folder / DOCUMENTS)}
    try:
        passages = [Passage(**r) for r in read_jsonl(folder / PASSAGES)]
    except TypeError:
        raise IndexMismatchError(f"index at {folder}: bad passage record; {hint}") from None
    check_passages(passages, documents, folder)
    dimension = manifest["model"]["dimension"]
    dense = FaissIndex.load(
        [folder / shard["faiss"] for shard in manifest["shards"]],
        [IndexSpec.from_manifest(shard.get("index"), dimension) for shard in manifest["shards"]],
        mmap=mmap,
    )
    bm25 = Bm25Index.load(folder / manifest["bm25"]["folder"])
    counts = manifest["counts"]
    if (len(documents), len(passages), len(dense), len(bm25)) != (
        counts["documents"],
        counts["passages"],
        counts["passages"],
        counts["passages"],
    ):
        raise IndexMismatchError(f"index at {folder}: file contents do not match the manifest counts; {hint}")
    if dense.dimension != manifest["model"]["dimension"]:
        raise IndexMismatchError(f"index at {folder}: FAISS dimension differs from the manifest; {hint}")
    return LoadedIndex(folder, manifest, documents, passages, dense, bm25)


def check_passages(passages: list[Passage], documents: dict[str, Document], folder: Path) -> None:
    """Ids are 0..n-1 in order, and every passage is exactly its document's text[start:end]."""
    for position, passage in enumerate(passages):
        document = documents.get(passage.doc_id)
        if (
            passage.passage_id != position
            or document is None
            or document.text[passage.start : passage.end] != passage.text
        ):
            raise IndexMismatchError(
                f"index at {folder}: passage {position} does not quote its document exactly; "
                + REBUILD_HINT.format(path=folder)
            )
