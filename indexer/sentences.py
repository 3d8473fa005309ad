"""The sentences of a segment's passages: where each one is (its passage row and document offsets) and
which distinct texts must be embedded, so a segment stores its sentence vectors beside its passages'.

A sentence is listed once per passage that holds it (overlapping passages share their overlap), so the
sentence rows of a passage follow it wherever its row goes (a delete, a merge, a split into shards). Its
text is never stored: it is its document's ``text[start:end]``, exact by construction, as passages are.
The spans are the answer layer's (citeqa.sentence_scoring): ``passage_sentences`` is the one definition.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyarrow as pa

from indexer.chunking import WRAPPED_LINE_CHARS, Span, sentence_spans
from indexer.text_rules import LINE_BREAKS
from indexer.types import Passage

SENTENCE_SCHEMA = pa.schema([("passage_row", pa.int32()), ("start", pa.int64()), ("end", pa.int64())])


def passage_sentences(document_text: str, start: int, end: int) -> tuple[Span, ...]:
    """Sentences inside ``document_text[start:end]``, in document offsets: those of its text alone, moved
    by ``start``, but for how long its first line is (a passage starts where a sentence does, often
    mid-line in wrapped text), so a passage is cut into its document's sentences."""
    text = document_text[start:end]
    # Only a line break can continue a sentence by its line's length (most web text holds none).
    return _sentences_at(text, start, line_lead(document_text, start) if "\n" in text else 0)


def line_lead(document_text: str, start: int) -> int:
    """How many characters of its line come before ``start`` (at most WRAPPED_LINE_CHARS, all that
    sentence_spans reads of them)."""
    window = document_text[max(0, start - WRAPPED_LINE_CHARS) : start]
    return len(window) - 1 - max(window.rfind(c) for c in LINE_BREAKS)


# Memoized: the same passages recur in query after query, and splitting them again cost more than the rest
# of sentence scoring. Keyed by the passage's text, not its document's: each of the 65,536 entries kept
# the whole text of a document (up to 1,000,000 characters), replaced and deleted ones included.
@lru_cache(maxsize=65_536)
def _sentences_at(passage_text: str, start: int, lead: int) -> tuple[Span, ...]:
    return tuple(
        Span(s.start + start, s.end + start, s.words) for s in sentence_spans(passage_text, lead=lead)
    )


@dataclass(frozen=True)
class SentenceRows:
    """Aligned columns, one row per (passage, sentence): the passage's row in its segment and the
    sentence's document offsets. Rows are in passage order, then in document order."""

    passage_rows: np.ndarray  # int32
    starts: np.ndarray  # int64
    ends: np.ndarray  # int64

    def __len__(self) -> int:
        return len(self.passage_rows)

    @classmethod
    def empty(cls) -> SentenceRows:
        return cls(np.empty(0, np.int32), np.empty(0, np.int64), np.empty(0, np.int64))

    @classmethod
    def of_table(cls, table: pa.Table) -> SentenceRows:
        return cls(
            table.column("passage_row").to_numpy(),
            table.column("start").to_numpy(),
            table.column("end").to_numpy(),
        )

    def table(self) -> pa.Table:
        return pa.table(
            {"passage_row": self.passage_rows, "start": self.starts, "end": self.ends}, schema=SENTENCE_SCHEMA
        )

    def of_passages(self, rows: np.ndarray | Sequence[int]) -> tuple[SentenceRows, np.ndarray]:
        """The sentences of passage ``rows`` (in that order) renumbered as passages 0..len(rows)-1, and
        the positions of those sentences in this table (to take their vectors)."""
        rows = np.asarray(rows, dtype=np.int64)
        bounds = np.searchsorted(self.passage_rows, np.stack([rows, rows + 1]))
        counts = bounds[1] - bounds[0]
        if len(rows) == 0 or counts.sum() == 0:
            return SentenceRows.empty(), np.empty(0, dtype=np.int64)
        # Consecutive ranges [begin, end) of every passage asked for, as one index array.
        positions = np.concatenate([np.arange(b, e) for b, e in zip(bounds[0], bounds[1], strict=True)])
        passage_rows = np.repeat(np.arange(len(rows), dtype=np.int32), counts)
        return SentenceRows(passage_rows, self.starts[positions], self.ends[positions]), positions

    @staticmethod
    def concatenate(parts: Sequence[tuple[SentenceRows, int]]) -> SentenceRows:
        """Tables of consecutive passage blocks as one; each part comes with its first passage row."""
        if not parts:
            return SentenceRows.empty()
        return SentenceRows(
            np.concatenate([p.passage_rows.astype(np.int32) + first for p, first in parts]).astype(np.int32),
            np.concatenate([p.starts for p, _ in parts]).astype(np.int64),
            np.concatenate([p.ends for p, _ in parts]).astype(np.int64),
        )


def split_sentences(
    passages: Sequence[Passage], texts: Mapping[str, str]
) -> tuple[SentenceRows, list[str], np.ndarray]:
    """The sentence rows of ``passages`` (``texts``: document text by doc_id), the distinct sentence texts
    in first-seen order, and each row's position among those texts (what to copy its vector from)."""
    passage_rows: list[int] = []
    starts: list[int] = []
    ends: list[int] = []
    distinct: dict[str, int] = {}
    text_of_row: list[int] = []
    for row, passage in enumerate(passages):
        document_text = texts[passage.doc_id]
        for span in passage_sentences(document_text, passage.start, passage.end):
            passage_rows.append(row)
            starts.append(span.start)
            ends.append(span.end)
            text_of_row.append(distinct.setdefault(document_text[span.start : span.end], len(distinct)))
    rows = SentenceRows(
        np.asarray(passage_rows, dtype=np.int32),
        np.asarray(starts, dtype=np.int64),
        np.asarray(ends, dtype=np.int64),
    )
    return rows, list(distinct), np.asarray(text_of_row, dtype=np.int64)
