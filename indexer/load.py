"""Open a segmented index folder (format 2) at its current commit point, as one LoadedIndex.

A process keeps its open segments in a ``SegmentCache``: reopening after a commit opens only the segments
that are new (a write adds one small segment; a merge one larger), and checks each segment's files once.
It also keeps each segment's live view per deletes file (``LiveSegment``: live masks, live rows, the
lexical ranks, the FAISS selector), so opening a commit costs the segments it changed, not the index's
size: a one-document delete at 1M passages rebuilds only the views of the segment it hits.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from indexer.errors import IndexMismatchError
from indexer.index_folder import REBUILD_HINT, read_manifest, recover_interrupted_swap, verify_listed
from indexer.lexical import LexicalIndex
from indexer.segment import SEGMENTS, SegmentReader, read_deletes
from indexer.segment_views import DocumentsView, LiveSegment, PassagesView, SegmentedVectors, placed
from indexer.sentence_lexical import SentenceLexicalIndex
from indexer.types import Passage

MAX_REOPEN_ATTEMPTS = 5


@dataclass(frozen=True)
class LoadedIndex:
    """One commit of an index: live documents and passages under compact ids 0..n-1, the vector and
    lexical indexes over them, and the manifest that names its segments; ``sentence_bm25`` (made on
    first use) searches its live sentences by BM25."""

    path: Path
    manifest: dict[str, Any]
    documents: DocumentsView
    passages: Sequence[Passage]
    dense: SegmentedVectors
    bm25: LexicalIndex
    segments: tuple[LiveSegment, ...] = ()

    @cached_property
    def sentence_bm25(self) -> SentenceLexicalIndex:
        """BM25 over the live sentences of the segments that store sentence postings (indexer.
        sentence_lexical), made on first use: each segment's part is kept per (segment, deletes), so a
        new commit costs only its changed segments."""
        return SentenceLexicalIndex(self.segments)

    @property
    def model_name(self) -> str:
        return self.manifest["model"]["name"]

    @property
    def version(self) -> int:
        """The index version: every change to the documents makes a higher one (a fresh build is 1)."""
        return int(self.manifest.get("version", 1))

    @property
    def generation(self) -> int:
        """The commit generation: every commit (a write, a merge) makes a higher one."""
        return int(self.manifest.get("generation", self.version))


class SegmentCache:
    """The open segments of one index folder in this process, by name."""

    def __init__(self, folder: Path, mmap: bool = False, checksums: bool = True) -> None:
        self.folder = Path(folder)
        self.mmap = mmap
        self.checksums = checksums
        self._readers: dict[str, SegmentReader] = {}
        self._live: dict[tuple[str, str | None], LiveSegment] = {}
        self._lock = threading.Lock()

    def reader(self, entry: dict[str, Any], manifest: dict[str, Any]) -> SegmentReader:
        name = entry["name"]
        with self._lock:
            found = self._readers.get(name)
        if found is not None:
            return found
        prefix = f"{SEGMENTS}/{name}/"
        files = {
            path: value
            for path, value in manifest.get("files", {}).items()
            if path.startswith(prefix) and not path.startswith(f"{prefix}deletes-")
        }
        verify_listed(self.folder, files, self.checksums)
        reader = SegmentReader(self.folder, entry, int(manifest["model"]["dimension"]), self.mmap)
        with self._lock:
            return self._readers.setdefault(name, reader)

    def live_segment(self, entry: dict[str, Any], manifest: dict[str, Any]) -> LiveSegment:
        """Segment ``entry`` with the deletes it names (its deletes file checked and read once), at
        compact id 0 (``LiveSegment.at`` places it in a commit)."""
        key = (entry["name"], entry.get("deletes") or None)
        with self._lock:
            found = self._live.get(key)
        if found is not None:
            return found
        reader = self.reader(entry, manifest)
        if entry.get("deletes"):
            verify_listed(
                self.folder, {entry["deletes"]: manifest["files"][entry["deletes"]]}, self.checksums
            )
        segment = LiveSegment.of(reader, read_deletes(self.folder, entry))
        with self._lock:
            return self._live.setdefault(key, segment)

    def adopt(self, index: LoadedIndex) -> None:
        """Take the segments of an index opened through another cache."""
        with self._lock:
            for segment, entry in zip(index.segments, index.manifest.get("segments", []), strict=True):
                self._readers.setdefault(segment.reader.name, segment.reader)
                self._live.setdefault((entry["name"], entry.get("deletes") or None), segment.at(0))

    def retain(self, names: set[str], live: set[tuple[str, str | None]] | None = None) -> None:
        """Forget the segments no longer named, and the live views not in ``live`` (their memory goes once
        no snapshot holds them)."""
        with self._lock:
            self._readers = {n: r for n, r in self._readers.items() if n in names}
            keep = live if live is not None else {k for k in self._live if k[0] in names}
            self._live = {k: v for k, v in self._live.items() if k in keep}


def open_commit(folder: Path, manifest: dict[str, Any], cache: SegmentCache) -> LoadedIndex:
    """The LoadedIndex of ``manifest``'s commit, its segments taken from ``cache`` where already open."""
    entries = manifest.get("segments", [])
    segments = placed([cache.live_segment(entry, manifest) for entry in entries])
    cache.retain(
        {entry["name"] for entry in entries}, {(e["name"], e.get("deletes") or None) for e in entries}
    )
    dimension = int(manifest["model"]["dimension"])
    lexical = LexicalIndex(parts=[s.lexical_live() for s in segments])
    index = LoadedIndex(
        path=Path(folder),
        manifest=manifest,
        documents=DocumentsView(segments),
        passages=PassagesView(segments),
        dense=SegmentedVectors(segments, dimension),
        bm25=lexical,
        segments=tuple(segments),
    )
    counts = manifest.get("counts", {})
    if (len(index.documents), len(index.passages)) != (counts.get("documents"), counts.get("passages")):
        raise IndexMismatchError(
            f"index at {folder}: its segments hold {len(index.documents)} documents and "
            f"{len(index.passages)} passages, the manifest says {counts.get('documents')} and "
            f"{counts.get('passages')}; " + REBUILD_HINT.format(path=folder)
        )
    return index


def load_index(
    folder: Path,
    expected_model: str | None = None,
    mmap: bool = False,
    checksums: bool = True,
    cache: SegmentCache | None = None,
) -> LoadedIndex:
    """Open and check the index folder at its current commit.

    ``mmap``: FAISS files are memory-mapped read-only rather than read into memory. ``checksums=False``
    checks each file's presence and size only (`citeqa verify` does the full check). A commit that lands
    while the folder is being opened (a segment dropped by a merge) is followed: the open starts again.
    """
    folder = Path(folder)
    recover_interrupted_swap(folder)
    cache = cache or SegmentCache(folder, mmap, checksums)
    for attempt in range(MAX_REOPEN_ATTEMPTS):
        manifest = read_manifest(folder)
        check_model(folder, manifest, expected_model)
        try:
            return open_commit(folder, manifest, cache)
        except IndexMismatchError:
            if attempt == MAX_REOPEN_ATTEMPTS - 1 or read_manifest(folder) == manifest:
                raise
    raise AssertionError("unreachable")


def check_model(folder: Path, manifest: dict[str, Any], expected_model: str | None) -> None:
    model = manifest.get("model")
    if (
        not isinstance(model, dict)
        or not isinstance(model.get("name"), str)
        or not isinstance(model.get("dimension"), int)
    ):
        raise IndexMismatchError(
            f"{folder / 'manifest.json'} names no model (its name and dimension); "
            + REBUILD_HINT.format(path=folder)
        )
    if expected_model is not None and manifest["model"]["name"] != expected_model:
        raise IndexMismatchError(
            f"index at {folder} was built with model {manifest['model']['name']!r} but the configured model "
            f"is {expected_model!r}; {REBUILD_HINT.format(path=folder)}, or configure the index's model"
        )
