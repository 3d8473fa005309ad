"""Rebuild an index folder from its stored documents (each segment's documents.arrow, with the deletes
the commit names), for when another index file is damaged: passages, vectors and postings are made again;
the documents are the truth."""

from __future__ import annotations

from pathlib import Path

from corpus.types import Document
from indexer.commit_point import write_lock
from indexer.embedding import Encoder
from indexer.errors import IndexMismatchError
from indexer.index_folder import read_manifest, verify_listed
from indexer.index_settings import IndexSettings
from indexer.live import WriteResult
from indexer.load import SegmentCache
from indexer.segment import DOCUMENTS_FILE, SEGMENTS, document_of, read_arrow, read_deletes
from indexer.text_rules import TEXT_RULES
from indexer.writer import Changes, commit_changes, prepare_segment, write_new_segment


def stored_documents(folder: Path) -> list[Document]:
    """The live documents of the current commit, read from the segments' document tables alone (checked
    against their checksums); damage to those is said plainly."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    documents: list[Document] = []
    for entry in manifest.get("segments", []):
        relative = f"{SEGMENTS}/{entry['name']}/{DOCUMENTS_FILE}"
        damaged = (
            f"the stored documents {folder / relative} are damaged ({{why}}); they cannot be rebuilt from: "
            "restore the index folder from a backup, or rebuild from the corpus with "
            f"`citeqa index --index {folder}`"
        )
        try:
            verify_listed(folder, {relative: manifest["files"][relative]}, checksums=True)
            table = read_arrow(folder / relative)
        except (IndexMismatchError, KeyError, OSError) as err:
            raise IndexMismatchError(damaged.format(why=str(err))) from None
        deleted = set(read_deletes(folder, entry).tolist())
        rows = [row for row in range(table.num_rows) if row not in deleted]
        documents.extend(document_of(record) for record in table.take(rows).to_pylist())
    return documents


def rebuild_from_stored(folder: Path, encoder: Encoder) -> WriteResult:
    """Re-chunk and re-embed every stored document into one new segment that replaces every segment."""
    folder = Path(folder)
    with write_lock(folder):
        manifest = read_manifest(folder)
        documents = stored_documents(folder)
        settings = IndexSettings.of_manifest(manifest)
        content = prepare_segment(documents, encoder, settings)
        new = write_new_segment(folder, content, int(manifest.get("generation", 0)), settings.index_type)
        dropped = frozenset(e["name"] for e in manifest.get("segments", []))
        # Every segment is cut and tokenized anew, by the current text rules (indexer.cjk), and embedded by
        # this encoder: the manifest names its model, whatever the damaged one said.
        model = {"name": encoder.name, "dimension": encoder.dimension, "normalized": True}
        changes = Changes(
            add=(new,), drop=dropped, manifest_updates={"text_rules": TEXT_RULES, "model": model}
        )
        index = commit_changes(folder, changes, SegmentCache(folder))
    ids = tuple(d.doc_id for d in documents)
    return WriteResult(index.version, "rebuild", ids, len(documents), len(content.passages))
