"""Merges: many small segments become one larger, in the background, as Lucene's TieredMergePolicy does.

A merge reads the live documents, passages and vectors of its segments as of one commit (no lock), writes
them as a new segment (no embedding: vectors are copied; the FAISS type follows the merged size), then
commits under the write lock: the merged segment replaces its sources, and deletes committed on the
sources while it ran are carried over (``NewSegment.origins``). Readers and writers never wait for a
merge; a crash mid-merge leaves the previous commit whole.
"""

from __future__ import annotations

import fcntl
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from indexer.commit_point import merge_lock_path, write_lock
from indexer.index_folder import read_manifest
from indexer.index_settings import IndexSettings
from indexer.lexical import LexicalSegment
from indexer.load import LoadedIndex, SegmentCache, open_commit
from indexer.segment import SegmentContent
from indexer.segment_views import LiveSegment
from indexer.sentences import SentenceRows
from indexer.writer import Changes, NewSegment, commit_changes, write_new_segment


@dataclass(frozen=True)
class TieredMergePolicy:
    """Segments fall in tiers of live size (below ``floor_passages``, then each tier
    ``segments_per_tier`` times larger); when a tier holds ``segments_per_tier`` segments, its smallest
    ones merge into one of the next tier. A segment with more than ``max_deleted_share`` of its passages
    deleted is rewritten without them. So a stream of one-document writes keeps O(log n) segments, and each
    passage is copied O(log n) times over its life."""

    segments_per_tier: int = 8
    floor_passages: int = 1_000
    max_merged_passages: int = 5_000_000
    max_deleted_share: float = 0.4

    def tier(self, live_passages: int) -> int:
        if live_passages <= self.floor_passages:
            return 0
        return 1 + int(math.log(live_passages / self.floor_passages, self.segments_per_tier))

    def find_merge(self, entries: Sequence[dict[str, Any]]) -> list[str] | None:
        """Names of the segments to merge next (one merge at a time), or None."""
        sized = sorted((live_passages(e), e["name"]) for e in entries)
        tiers: dict[int, list[tuple[int, str]]] = {}
        for size, name in sized:
            tiers.setdefault(self.tier(size), []).append((size, name))
        for tier in sorted(tiers):
            members = tiers[tier]
            if len(members) >= self.segments_per_tier:
                chosen, total = [], 0
                for size, name in members[: self.segments_per_tier]:
                    if total + size > self.max_merged_passages and chosen:
                        break
                    chosen.append(name)
                    total += size
                if len(chosen) > 1:
                    return chosen
        for entry in entries:
            if (
                entry["passages"]
                and entry.get("deleted_passages", 0) / entry["passages"] > self.max_deleted_share
            ):
                return [entry["name"]]
        return None


def live_passages(entry: dict[str, Any]) -> int:
    return int(entry["passages"]) - int(entry.get("deleted_passages", 0))


def merged_content(index: LoadedIndex, names: Sequence[str]) -> tuple[SegmentContent, list[tuple[str, int]]]:
    """The live content of segments ``names`` of ``index`` as one segment's, and each document's origin.
    Sentences and their vectors are copied with their passages, if every source has them (a source
    written before sentences were stored makes a merged segment without them); so are the sentences'
    postings, merged as they are if every source stores them, else made again from the sentence texts
    by ``write_segment`` (a source written before they were stored)."""
    wanted = set(names)
    documents, origins, passages, vectors, hashes = [], [], [], [], []
    sentence_parts: list[tuple[SentenceRows, int]] = []
    sentence_vectors: list[np.ndarray] = []
    merged = [s for s in index.segments if s.reader.name in wanted]
    for segment in merged:
        reader = segment.reader
        for row in segment.doc_live.nonzero()[0]:
            documents.append(reader.document(int(row)))
            origins.append((reader.name, int(row)))
            hashes.append(reader.content_hashes[int(row)])
        first = len(passages)
        passages.extend(reader.passage(int(r), 0) for r in segment.live_rows)
        vectors.append(reader.vectors(segment.live_rows))
        if reader.sentences is not None and reader.sentence_vectors is not None:
            rows, positions = reader.sentences.of_passages(segment.live_rows)
            sentence_parts.append((rows, first))
            sentence_vectors.append(np.asarray(reader.sentence_vectors[positions], dtype=np.float32))
    dimension = index.dense.dimension
    matrix = np.concatenate(vectors) if vectors else np.empty((0, dimension), np.float32)
    with_sentences = all(s.reader.has_sentences for s in merged)
    sentences = SentenceRows.concatenate(sentence_parts) if with_sentences else None
    sentence_matrix = (
        (np.concatenate(sentence_vectors) if sentence_vectors else np.empty((0, dimension), np.float32))
        if with_sentences
        else None
    )
    # The postings of the live rows, merged as they are (no text is analysed again).
    lexical = LexicalSegment.merge([s.reader.lexical for s in merged], [s.passage_live for s in merged])
    sentence_lexical = None
    if with_sentences and all(s.reader.sentence_lexical is not None for s in merged):
        sentence_lexical = LexicalSegment.merge(
            [s.reader.sentence_lexical for s in merged if s.reader.sentence_lexical is not None],
            [sentence_live(s) for s in merged],
        )
    content = SegmentContent(
        documents,
        passages,
        matrix,
        lexical=lexical,
        content_hashes=hashes,
        sentences=sentences,
        sentence_vectors=sentence_matrix,
        sentence_lexical=sentence_lexical,
    )
    return content, origins


def sentence_live(segment: LiveSegment) -> np.ndarray | None:
    """bool per sentence row of ``segment``: its passage is live (None when every passage is)."""
    sentences = segment.reader.sentences
    if segment.passage_live is None or sentences is None:
        return None
    return segment.passage_live[sentences.passage_rows]


def merge_once(folder: Path, cache: SegmentCache, policy: TieredMergePolicy) -> LoadedIndex | None:
    """Run the merge the policy picks on the newest commit, if any (and if no other process is merging
    this index); returns the commit that holds it."""
    folder = Path(folder)
    if not policy.find_merge(read_manifest(folder).get("segments", [])):
        return None  # nothing due: do not take the merge lock only to look
    with merge_lock_path(folder).open("a") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None
        try:
            manifest = read_manifest(folder)
            names = policy.find_merge(manifest.get("segments", []))
            if not names:
                return None
            index = open_commit(folder, manifest, cache)
            settings = IndexSettings.of_manifest(manifest)
            content, origins = merged_content(index, names)
            new = write_new_segment(folder, content, index.generation, settings.index_type, origins)
            return commit_merge(folder, cache, new, names)
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def commit_merge(folder: Path, cache: SegmentCache, new: NewSegment, names: Sequence[str]) -> LoadedIndex:
    with write_lock(folder):
        live = {e["name"] for e in read_manifest(folder).get("segments", [])}
        # A source gone meanwhile (all its documents deleted, or a build replaced every segment): its
        # documents are deleted in the merged segment too (see commit_changes), which may leave it empty.
        changes = Changes(add=(new,), drop=frozenset(names) & live, new_version=False)
        return commit_changes(folder, changes, cache)


class BackgroundMerger:
    """A thread that runs merges while the policy finds some; ``wake`` after each commit. Every merge
    committed is handed to ``on_commit`` (the live index takes it as its current commit)."""

    def __init__(
        self,
        folder: Path,
        cache: SegmentCache,
        policy: TieredMergePolicy,
        on_commit: Callable[[LoadedIndex], None],
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.cache = cache
        self.policy = policy
        self.on_commit = on_commit
        self.on_error = on_error
        self.merges = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._thread = threading.Thread(target=self._run, name="citeqa-merger", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._idle.clear()
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait()
            self._wake.clear()
            while not self._stop.is_set():
                try:
                    merged = merge_once(self.folder, self.cache, self.policy)
                except Exception as err:  # a merge failing must not take the service down
                    if self.on_error is not None:
                        self.on_error(err)
                    break
                if merged is None:
                    break
                self.merges += 1
                self.on_commit(merged)
            if not self._wake.is_set():
                self._idle.set()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no merge is running or due (for tests and benchmarks)."""
        return self._idle.wait(timeout)

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join()
