"""The living index: the current commit, writes from any thread or process, merges in the background.

Readers take ``live.current`` once and use only that commit: they never wait on a writer or a merge, and
every answer comes from one version. ``current`` notices a commit made by another process (the manifest
changed) and opens it, reusing the segments already open.

A write prepares its segment (chunk, embed, tokenize) without any lock, then, under the index's write
lock, commits it on top of the newest commit: one new segment plus the deletes of the documents it
replaces. It is durable when it returns (every file and the manifest are fsync'ed before the rename that
commits). After each commit the background merger looks for segments to merge (see indexer.merging).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from corpus.doc_ids import check_doc_id
from corpus.errors import CorpusError
from corpus.ingest import MAX_BULK_DOCUMENTS, MAX_DOCUMENT_CHARS
from corpus.types import Document
from corpus.unicode_check import is_blank
from indexer.commit_point import check_writable, manifest_stamp, write_lock
from indexer.embedding import Encoder
from indexer.errors import DocumentNotFoundError, IndexMismatchError, VersionNotReachedError
from indexer.index_folder import read_manifest, recover_interrupted_swap
from indexer.index_settings import IndexSettings
from indexer.load import LoadedIndex, SegmentCache, check_model, load_index, open_commit
from indexer.merging import BackgroundMerger, TieredMergePolicy
from indexer.text_rules import TEXT_RULES
from indexer.writer import Changes, changed_documents, commit_changes, prepare_segment, write_new_segment

MERGE_ERRORS_KEPT = 100

OpName = Literal["put", "delete", "rebuild"]
logger = logging.getLogger("citeqa.indexer")


@dataclass(frozen=True)
class WriteResult:
    index_version: int
    op: OpName
    doc_ids: tuple[str, ...]
    embedded_documents: int
    embedded_passages: int


def check_batch(documents: Sequence[Document], max_documents: int) -> None:
    """A write holds at least one document and at most ``max_documents``."""
    if not documents:
        raise CorpusError("no documents to add; send at least one")
    if len(documents) > max_documents:
        raise CorpusError(
            f"{len(documents)} documents in one write, over the limit of {max_documents}; "
            "send them in several requests"
        )


# A title is embedded and BM25-indexed with every passage of its document: a megabyte of title on a
# document of 167 passages took 6.5 GB of the service's memory. A title is a line, not a text.
MAX_TITLE_CHARS = 1_000


def check_documents(documents: Sequence[Document], max_chars: int, max_documents: int) -> None:
    """Everything a put refuses before it writes: the batch's size, a doc_id given twice, and each
    document's rules (so that a sharded write checks the whole batch before any shard commits)."""
    check_batch(documents, max_documents)
    if len({d.doc_id for d in documents}) != len(documents):
        ids = [d.doc_id for d in documents]
        twice = ", ".join(repr(i) for i in dict.fromkeys(i for i in ids if ids.count(i) > 1))
        raise CorpusError(f"doc_id {twice} appears twice in one write; send each document once")
    for document in documents:
        validate_document(document, max_chars)


def validate_document(document: Document, max_chars: int = MAX_DOCUMENT_CHARS) -> Document:
    check_doc_id(document.doc_id)
    if is_blank(document.title):
        raise CorpusError(f"document {document.doc_id!r}: title is empty; every document needs a title")
    if len(document.title) > MAX_TITLE_CHARS:
        raise CorpusError(
            f"document {document.doc_id!r}: title has {len(document.title):,} characters, over the limit of "
            f"{MAX_TITLE_CHARS:,} (it is indexed with each of the document's passages); shorten it"
        )
    if is_blank(document.text):
        raise CorpusError(f"document {document.doc_id!r}: text is empty; send the document's text")
    if "\x00" in document.text:  # as a text file's (corpus.formats.text.decode): binary, or UTF-16 read as 8
        raise CorpusError(
            f"document {document.doc_id!r}: text holds NUL characters (the first at character "
            f"{document.text.index(chr(0)):,}); send the text as UTF-8 without them"
        )
    if len(document.text) > max_chars:
        raise CorpusError(
            f"document {document.doc_id!r} has {len(document.text)} characters, over the limit of "
            f"{max_chars}; split it into several documents"
        )
    return document


class LiveIndex:
    def __init__(
        self,
        index: LoadedIndex,
        encoder: Encoder,
        cache: SegmentCache,
        writable: bool = True,
        policy: TieredMergePolicy | None = None,
        background_merges: bool = True,
    ) -> None:
        self.folder = index.path
        self.encoder = encoder
        self.writable = writable
        self.policy = policy or TieredMergePolicy()
        self._cache = cache
        self._current = index
        self._stamp = manifest_stamp(self.folder)
        self._reopen_lock = threading.Lock()
        self._take_lock = threading.Lock()
        self.writes: dict[str, int] = {"put": 0, "delete": 0, "rebuild": 0}
        # The newest failures' messages (a merge is retried after every write, so a lasting failure would
        # add one per write); merge_failures counts them all.
        self.merge_errors: deque[str] = deque(maxlen=MERGE_ERRORS_KEPT)
        self.merge_failures = 0
        self.merger = (
            BackgroundMerger(self.folder, cache, self.policy, self._take, self._merge_failed)
            if writable and background_merges
            else None
        )
        if self.merger is not None:
            self.merger.wake()  # segments left unmerged by a previous run

    @classmethod
    def open(
        cls,
        folder: Path,
        encoder: Encoder,
        expected_model: str | None = None,
        writable: bool = True,
        index: LoadedIndex | None = None,
        policy: TieredMergePolicy | None = None,
        background_merges: bool = True,
        mmap: bool = False,
        checksums: bool = True,
    ) -> LiveIndex:
        """The index at ``folder`` at its newest commit (``index``: already opened from it)."""
        folder = Path(folder)
        cache = SegmentCache(folder, mmap, checksums)
        if index is not None:
            cache.adopt(index)
        else:
            index = load_index(folder, expected_model, mmap, checksums, cache)
        return cls(index, encoder, cache, writable, policy, background_merges)

    @property
    def current(self) -> LoadedIndex:
        """The newest commit: a stat of the manifest per call; a changed manifest is opened once."""
        if manifest_stamp(self.folder) != self._stamp:
            self._reopen()
        return self._current

    @property
    def version(self) -> int:
        return self.current.version

    def at_least(self, version: int) -> LoadedIndex:
        """The current commit, which holds ``version`` or a later one (a client that wrote ``version``
        never reads older data); VersionNotReachedError when no commit has reached it yet."""
        index = self.current
        if index.version < version:
            self._reopen(force=True)
            index = self._current
        if index.version < version:
            raise VersionNotReachedError(
                f"index version {version} does not exist yet (the newest is {index.version}); ask for "
                "a version a write returned"
            )
        return index

    def _reopen(self, force: bool = False) -> None:
        with self._reopen_lock:
            stamp = manifest_stamp(self.folder)
            if stamp == self._stamp and not force:
                return
            index = load_index(self.folder, cache=self._cache)
            self._take(index, stamp)

    def _take(self, index: LoadedIndex, stamp: tuple[int, int] | None = None) -> None:
        """Make ``index`` current unless a newer commit already is (merges and writes race to here).
        ``stamp``: the manifest's stamp of that commit, known under the write lock; without it the next
        ``current`` looks at the manifest again (another commit may have followed)."""
        with self._take_lock:
            if index.generation >= self._current.generation:
                self._current = index
                self._stamp = stamp

    def _merge_failed(self, error: BaseException) -> None:
        """A failed merge leaves the commit as it was; it is logged and counted, and retried after the
        next write."""
        logger.error("background merge failed", exc_info=error)
        self.merge_errors.append(f"{type(error).__name__}: {error}")
        self.merge_failures += 1

    def _require_writable(self) -> None:
        if not self.writable:
            raise CorpusError("this index is open read-only; writes need a writable LiveIndex")
        check_writable(self.folder)  # a read-only file system is said before the embedding

    def put(
        self,
        documents: Sequence[Document],
        max_chars: int = MAX_DOCUMENT_CHARS,
        max_documents: int = MAX_BULK_DOCUMENTS,
    ) -> WriteResult:
        """Add or replace ``documents`` (by doc_id) in one commit."""
        self._require_writable()
        check_documents(documents, max_chars, max_documents)
        settings = IndexSettings.of_manifest(self.current.manifest)
        changed = changed_documents(documents, self.current)
        content = prepare_segment(changed, self.encoder, settings)
        with write_lock(self.folder):
            latest = self._latest_locked()
            still = changed_documents(documents, latest)
            if not still:  # every document is already there as sent: nothing to commit
                self.writes["put"] += 1
                return WriteResult(latest.version, "put", tuple(d.doc_id for d in documents), 0, 0)
            if {d.doc_id for d in still} != {d.doc_id for d in changed}:  # another writer came between
                content = prepare_segment(still, self.encoder, settings)
            parts = (write_new_segment(self.folder, content, latest.generation, settings.index_type),)
            changes = Changes(add=parts, delete=frozenset(d.doc_id for d in still))
            index = commit_changes(self.folder, changes, self._cache, current=latest)
            self._take(index, manifest_stamp(self.folder))
        self.writes["put"] += 1
        self._wake_merger()
        doc_ids = tuple(d.doc_id for d in documents)
        return WriteResult(index.version, "put", doc_ids, len(still), len(content.passages))

    def delete(self, doc_ids: Sequence[str]) -> WriteResult:
        self._require_writable()
        for doc_id in doc_ids:
            if doc_id not in self.current.documents:
                raise DocumentNotFoundError(f"no document with doc_id {doc_id!r}; GET /documents lists them")
        with write_lock(self.folder):
            latest = self._latest_locked()
            for doc_id in doc_ids:
                if doc_id not in latest.documents:
                    raise DocumentNotFoundError(f"no document with doc_id {doc_id!r}")
            changes = Changes(delete=frozenset(doc_ids))
            index = commit_changes(self.folder, changes, self._cache, current=latest)
            self._take(index, manifest_stamp(self.folder))
        self.writes["delete"] += 1
        self._wake_merger()
        return WriteResult(index.version, "delete", tuple(doc_ids), 0, 0)

    def rebuild(self) -> WriteResult:
        """Re-chunk and re-embed every document beside the live index (readers and writers carry on),
        then commit the result in place of the segments it was made from; writes that landed meanwhile
        are kept (their deletes carried over, their segments left as they are)."""
        self._require_writable()
        start = self.current
        settings = IndexSettings.of_manifest(start.manifest)
        origins = []
        for segment in start.segments:
            origins.extend((segment.reader.name, int(row)) for row in segment.doc_live.nonzero()[0])
        documents = [start.documents[doc_id] for doc_id in start.documents]
        content = prepare_segment(documents, self.encoder, settings)
        with write_lock(self.folder):
            latest = self._latest_locked()
            new = write_new_segment(self.folder, content, latest.generation, settings.index_type, origins)
            dropped = frozenset(s.reader.name for s in start.segments)
            # Every document is cut anew by the current text rules (indexer.cjk), as are the segments of
            # writes that landed meanwhile: the manifest says so, as `citeqa rebuild` records it.
            changes = Changes(add=(new,), drop=dropped, manifest_updates={"text_rules": TEXT_RULES})
            index = commit_changes(self.folder, changes, self._cache, current=latest)
            self._take(index, manifest_stamp(self.folder))
        self.writes["rebuild"] += 1
        return WriteResult(index.version, "rebuild", (), len(documents), len(content.passages))

    def _latest_locked(self) -> LoadedIndex:
        """The newest commit, under the write lock: the current one when the manifest still is its
        manifest (one read, nothing opened), else the manifest's commit, opened."""
        current = self._current
        recover_interrupted_swap(self.folder)
        manifest = read_manifest(self.folder)
        if manifest == current.manifest:
            return current
        check_model(self.folder, manifest, current.model_name)
        return open_commit(self.folder, manifest, self._cache)

    def _wake_merger(self) -> None:
        if self.merger is not None:
            self.merger.wake()

    def wait_for_merges(self, timeout: float | None = None) -> bool:
        """Wait until no merge runs or is due (tests and benchmarks); True if idle."""
        return True if self.merger is None else self.merger.wait_idle(timeout)

    def checkpoint(self) -> None:
        """Every write is a commit; kept for callers of the format-1 API (nothing to write)."""

    def close(self) -> None:
        """Stop the background merger (a merge under way finishes first; its commit is whole or absent)."""
        if self.merger is not None:
            self.merger.close()


__all__ = ["IndexMismatchError", "LiveIndex", "WriteResult", "open_commit", "validate_document"]
