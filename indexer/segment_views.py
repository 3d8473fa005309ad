"""One commit's segments seen as one index: documents, passages and vectors under compact ids.

The query core sees what it always saw: passages numbered 0..n-1 (the live passages, segment after
segment, rows in order), a mapping of live documents, a vector index and a lexical index over those ids.
Deleted rows are left out inside each segment's search (a FAISS ID selector, a lexical live mask), so
the k best are the k best live ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, overload

import faiss
import numpy as np

from corpus.types import Document
from indexer.faiss_factory import selector_parameters
from indexer.lexical import LexicalLive
from indexer.segment import SegmentReader
from indexer.types import Passage, PassageLayout
from indexer.vector_index import EXACT_ALLOWED_MAX, NumpyIndex


@dataclass(frozen=True)
class LiveSegment:
    """A segment with one commit's deletes: which documents and passages are live, and where its live
    passages sit among the compact ids (``first`` is the compact id of its first live passage).

    Everything here but ``first`` depends on the segment and its deletes alone and costs the segment's
    size to make, so it is made once per (segment, deletes file) (see indexer.load.SegmentCache) and
    placed in each commit with ``at``: a commit costs its changed segments, not the index's size. The
    arrays are read-only."""

    reader: SegmentReader
    doc_live: np.ndarray
    passage_live: np.ndarray | None  # None: every passage is live
    live_rows: np.ndarray
    first: int
    live_documents: int = 0
    lexical: LexicalLive | None = field(default=None, repr=False, compare=False)
    bitmap: np.ndarray | None = field(default=None, repr=False, compare=False)
    """``passage_live`` packed for FAISS (None when every passage is live); ``selector`` points into it."""
    selector: Any = field(default=None, repr=False, compare=False)
    made: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    """Views made on first use (``sentence_lexical_live``), shared by every placement (``at``)."""

    @classmethod
    def of(cls, reader: SegmentReader, deleted_rows: np.ndarray, first: int = 0) -> LiveSegment:
        doc_live = np.ones(reader.n_documents, dtype=bool)
        doc_live[np.asarray(deleted_rows, dtype=np.int64)] = False
        doc_live.setflags(write=False)
        live_documents = int(np.count_nonzero(doc_live))
        if live_documents == reader.n_documents:
            lexical = LexicalLive.of(reader.lexical, None)
            return cls(reader, doc_live, None, reader.all_rows, first, live_documents, lexical)
        passage_live = doc_live[reader.doc_rows]
        passage_live.setflags(write=False)
        live_rows = np.flatnonzero(passage_live).astype(np.int64)
        live_rows.setflags(write=False)
        lexical = LexicalLive.of(reader.lexical, passage_live)
        # FAISS keeps a pointer to the bitmap: the array lives as long as the selector (this object).
        bitmap = np.packbits(passage_live, bitorder="little")
        selector = faiss.IDSelectorBitmap(len(passage_live), faiss.swig_ptr(bitmap))
        return cls(
            reader, doc_live, passage_live, live_rows, first, live_documents, lexical, bitmap, selector
        )

    def lexical_live(self) -> LexicalLive:
        """The lexical side of this segment and its deletes (made by ``of``; made here otherwise)."""
        return (
            self.lexical
            if self.lexical is not None
            else LexicalLive.of(self.reader.lexical, self.passage_live)
        )

    def sentence_lexical_live(self) -> LexicalLive | None:
        """The segment's sentence postings with this commit's deletes, each sentence counted once: a row
        is live when its passage is and it is the sentence's first row (``SegmentReader.
        canonical_sentences``). None for a segment that stores no sentence postings. Made on first use
        (the cost of the segment's sentences) and kept for this (segment, deletes)."""
        lexical = self.reader.sentence_lexical
        sentences = self.reader.sentences
        if lexical is None or sentences is None:
            return None
        found = self.made.get("sentence_lexical")
        if found is None:
            canonical = self.reader.canonical_sentences
            live = canonical == np.arange(len(canonical), dtype=np.int64)
            if self.passage_live is not None:
                live &= self.passage_live[sentences.passage_rows]
            found = self.made.setdefault("sentence_lexical", LexicalLive.of(lexical, live))
        return found

    def at(self, first: int) -> LiveSegment:
        """The same segment and deletes, its first live passage at compact id ``first`` (nothing copied)."""
        return self if first == self.first else replace(self, first=first)

    @property
    def n_live(self) -> int:
        return len(self.live_rows)

    def compact(self, rows: np.ndarray) -> np.ndarray:
        """Compact ids of live physical ``rows``."""
        if self.passage_live is None:
            return rows + self.first
        return np.searchsorted(self.live_rows, rows) + self.first


def live_segments(readers: Sequence[SegmentReader], deletes: Sequence[np.ndarray]) -> list[LiveSegment]:
    return placed([LiveSegment.of(reader, deleted) for reader, deleted in zip(readers, deletes, strict=True)])


def placed(segments: Sequence[LiveSegment]) -> list[LiveSegment]:
    """``segments`` in order under compact ids: each one's first live passage after the previous ones'."""
    out, first = [], 0
    for segment in segments:
        out.append(segment.at(first))
        first += segment.n_live
    return out


class DocumentsView(Mapping[str, Document]):
    """The live documents of a commit by doc_id; a document is live in at most one segment."""

    def __init__(self, segments: Sequence[LiveSegment]) -> None:
        self._segments = list(reversed(segments))  # newest first: a lookup usually ends early
        self._count = sum(s.live_documents for s in segments)

    def locate(self, doc_id: str) -> tuple[LiveSegment, int] | None:
        for segment in self._segments:
            row = segment.reader.doc_index.get(doc_id)
            if row is not None and segment.doc_live[row]:
                return segment, row
        return None

    def __getitem__(self, doc_id: str) -> Document:
        found = self.locate(doc_id)
        if found is None:
            raise KeyError(doc_id)
        return found[0].reader.document(found[1])

    def __contains__(self, doc_id: object) -> bool:
        return isinstance(doc_id, str) and self.locate(doc_id) is not None

    def __iter__(self) -> Iterator[str]:
        for segment in reversed(self._segments):
            ids = segment.reader.doc_ids
            for row in np.flatnonzero(segment.doc_live):
                yield ids[row]

    def __len__(self) -> int:
        return self._count


class PassagesView(Sequence[Passage]):
    """The live passages of a commit under compact ids 0..n-1; each is built on access from its segment
    (its text is its document's ``text[start:end]``, so citations are exact by construction)."""

    def __init__(self, segments: Sequence[LiveSegment]) -> None:
        self._segments = list(segments)
        self._firsts = np.asarray([s.first for s in segments], dtype=np.int64)
        self._count = sum(s.n_live for s in segments)

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> Passage: ...

    @overload
    def __getitem__(self, index: slice) -> list[Passage]: ...

    def __getitem__(self, index: int | slice) -> Passage | list[Passage]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._count))]
        index = int(index)
        if index < 0:
            index += self._count
        if not 0 <= index < self._count:
            raise IndexError(f"passage id {index} out of range (0..{self._count - 1})")
        # The last segment starting at or before ``index``: an empty segment starts where the next one
        # does, so the one found is never empty.
        number = int(np.searchsorted(self._firsts, index, side="right")) - 1
        segment = self._segments[number]
        return segment.reader.passage(int(segment.live_rows[index - segment.first]), index)

    def __iter__(self) -> Iterator[Passage]:
        for segment in self._segments:
            for offset, row in enumerate(segment.live_rows):
                yield segment.reader.passage(int(row), segment.first + offset)

    def ranked(self, ids: np.ndarray) -> RankedPassages:
        """The passages of compact ``ids`` in their order, each built when first read."""
        return RankedPassages(self._segments, self._firsts, self._count, ids)

    def ids_of_documents(self, doc_ids: Iterable[str]) -> np.ndarray:
        """Sorted compact ids of the live passages of ``doc_ids`` (vectorized per segment)."""
        wanted = set(doc_ids)
        found = []
        for segment in self._segments:
            rows = [
                r
                for d in wanted
                if (r := segment.reader.doc_index.get(d)) is not None and segment.doc_live[r]
            ]
            if not rows:
                continue
            mask = np.isin(segment.reader.doc_rows[segment.live_rows], np.asarray(rows))
            found.append(np.flatnonzero(mask) + segment.first)
        return np.concatenate(found).astype(np.int64) if found else np.empty(0, np.int64)


class RankedPassages(Sequence[Passage]):
    """The passages of a ranking (compact ids), located in one vectorized pass and each built when first
    read: grouping a 200-deep ranking into results reads only as deep as the page needs (citeqa.dedup);
    ``layout`` says where every one lies without building any."""

    def __init__(
        self, segments: Sequence[LiveSegment], firsts: np.ndarray, count: int, ids: np.ndarray
    ) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) and (ids.min() < 0 or ids.max() >= count):
            raise IndexError(f"passage id out of range (0..{count - 1})")
        numbers = np.searchsorted(firsts, ids, side="right") - 1
        doc_rows, starts, ends = (np.empty(len(ids), dtype=np.int64) for _ in range(3))
        for number in np.unique(numbers).tolist():
            chosen = numbers == number
            segment = segments[number]
            rows = segment.live_rows[ids[chosen] - segment.first]
            reader = segment.reader
            doc_rows[chosen] = reader.doc_rows[rows]
            starts[chosen], ends[chosen] = reader.starts[rows], reader.ends[rows]
        self._segments, self._ids, self._numbers = segments, ids.tolist(), numbers.tolist()
        self._doc_rows, self._starts, self._ends = doc_rows.tolist(), starts.tolist(), ends.tolist()
        # A document is live in one segment only: (segment, row) numbers it.
        self.layout = PassageLayout((numbers << 40) + doc_rows, starts, ends)
        self._made: list[Passage | None] = [None] * len(ids)

    def __len__(self) -> int:
        return len(self._ids)

    @overload
    def __getitem__(self, index: int) -> Passage: ...

    @overload
    def __getitem__(self, index: slice) -> list[Passage]: ...

    def __getitem__(self, index: int | slice) -> Passage | list[Passage]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        made = self._made[index]
        if made is None:
            document = self._segments[self._numbers[index]].reader.document(self._doc_rows[index])
            start, end = self._starts[index], self._ends[index]
            made = Passage(self._ids[index], document.doc_id, start, end, document.text[start:end])
            self._made[index] = made
        return made


class SegmentedVectors:
    """The VectorIndex protocol (indexer.vector_index) over the segments' FAISS indexes, compact ids:
    each segment is searched for its k best live passages, and the lists are merged."""

    def __init__(self, segments: Sequence[LiveSegment], dimension: int) -> None:
        self._segments = list(segments)
        self.dimension = dimension
        self._firsts = np.asarray([s.first for s in segments], dtype=np.int64)
        self._count = sum(s.n_live for s in segments)

    def __len__(self) -> int:
        return self._count

    def search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dimension)
        found_scores, found_ids = [], []
        for number, segment in enumerate(self._segments):
            if segment.n_live == 0:
                continue
            if allowed is None:
                scores, rows = self._search_live(number, queries, k)
            else:
                local = np.asarray(allowed, dtype=np.int64)
                local = local[(local >= segment.first) & (local < segment.first + segment.n_live)]
                if not len(local):
                    continue
                scores, rows = search_rows(
                    segment.reader.dense, queries, k, segment.live_rows[local - segment.first]
                )
            valid = rows >= 0
            ids = np.full(rows.shape, -1, dtype=np.int64)
            ids[valid] = segment.compact(rows[valid])
            found_scores.append(np.where(valid, scores, -np.inf).astype(np.float32))
            found_ids.append(ids)
        return merge_top_k(found_scores, found_ids, len(queries), k)

    def _search_live(self, number: int, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        segment = self._segments[number]
        index = segment.reader.dense
        k = min(k, segment.n_live)
        selector = segment.selector
        if selector is None:
            return index.search(queries, k)
        return index.search(queries, k, params=selector_parameters(index, selector))

    def best_sentence_scores(self, ids: np.ndarray, query: np.ndarray) -> np.ndarray:
        """Per compact passage id, the highest inner product of its stored sentence vectors with one
        ``query`` vector: each passage scored by its best sentence (NaN for a passage whose segment stores
        no sentences, written by an earlier release)."""
        ids = np.asarray(ids, dtype=np.int64)
        out = np.full(len(ids), np.nan, dtype=np.float32)
        number_of = np.searchsorted(self._firsts, ids, side="right") - 1
        for number in np.unique(number_of):
            segment = self._segments[int(number)]
            sentences, vectors = segment.reader.sentences, segment.reader.sentence_vectors
            if sentences is None or vectors is None:
                continue
            at = np.flatnonzero(number_of == number)
            rows = segment.live_rows[ids[at] - segment.first]
            begins = np.searchsorted(sentences.passage_rows, rows, side="left")
            ends = np.searchsorted(sentences.passage_rows, rows, side="right")
            counts = ends - begins
            has = counts > 0
            if not has.any():
                continue
            positions = np.concatenate([np.arange(b, e) for b, e in zip(begins[has], ends[has], strict=True)])
            scores = vectors[positions] @ query.astype(np.float32)
            offsets = np.concatenate([[0], np.cumsum(counts[has])[:-1]])
            out[at[has]] = np.maximum.reduceat(scores, offsets)
        return out

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64)
        out = np.empty((len(ids), self.dimension), dtype=np.float32)
        number_of = np.searchsorted(self._firsts, ids, side="right") - 1
        for number in np.unique(number_of):
            segment = self._segments[int(number)]
            at = np.flatnonzero(number_of == number)
            out[at] = segment.reader.vectors(segment.live_rows[ids[at] - segment.first])
        return out


def search_rows(
    index: faiss.Index, queries: np.ndarray, k: int, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The k best of ``rows`` (physical rows of one segment) inside FAISS; an approximate index is searched
    exactly among a small set (its cells might not hold k of them within nprobe)."""
    rows = np.unique(rows)
    k = min(k, len(rows))
    approximate = not isinstance(faiss.downcast_index(index), faiss.IndexFlat)
    if approximate and len(rows) <= EXACT_ALLOWED_MAX:
        scores, positions = NumpyIndex(index.reconstruct_batch(rows)).search(queries, k)
        return scores, np.where(positions >= 0, rows[np.maximum(positions, 0)], -1)
    params = selector_parameters(index, faiss.IDSelectorBatch(rows))
    return index.search(queries, k, params=params)


def merge_top_k(
    scores: list[np.ndarray], ids: list[np.ndarray], n_queries: int, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The k best of several per-segment lists (best first, -1 ids padded), ties by compact id."""
    out_scores = np.full((n_queries, k), -np.inf, dtype=np.float32)
    out_ids = np.full((n_queries, k), -1, dtype=np.int64)
    if not ids:
        return out_scores, out_ids
    all_scores = np.concatenate(scores, axis=1)
    all_ids = np.concatenate(ids, axis=1)
    for q in range(n_queries):
        order = np.lexsort((np.where(all_ids[q] < 0, np.iinfo(np.int64).max, all_ids[q]), -all_scores[q]))[:k]
        out_scores[q, : len(order)] = all_scores[q, order]
        out_ids[q, : len(order)] = all_ids[q, order]
    out_ids[~np.isfinite(out_scores)] = -1
    return out_scores, out_ids
