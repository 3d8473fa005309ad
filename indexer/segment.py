"""One immutable segment of an index folder (format 2), as Lucene writes them: a write batch or a merge
becomes a new segment folder that is never changed afterwards.

    segments/<name>/documents.arrow     the segment's documents (Arrow IPC, memory-mapped when read)
    segments/<name>/passages.arrow      doc_row, start, end of each passage (its text is the document's)
    segments/<name>/dense.faiss         FAISS inner-product index of the passage vectors, rows in order
    segments/<name>/lexical/            the passages' term postings (indexer.lexical)
    segments/<name>/sentences.arrow     passage_row, start, end of each sentence of each passage
                                        (indexer.sentences; its text is the document's)
    segments/<name>/sentence_vectors.npy  float32 vectors of those sentences, rows in order (memory-mapped)
    segments/<name>/sentence_lexical/   the sentences' term postings (indexer.lexical, the passages'
                                        analyser over each sentence's text), one row per sentence row
    segments/<name>/deletes-<gen>.npy   the deleted document rows as of commit generation <gen>

Deletes are the one thing that changes: a commit that deletes documents of a segment writes a new
deletes file (all rows deleted so far) and the commit point names it; the segment's own files stay.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import pyarrow as pa

from corpus.types import Document
from indexer.errors import IndexMismatchError
from indexer.faiss_factory import (
    IndexSpec,
    build_typed,
    choose_index_spec,
    prepare_loaded,
    tune_search_parameter,
)
from indexer.index_folder import REBUILD_HINT, content_hash, fsync_dir, sha256_file
from indexer.lexical import LexicalSegment
from indexer.npy import load_npy
from indexer.sentences import SentenceRows
from indexer.types import Passage

SEGMENTS = "segments"
DOCUMENTS_FILE = "documents.arrow"
PASSAGES_FILE = "passages.arrow"
DENSE_FILE = "dense.faiss"
LEXICAL_FOLDER = "lexical"
SENTENCES_FILE = "sentences.arrow"
SENTENCE_VECTORS_FILE = "sentence_vectors.npy"
SENTENCE_LEXICAL_FOLDER = "sentence_lexical"
PENDING_PREFIX = ".pending-"
# Documents a segment keeps built from its (memory-mapped) table, the least recently read dropped first
# past either bound. Each one read used to be kept for the segment's life: a service came to hold in its heap
# the text of every document a query or a page of GET /documents had touched (the whole corpus after one
# listing), where the mapped table leaves it to the page cache.
DOCUMENTS_CACHED = 1_024
DOCUMENT_CHARS_CACHED = 8_000_000

DOCUMENT_SCHEMA = pa.schema(
    [
        ("doc_id", pa.string()),
        ("title", pa.string()),
        ("text", pa.large_string()),
        ("author", pa.string()),
        ("publisher", pa.string()),
        ("url", pa.string()),
        ("provenance", pa.string()),
        ("metadata", pa.string()),  # a JSON object of strings
        ("page_starts", pa.list_(pa.int64())),
        ("content_hash", pa.string()),
    ]
)
PASSAGE_SCHEMA = pa.schema([("doc_row", pa.int32()), ("start", pa.int64()), ("end", pa.int64())])


def segment_folder(index_folder: Path, name: str) -> Path:
    return Path(index_folder) / SEGMENTS / name


def pending_folder(index_folder: Path, name: str) -> Path:
    """Where segment ``name`` is written before its commit (see ``publish_segment``)."""
    return Path(index_folder) / SEGMENTS / f"{PENDING_PREFIX}{name}"


def publish_segment(index_folder: Path, name: str, sync: bool = True) -> None:
    """Move a written segment to its place (under the write lock, just before the commit that names it).
    ``sync=False``: the caller fsyncs the segments folder itself before it commits (with its other files,
    in one round: see indexer.commit_point.swap_manifest)."""
    os.replace(pending_folder(index_folder, name), segment_folder(index_folder, name))
    if sync:
        fsync_dir(Path(index_folder) / SEGMENTS)


def discard_segment(index_folder: Path, name: str) -> None:
    """Remove segment ``name``, pending or published, that no commit names (its write or its commit
    failed): its bytes must not stay on disk until the next writer's garbage collection, an hour later
    for a pending one, when the failure was a full disk."""
    shutil.rmtree(pending_folder(index_folder, name), ignore_errors=True)
    shutil.rmtree(segment_folder(index_folder, name), ignore_errors=True)


def deletes_path(name: str, generation: int) -> str:
    """The deletes file of segment ``name`` written by commit ``generation``, relative to the index."""
    return f"{SEGMENTS}/{name}/deletes-{generation}.npy"


def write_arrow(path: Path, table: pa.Table) -> None:
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def read_arrow(path: Path) -> pa.Table:
    """The table of an Arrow IPC file, memory-mapped: columns are read from the page cache on use."""
    return pa.ipc.open_file(pa.memory_map(str(path), "r")).read_all()


def documents_table(documents: Sequence[Document], hashes: Sequence[str] | None = None) -> pa.Table:
    """The documents as an Arrow table; ``hashes``: their content hashes when known (a merge copies
    them from its sources rather than hashing every document again)."""
    return pa.table(
        {
            "doc_id": [d.doc_id for d in documents],
            "title": [d.title for d in documents],
            "text": [d.text for d in documents],
            "author": [d.author for d in documents],
            "publisher": [d.publisher for d in documents],
            "url": [d.url for d in documents],
            "provenance": [d.provenance for d in documents],
            "metadata": [json.dumps(dict(d.metadata), ensure_ascii=False) for d in documents],
            "page_starts": [list(d.page_starts) for d in documents],
            "content_hash": list(hashes) if hashes is not None else [content_hash(d) for d in documents],
        },
        schema=DOCUMENT_SCHEMA,
    )


@cache
def _fsync_pool() -> ThreadPoolExecutor:
    """Threads that wait on fsync for the writers of this process (made once: starting threads per
    commit cost more than the commit's own work)."""
    return ThreadPoolExecutor(max_workers=8, thread_name_prefix="citeqa-fsync")


def fsync_files(paths: Sequence[Path]) -> None:
    """fsync every file or folder, in parallel: the disk commits them together (one at a time costs ~3 ms
    each)."""
    list(_fsync_pool().map(_fsync, paths))


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@dataclass(frozen=True)
class SegmentContent:
    """What a new segment holds: documents, their passages (``passage_id`` unused), the passages' vectors
    (rows in passage order) and their lexical tokens, or their postings already made (a merge); the
    passages' sentences and their vectors (None: a segment without them, as written before they were
    stored, or merged from one), and the sentences' postings when already made (a merge; otherwise
    ``write_segment`` analyses the sentence texts)."""

    documents: Sequence[Document]
    passages: Sequence[Passage]
    vectors: np.ndarray
    tokens: Sequence[list[str]] = ()
    lexical: LexicalSegment | None = None
    sentences: SentenceRows | None = None
    sentence_vectors: np.ndarray | None = None
    sentence_lexical: LexicalSegment | None = None
    content_hashes: Sequence[str] | None = None  # of the documents, when known (a merge)


def write_segment(
    index_folder: Path, name: str, content: SegmentContent, index_type: str = "auto"
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Write segment ``name`` (fsync'ed) in its pending folder, and return its manifest entry and the
    checksums of its files (paths relative to the index folder, as they will be once published). The
    FAISS type follows the segment's size (indexer.faiss_factory): flat when small, IVF above the
    threshold with nprobe tuned."""
    folder = pending_folder(index_folder, name)
    folder.mkdir(parents=True)
    try:
        return write_pending(index_folder, folder, name, content, index_type)
    except BaseException:
        discard_segment(index_folder, name)  # a half-written segment (a full disk) is not left behind
        raise


def write_pending(
    index_folder: Path, folder: Path, name: str, content: SegmentContent, index_type: str
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The files of ``write_segment``, in its pending ``folder``."""
    rows = {d.doc_id: row for row, d in enumerate(content.documents)}
    passages = pa.table(
        {
            "doc_row": [rows[p.doc_id] for p in content.passages],
            "start": [p.start for p in content.passages],
            "end": [p.end for p in content.passages],
        },
        schema=PASSAGE_SCHEMA,
    )
    write_arrow(folder / DOCUMENTS_FILE, documents_table(content.documents, content.content_hashes))
    write_arrow(folder / PASSAGES_FILE, passages)
    vectors = np.ascontiguousarray(content.vectors, dtype=np.float32).reshape(len(content.passages), -1)
    dimension = vectors.shape[1]
    spec = choose_index_spec(len(vectors), dimension, index_type)
    index = build_typed(vectors, spec)
    spec, recall = tune_search_parameter(index, vectors, spec)
    faiss.write_index(index, str(folder / DENSE_FILE))
    lexical = content.lexical if content.lexical is not None else LexicalSegment.build(list(content.tokens))
    lexical.save(folder / LEXICAL_FOLDER)
    sentences = write_sentences(folder, content, dimension)
    files = [p for p in sorted(folder.rglob("*")) if p.is_file()]
    # Files and their folders in one parallel round. The pending folder's own entry needs no fsync: it is
    # renamed into place by publish_segment, and the segments folder is fsync'ed after that rename, before
    # the commit that names the segment.
    folders = [folder / LEXICAL_FOLDER] + (
        [folder / SENTENCE_LEXICAL_FOLDER] if sentences is not None else []
    )
    fsync_files([*files, *folders, folder])
    entry = {
        "name": name,
        "documents": len(content.documents),
        "passages": len(content.passages),
        "index": spec.manifest_view(),
        "tuned_recall_at_10": round(recall, 4),
        "deletes": None,
        "deleted_documents": 0,
    }
    if sentences is not None:
        entry["sentences"] = sentences
        entry["sentence_lexical"] = sentences  # its rows: one per sentence row
    final = segment_folder(index_folder, name).relative_to(index_folder)
    sums = {
        (final / p.relative_to(folder)).as_posix(): value
        for p, value in zip(files, file_checksums(folder, files).values(), strict=True)
    }
    return entry, sums


def write_sentences(folder: Path, content: SegmentContent, dimension: int) -> int | None:
    """Write the segment's sentence table, vectors and postings if it has sentences; returns how many
    rows. The postings are ``content.sentence_lexical`` when given (a merge), else made here from the
    sentence texts (``document.text[start:end]``), one row per sentence row."""
    if content.sentences is None or content.sentence_vectors is None:
        return None
    vectors = np.ascontiguousarray(content.sentence_vectors, dtype=np.float32).reshape(-1, dimension)
    if len(vectors) != len(content.sentences):
        raise ValueError(f"{len(content.sentences)} sentences but {len(vectors)} sentence vectors")
    lexical = content.sentence_lexical
    if lexical is None:
        lexical = LexicalSegment.from_texts(sentence_texts(content))
    if lexical.n_rows != len(content.sentences):
        raise ValueError(f"{len(content.sentences)} sentences but {lexical.n_rows} sentence postings rows")
    write_arrow(folder / SENTENCES_FILE, content.sentences.table())
    np.save(folder / SENTENCE_VECTORS_FILE, vectors, allow_pickle=False)
    lexical.save(folder / SENTENCE_LEXICAL_FOLDER)
    return len(vectors)


def sentence_texts(content: SegmentContent) -> list[str]:
    """The text of each sentence row of ``content``: its passage's document text[start:end]."""
    if content.sentences is None:
        return []
    texts = {d.doc_id: d.text for d in content.documents}
    passage_texts = [texts[p.doc_id] for p in content.passages]
    sentences = content.sentences
    return [
        passage_texts[row][start:end]
        for row, start, end in zip(
            sentences.passage_rows.tolist(), sentences.starts.tolist(), sentences.ends.tolist(), strict=True
        )
    ]


def write_deletes(
    index_folder: Path, name: str, generation: int, rows: np.ndarray, sync: bool = True
) -> dict[str, Any]:
    """Write the deleted document rows of a segment for commit ``generation``; returns its checksum
    entry keyed by the relative path. ``sync=False``: the caller fsyncs it before it commits."""
    relative = deletes_path(name, generation)
    path = Path(index_folder) / relative
    np.save(path, np.unique(np.asarray(rows, dtype=np.int32)), allow_pickle=False)
    if sync:
        fsync_files([path])
    return file_checksums(index_folder, [path])


def file_checksums(index_folder: Path, files: Sequence[Path]) -> dict[str, dict[str, Any]]:
    root = Path(index_folder)
    return {
        p.relative_to(root).as_posix(): {"sha256": sha256_file(p), "bytes": p.stat().st_size} for p in files
    }


class SegmentReader:
    """An open segment: its tables memory-mapped, its FAISS index and postings loaded. Immutable, so one
    reader serves every commit that lists the segment (whatever its deletes)."""

    def __init__(self, index_folder: Path, entry: dict[str, Any], dimension: int, mmap: bool = False) -> None:
        self.name: str = entry["name"]
        folder = segment_folder(index_folder, self.name)
        hint = f"segment {self.name} of the index at {index_folder}"
        rebuild = REBUILD_HINT.format(path=index_folder)
        try:
            self._documents = read_arrow(folder / DOCUMENTS_FILE)
            passages = read_arrow(folder / PASSAGES_FILE)
            flags = faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY if mmap else 0
            self.dense = faiss.read_index(str(folder / DENSE_FILE), flags)
            self.lexical = LexicalSegment.load(folder / LEXICAL_FOLDER)
        except (OSError, pa.ArrowInvalid, RuntimeError) as err:
            raise IndexMismatchError(f"{hint} cannot be read ({err}); {rebuild}") from err
        self.spec = IndexSpec.from_manifest(entry.get("index"), dimension)
        prepare_loaded(self.dense, self.spec)
        self.doc_ids: list[str] = self._documents.column("doc_id").to_pylist()
        self.doc_index = {doc_id: row for row, doc_id in enumerate(self.doc_ids)}
        self.content_hashes: list[str] = self._documents.column("content_hash").to_pylist()
        self.doc_rows = passages.column("doc_row").to_numpy()
        self.starts = passages.column("start").to_numpy()
        self.ends = passages.column("end").to_numpy()
        counts = (len(self.doc_ids), len(self.doc_rows), int(self.dense.ntotal), self.lexical.n_rows)
        if counts != (entry["documents"], entry["passages"], entry["passages"], entry["passages"]):
            raise IndexMismatchError(f"{hint}: file contents do not match the manifest counts; {rebuild}")
        if self.dense.d != dimension:
            raise IndexMismatchError(
                f"{hint}: FAISS dimension {self.dense.d} differs from the manifest; {rebuild}"
            )
        self.sentences, self.sentence_vectors = read_sentences(folder, entry, dimension, hint, rebuild)
        self.sentence_lexical = read_sentence_lexical(folder, entry, self.sentences, hint, rebuild)
        self._by_text: dict[str, int] | None = None
        self._cache: OrderedDict[int, Document] = OrderedDict()
        self._cached_chars = 0
        self._lock = threading.Lock()

    @property
    def n_documents(self) -> int:
        return len(self.doc_ids)

    @cached_property
    def all_rows(self) -> np.ndarray:
        """0..n_passages-1 (read-only): the live rows of the segment without deletes, made once."""
        rows = np.arange(self.n_passages, dtype=np.int64)
        rows.setflags(write=False)
        return rows

    @property
    def n_passages(self) -> int:
        return len(self.doc_rows)

    def document(self, row: int) -> Document:
        """The document at ``row``, built from the Arrow columns and kept while recently read (at most
        DOCUMENTS_CACHED documents and DOCUMENT_CHARS_CACHED characters of text a segment)."""
        with self._lock:
            cached = self._cache.get(row)
            if cached is not None:
                self._cache.move_to_end(row)
                return cached
        document = document_of(self._documents.slice(row, 1).to_pylist()[0])
        with self._lock:
            if row not in self._cache:
                self._cache[row] = document
                self._cached_chars += len(document.text)
            while len(self._cache) > DOCUMENTS_CACHED or (
                self._cached_chars > DOCUMENT_CHARS_CACHED and len(self._cache) > 1
            ):
                _, dropped = self._cache.popitem(last=False)
                self._cached_chars -= len(dropped.text)
        return document

    def passage(self, row: int, passage_id: int) -> Passage:
        document = self.document(int(self.doc_rows[row]))
        start, end = int(self.starts[row]), int(self.ends[row])
        return Passage(passage_id, document.doc_id, start, end, document.text[start:end])

    def vectors(self, rows: np.ndarray) -> np.ndarray:
        return self.dense.reconstruct_batch(np.asarray(rows, dtype=np.int64))

    @property
    def has_sentences(self) -> bool:
        return self.sentences is not None

    @property
    def has_sentence_lexical(self) -> bool:
        """Whether the segment stores its sentences' postings (written since they are; an older segment's
        sentences are found by their vectors only)."""
        return self.sentence_lexical is not None

    @cached_property
    def canonical_sentences(self) -> np.ndarray:
        """int64 per sentence row (read-only): the first row holding the same sentence (document, start,
        end), itself for most rows; a sentence that two overlapping passages hold counts once, under that
        row (a document's passages all sit in one segment, and are deleted together)."""
        if self.sentences is None or len(self.sentences) == 0:
            return np.zeros(0, dtype=np.int64)
        sentences = self.sentences
        keys = np.stack(
            [self.doc_rows[sentences.passage_rows].astype(np.int64), sentences.starts, sentences.ends]
        )
        _, first, inverse = np.unique(keys, axis=1, return_index=True, return_inverse=True)
        canonical = first[inverse.reshape(-1)].astype(np.int64)
        canonical.setflags(write=False)
        return canonical

    def sentence_rows_by_text(self) -> dict[str, int]:
        """Sentence text -> a row of ``sentence_vectors`` holding its vector (empty without sentences);
        made on first use (for a 10k-passage segment about 0.1 s) and kept: the segment never changes."""
        found = self._by_text
        if found is not None:
            return found
        with self._lock:
            if self._by_text is None:
                self._by_text = self._sentence_texts()
            return self._by_text

    def _sentence_texts(self) -> dict[str, int]:
        if self.sentences is None:
            return {}
        texts = self._documents.column("text").to_pylist()
        doc_rows = self.doc_rows[self.sentences.passage_rows].tolist()
        starts, ends = self.sentences.starts.tolist(), self.sentences.ends.tolist()
        by_text: dict[str, int] = {}
        for row, (doc_row, start, end) in enumerate(zip(doc_rows, starts, ends, strict=True)):
            by_text.setdefault(texts[doc_row][start:end], row)
        return by_text


def read_sentences(
    folder: Path, entry: dict[str, Any], dimension: int, hint: str, rebuild: str
) -> tuple[SentenceRows | None, np.ndarray | None]:
    """The segment's sentence rows and their memory-mapped vectors, or (None, None) for a segment written
    without them (its manifest entry has no ``sentences`` count)."""
    expected = entry.get("sentences")
    if expected is None:
        return None, None
    try:
        rows = SentenceRows.of_table(read_arrow(folder / SENTENCES_FILE))
        # A plain array over the mapping (a memmap's row costs several times a plain array's to index).
        vectors = np.asarray(load_npy(folder / SENTENCE_VECTORS_FILE, mmap_mode="r"))
    except (OSError, ValueError, pa.ArrowInvalid) as err:
        raise IndexMismatchError(f"{hint}: its sentences cannot be read ({err}); {rebuild}") from err
    if len(rows) != expected or vectors.shape != (expected, dimension) or vectors.dtype != np.float32:
        raise IndexMismatchError(f"{hint}: its sentence files do not match the manifest; {rebuild}")
    return rows, vectors


def read_sentence_lexical(
    folder: Path, entry: dict[str, Any], sentences: SentenceRows | None, hint: str, rebuild: str
) -> LexicalSegment | None:
    """The postings of the segment's sentences, or None for a segment written without them (its manifest
    entry has no ``sentence_lexical`` count: written before they were stored, or without sentences)."""
    expected = entry.get("sentence_lexical")
    if expected is None or sentences is None:
        return None
    try:
        lexical = LexicalSegment.load(folder / SENTENCE_LEXICAL_FOLDER)
    except (OSError, ValueError, pa.ArrowInvalid) as err:
        raise IndexMismatchError(f"{hint}: its sentence postings cannot be read ({err}); {rebuild}") from err
    if lexical.n_rows != expected or expected != len(sentences):
        raise IndexMismatchError(f"{hint}: its sentence postings do not match the manifest; {rebuild}")
    return lexical


def document_of(record: dict[str, Any]) -> Document:
    """The Document of one row of a documents table (``to_pylist`` form)."""
    return Document(
        doc_id=record["doc_id"],
        title=record["title"],
        text=record["text"],
        author=record["author"],
        publisher=record["publisher"],
        url=record["url"],
        provenance=record["provenance"],
        metadata=json.loads(record["metadata"]),
        page_starts=tuple(record["page_starts"] or ()),
    )


def read_deletes(index_folder: Path, entry: dict[str, Any]) -> np.ndarray:
    """The deleted document rows a manifest entry names (none if it names no deletes file)."""
    if not entry.get("deletes"):
        return np.empty(0, dtype=np.int32)
    path = Path(index_folder) / entry["deletes"]
    try:
        return load_npy(path)
    except (OSError, ValueError) as err:
        raise IndexMismatchError(f"deletes file {path} cannot be read ({err})") from err
