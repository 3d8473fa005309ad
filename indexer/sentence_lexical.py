"""BM25 over the sentences of one commit: the sentence postings every segment stores (indexer.segment,
``sentence_lexical/``) seen as one ``LexicalIndex``, with index-wide statistics over the live sentences.

A sentence row is live when its passage is live and it is the first row of its sentence (a sentence held
by two overlapping passages is listed once per passage, and counted once: ``SegmentReader.
canonical_sentences``). Scores and rankings then equal those of one BM25 index (bm25s, the passages'
analyser) over the texts of the distinct live sentences. Segments that store no sentence postings
(written before they were stored) take no part: their sentences are found by their vectors only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from indexer.lexical import LexicalIndex
from indexer.segment_views import LiveSegment


@dataclass(frozen=True)
class SentenceRow:
    """One sentence row of a commit: its segment (by position among the commit's segments), its row
    there, its passage's compact id and its document offsets."""

    segment: int
    row: int
    passage_id: int
    start: int
    end: int


class SentenceLexicalIndex:
    """The live sentences of a commit's segments that store sentence postings, under compact sentence
    ids 0..n-1 (segment after segment, rows in order), searchable by BM25."""

    def __init__(self, segments: Sequence[LiveSegment]) -> None:
        self.segments = tuple(segments)
        self._numbers: list[int] = []  # position of each lexical part's segment in ``segments``
        parts = []
        for number, segment in enumerate(self.segments):
            part = segment.sentence_lexical_live()
            if part is not None:
                self._numbers.append(number)
                parts.append(part)
        self._parts = parts
        self.lexical = LexicalIndex(parts=parts)
        self._starts = self.lexical.segment_starts

    def __len__(self) -> int:
        """Live distinct sentences of the segments that store postings."""
        return len(self.lexical)

    def search(self, question: str, k: int) -> tuple[np.ndarray, list[SentenceRow]]:
        """(float32 BM25 scores, rows) of the ``k`` best live sentences with a positive score, best first,
        ties by compact sentence id."""
        scores, ids = self.lexical.search(question, k)
        return scores, self.rows(ids)

    def rows(self, ids: np.ndarray) -> list[SentenceRow]:
        """The sentence rows of compact sentence ids."""
        parts, rows = self.lexical.locate(ids)
        found = []
        for part, row in zip(parts.tolist(), rows.tolist(), strict=True):
            number = self._numbers[part]
            segment = self.segments[number]
            sentences = segment.reader.sentences
            assert sentences is not None  # a segment with sentence postings has sentences
            passage = int(segment.compact(np.asarray([sentences.passage_rows[row]], dtype=np.int64))[0])
            found.append(
                SentenceRow(number, row, passage, int(sentences.starts[row]), int(sentences.ends[row]))
            )
        return found

    def scores_of(self, question: str, segment: int, rows: np.ndarray) -> np.ndarray:
        """float32 BM25 scores of sentence ``rows`` of segment number ``segment`` (live rows; a repeated
        sentence is scored as its first row); zeros where the segment stores no postings."""
        rows = np.asarray(rows, dtype=np.int64)
        if segment not in self._numbers or not len(rows):
            return np.zeros(len(rows), dtype=np.float32)
        at = self._numbers.index(segment)
        canonical = self.segments[segment].reader.canonical_sentences[rows]
        local = self._parts[at].local_gid
        ranks = canonical if local is None else local[canonical].astype(np.int64)
        if (ranks < 0).any():
            raise ValueError("scores_of asked for a deleted sentence")
        return self.lexical.scores_of(question, ranks + self._starts[at])
