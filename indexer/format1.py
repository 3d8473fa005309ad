"""Read an index folder of format 1 (one block: documents.jsonl, passages.jsonl, FAISS shards, bm25s),
the layout before segments, so that ``indexer.upgrade`` can turn it into format 2 without embedding."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from corpus.types import Document
from indexer.errors import IndexMismatchError
from indexer.faiss_factory import IndexSpec
from indexer.index_folder import (
    DOCUMENTS,
    FORMAT1,
    PASSAGES,
    REBUILD_HINT,
    document_from_record,
    read_jsonl,
    read_manifest,
    recover_interrupted_swap,
    verify_files,
)
from indexer.index_settings import IndexSettings
from indexer.types import Passage
from indexer.vector_index import FaissIndex


@dataclass(frozen=True)
class Format1Index:
    path: Path
    manifest: dict[str, Any]
    documents: dict[str, Document]
    passages: list[Passage]
    vectors: np.ndarray

    @property
    def version(self) -> int:
        return format1_manifest_version(self.manifest, self.path)


def format1_manifest_version(manifest: dict[str, Any], folder: Path) -> int:
    """The version a format-1 manifest records (1 when it records none); one that is not a whole number
    from 1 up (null, "2", 2.5: a hand edit) is refused, naming the field: the upgrade would not know
    which writes of the journal the folder already holds."""
    version = manifest.get("version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise IndexMismatchError(
            f"index at {folder}: manifest.json has version {json.dumps(version)}, not a whole number from 1 "
            "up; set it to the version the index was at (1 if nothing was ever written into it), or replace "
            f"the index from the corpus with `citeqa index --force --index {folder}` (what was written into "
            "it is then lost)"
        )
    return version


def is_format1(folder: Path) -> bool:
    recover_interrupted_swap(Path(folder))  # a crash between the two renames of a swap (an upgrade's)
    try:
        return read_manifest(Path(folder), formats=(FORMAT1,)).get("format_version") == FORMAT1
    except IndexMismatchError:
        return False


def load_format1(folder: Path) -> Format1Index:
    """The documents, passages and vectors of a format-1 folder, checked against its manifest."""
    folder = Path(folder)
    recover_interrupted_swap(folder)
    hint = REBUILD_HINT.format(path=folder)
    manifest = read_manifest(folder, formats=(FORMAT1,))
    format1_manifest_version(manifest, folder)
    verify_files(folder, manifest, checksums=True)
    documents = {r["doc_id"]: document_from_record(r) for r in read_jsonl(folder / DOCUMENTS)}
    try:
        passages = [Passage(**r) for r in read_jsonl(folder / PASSAGES)]
    except TypeError:
        raise IndexMismatchError.hinted(f"index at {folder}: bad passage record", hint) from None
    for position, passage in enumerate(passages):
        document = documents.get(passage.doc_id)
        if (
            passage.passage_id != position
            or document is None
            or document.text[passage.start : passage.end] != passage.text
        ):
            raise IndexMismatchError.hinted(
                f"index at {folder}: passage {position} does not quote its document exactly", hint
            )
    try:
        dimension, _ = manifest["model"]["dimension"], manifest["model"]["name"]
        IndexSettings.of_manifest(manifest)
        dense = FaissIndex.load(
            [folder / shard["faiss"] for shard in manifest["shards"]],
            [IndexSpec.from_manifest(shard.get("index"), dimension) for shard in manifest["shards"]],
        )
    except (KeyError, TypeError) as err:
        raise IndexMismatchError.hinted(f"index at {folder}: manifest.json lacks {err}", hint) from None
    except ValueError as err:  # settings out of their range (ChunkerSettings)
        raise IndexMismatchError.hinted(f"index at {folder}: manifest.json holds {err}", hint) from None
    if len(dense) != len(passages):
        raise IndexMismatchError.hinted(
            f"index at {folder}: file contents do not match the manifest counts", hint
        )
    vectors = (
        dense.vectors(np.arange(len(dense), dtype=np.int64))
        if len(dense)
        else np.empty((0, dimension), np.float32)
    )
    return Format1Index(folder, manifest, documents, passages, vectors)
