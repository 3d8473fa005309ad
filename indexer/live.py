"""The living index: the current immutable snapshot, one writer at a time, a write-ahead journal.

Readers take ``live.current`` once and use only that snapshot: they never wait on a writer, and every
answer comes from one version. A write builds the next snapshot from the current one (see
indexer.snapshot.compose: only new or changed documents are embedded), appends the batch to the journal
with fsync (durable), then swaps the reference in one assignment and returns the new version.

Every ``checkpoint_every`` writes, and on ``close``, the snapshot is written as the index folder
(staged beside it, swapped in) and the journal keeps only what the folder does not hold.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from corpus.doc_ids import check_doc_id
from corpus.errors import CorpusError
from corpus.ingest import MAX_BULK_DOCUMENTS, MAX_DOCUMENT_CHARS
from corpus.types import Document
from indexer.embedding import Encoder
from indexer.errors import DocumentNotFoundError, LastDocumentError
from indexer.index_folder import document_from_record, document_record
from indexer.journal import Journal, JournalEntry, journal_path, read_journal
from indexer.load import LoadedIndex, load_index
from indexer.snapshot import compose, write_checkpoint

DEFAULT_CHECKPOINT_EVERY = 100

OpName = Literal["put", "delete", "rebuild"]


@dataclass(frozen=True)
class WriteResult:
    index_version: int
    op: OpName
    doc_ids: tuple[str, ...]
    embedded_documents: int
    embedded_passages: int


def validate_document(document: Document, max_chars: int = MAX_DOCUMENT_CHARS) -> Document:
    check_doc_id(document.doc_id)
    if not document.title.strip():
        raise CorpusError(f"document {document.doc_id!r}: title is empty; every document needs a title")
    if not document.text.strip():
        raise CorpusError(f"document {document.doc_id!r}: text is empty; send the document's text")
    if len(document.text) > max_chars:
        raise CorpusError(
            f"document {document.doc_id!r} has {len(document.text)} characters, over the limit of "
            f"{max_chars}; split it into several documents"
        )
    return document


def replay(index: LoadedIndex, entries: Sequence[JournalEntry], encoder: Encoder) -> LoadedIndex:
    """``index`` with the journal entries it does not hold yet applied, as one snapshot."""
    pending = [e for e in entries if e.version > index.version]
    if not pending:
        return index
    documents = dict(index.documents)
    for entry in pending:
        for op in entry.ops:
            apply_op(documents, op)
    latest = pending[-1].version
    return compose(list(documents.values()), index, encoder, index.manifest, latest, index.path).index


def apply_op(documents: dict[str, Document], op: dict[str, Any]) -> None:
    if op["op"] == "put":
        document = document_from_record(op["document"])
        documents[document.doc_id] = document
    elif op["op"] == "delete":
        documents.pop(op["doc_id"], None)
    else:
        raise CorpusError(f"unknown journal op {op['op']!r}")


class LiveIndex:
    def __init__(
        self,
        index: LoadedIndex,
        encoder: Encoder,
        journal: Journal | None,
        checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
    ) -> None:
        self._current = index
        self.encoder = encoder
        self.journal = journal
        self.checkpoint_every = checkpoint_every
        self.folder = index.path
        self._write_lock = threading.Lock()
        self._rebuild_lock = threading.Lock()
        self._since_checkpoint = 0
        self.writes: dict[str, int] = {"put": 0, "delete": 0, "rebuild": 0}
        self._tokens: dict[str, list[str]] = {}  # BM25 tokens of the current passages, for the next write

    @classmethod
    def open(
        cls,
        folder: Path,
        encoder: Encoder,
        expected_model: str | None = None,
        writable: bool = True,
        checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
        holder: str = "another process",
        index: LoadedIndex | None = None,
    ) -> LiveIndex:
        """The checkpoint at ``folder`` (or ``index``, already loaded from it) with its journal replayed.
        ``writable`` locks the journal (one writer per index) and cuts off a torn last line."""
        folder = Path(folder)
        journal = Journal(journal_path(folder), holder) if writable else None
        try:
            loaded = index if index is not None else load_index(folder, expected_model)
            entries = read_journal(journal_path(folder), repair=writable)
            return cls(replay(loaded, entries, encoder), encoder, journal, checkpoint_every)
        except BaseException:
            if journal is not None:
                journal.close()
            raise

    @property
    def current(self) -> LoadedIndex:
        return self._current

    @property
    def version(self) -> int:
        return self._current.version

    def _require_journal(self) -> Journal:
        if self.journal is None:
            raise CorpusError("this index is open read-only; writes need a writable LiveIndex")
        return self.journal

    def put(
        self,
        documents: Sequence[Document],
        max_chars: int = MAX_DOCUMENT_CHARS,
        max_documents: int = MAX_BULK_DOCUMENTS,
    ) -> WriteResult:
        """Add or replace ``documents`` (by doc_id) in one write."""
        if not documents:
            raise CorpusError("no documents to add; send at least one")
        if len(documents) > max_documents:
            raise CorpusError(
                f"{len(documents)} documents in one write, over the limit of {max_documents}; "
                "send them in several requests"
            )
        if len({d.doc_id for d in documents}) != len(documents):
            raise CorpusError("the same doc_id appears twice in one write; send each document once")
        for document in documents:
            validate_document(document, max_chars)
        ops = [{"op": "put", "document": document_record(d)} for d in documents]
        return self._write("put", ops, tuple(d.doc_id for d in documents))

    def delete(self, doc_ids: Sequence[str]) -> WriteResult:
        current = self._current.documents
        for doc_id in doc_ids:
            if doc_id not in current:
                raise DocumentNotFoundError(f"no document with doc_id {doc_id!r}; GET /documents lists them")
        return self._write("delete", [{"op": "delete", "doc_id": d} for d in doc_ids], tuple(doc_ids))

    def _write(self, name: OpName, ops: list[dict[str, Any]], doc_ids: tuple[str, ...]) -> WriteResult:
        journal = self._require_journal()
        with self._write_lock:
            base = self._current
            documents = dict(base.documents)
            for op in ops:
                if op["op"] == "delete" and op["doc_id"] not in documents:
                    raise DocumentNotFoundError(f"no document with doc_id {op['doc_id']!r}")
                apply_op(documents, op)
            if not documents:
                raise LastDocumentError(
                    "an index needs at least one document; add another before removing the last"
                )
            version = base.version + 1
            composed = compose(
                list(documents.values()),
                base,
                self.encoder,
                base.manifest,
                version,
                self.folder,
                self._tokens,
            )
            journal.append(JournalEntry(version, tuple(ops)))
            self._current = composed.index
            self.writes[name] += 1
            self._since_checkpoint += 1
            if self._since_checkpoint >= self.checkpoint_every:
                self._checkpoint_locked()
        return WriteResult(version, name, doc_ids, composed.embedded_documents, composed.embedded_passages)

    def rebuild(self) -> WriteResult:
        """Re-embed every document beside the live snapshot (readers and writers carry on), apply the writes
        that landed meanwhile on top, swap it in, and write it as the checkpoint."""
        journal = self._require_journal()
        with self._rebuild_lock:
            start = self._current
            built = compose(
                list(start.documents.values()), None, self.encoder, start.manifest, start.version, self.folder
            )
            with self._write_lock:
                now = self._current
                version = now.version + 1
                composed = compose(
                    list(now.documents.values()),
                    built.index,
                    self.encoder,
                    now.manifest,
                    version,
                    self.folder,
                )
                # An empty batch records the new version, so it survives a crash before the checkpoint.
                journal.append(JournalEntry(version, ()))
                self._current = composed.index
                self.writes["rebuild"] += 1
                self._checkpoint_locked()
        embedded = built.embedded_passages + composed.embedded_passages
        return WriteResult(version, "rebuild", (), len(now.documents), embedded)

    def checkpoint(self) -> None:
        with self._write_lock:
            self._checkpoint_locked()

    def _checkpoint_locked(self) -> None:
        journal = self._require_journal()
        snapshot = self._current
        write_checkpoint(snapshot, self.folder)
        journal.trim(snapshot.version)
        self._since_checkpoint = 0

    def close(self) -> None:
        """Write a checkpoint if writes happened since the last one, and release the journal."""
        if self.journal is None:
            return
        with self._write_lock:
            if self._since_checkpoint:
                self._checkpoint_locked()
            self.journal.close()
