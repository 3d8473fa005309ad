"""Rebuild an index folder from its stored documents (the checkpoint's documents.jsonl plus the journal),
for when an index file is damaged: FAISS, BM25 and passages are made again; the documents are the truth."""

from __future__ import annotations

import json
from pathlib import Path

from corpus.types import Document
from indexer.embedding import Encoder
from indexer.errors import IndexMismatchError
from indexer.index_folder import DOCUMENTS, document_from_record, read_manifest, sha256_file
from indexer.journal import Journal, journal_path, read_journal
from indexer.live import WriteResult, apply_op
from indexer.snapshot import compose, write_checkpoint


def stored_documents(folder: Path) -> list[Document]:
    """The checkpoint's documents, checked against the manifest; damage is said plainly."""
    manifest = read_manifest(folder)
    path = folder / DOCUMENTS
    expected = manifest.get("files", {}).get(DOCUMENTS)
    damaged = (
        f"the stored documents {path} are damaged ({{why}}); they cannot be rebuilt from: restore the "
        f"index folder from a backup, or rebuild from the corpus with `citeqa index --index {folder}`"
    )
    if not path.is_file():
        raise IndexMismatchError(damaged.format(why="missing"))
    if expected is not None and sha256_file(path) != expected["sha256"]:
        raise IndexMismatchError(damaged.format(why="they do not match their checksum in manifest.json"))
    documents = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            try:
                documents.append(document_from_record(json.loads(line)))
            except (json.JSONDecodeError, TypeError):
                raise IndexMismatchError(damaged.format(why=f"line {number} is not a document")) from None
    return documents


def rebuild_from_stored(folder: Path, encoder: Encoder, holder: str = "a running service") -> WriteResult:
    """Re-chunk and re-embed every stored document (journal replayed) into a new checkpoint at ``folder``.
    Takes the journal lock, so it refuses while a service writes this index."""
    folder = Path(folder)
    journal = Journal(journal_path(folder), holder)
    try:
        manifest = read_manifest(folder)
        documents = {d.doc_id: d for d in stored_documents(folder)}
        version = int(manifest.get("version", 1))
        for entry in read_journal(journal.path, repair=True):
            if entry.version > version:
                for op in entry.ops:
                    apply_op(documents, op)
                version = entry.version
        composed = compose(list(documents.values()), None, encoder, manifest, version + 1, folder)
        write_checkpoint(composed.index, folder)
        journal.trim(version + 1)
    finally:
        journal.close()
    return WriteResult(version + 1, "rebuild", tuple(documents), len(documents), composed.embedded_passages)
