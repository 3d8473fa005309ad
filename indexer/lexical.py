"""BM25 over immutable segments with per-segment deletes, scored with index-wide statistics.

Each ``LexicalSegment`` holds only question-independent postings (term-major, like a CSC matrix: for
every term, the rows holding it and how often). A ``LexicalIndex`` is a read-only view over an ordered
list of segments, each with an optional live mask; at query time it computes BM25 from the postings
with the statistics of the live rows alone (N, average length, document frequencies), so that scores
and rankings over several segments with deletes equal those of ``Bm25Index.build`` over the live
passages only.

A posting's BM25 part is idf(term) * tf / (norm(length) + tf): besides the term, it depends only on the
(row length, tf) pair, and a segment holds few distinct pairs (hundreds to thousands). Each segment
numbers its pairs once (``pair_ids``, ``pairs``), the index computes tf / (norm + tf) per pair when it
opens, and a query turns a term's postings into scores with one gather from a per-term table of
float32 values. The scoring reproduces bm25s's default method ("lucene", k1=1.5, b=0.75) operation by
operation (float64 term parts rounded to float32, float32 sums in question-token order), so the
scores match bm25s's bit for bit, not only within a tolerance.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import chain
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import Stemmer

from indexer.bm25_index import (
    QUERY_TOKENS_CACHED,
    QUERY_TOKENS_CACHED_CHARS,
    STEMMER_LANGUAGE,
    STOPWORDS,
    Bm25Index,
    stopword_set,
    text_tokens,
)
from indexer.lru import LRU
from indexer.npy import load_npy

K1 = 1.5
"""bm25s's default k1."""
B = 0.75
"""bm25s's default b."""

FORMAT = "citeqa-lexical-segment"
FORMAT_VERSION = 1
TERMS_FILE = "lexical_terms.arrow"
INDPTR_FILE = "lexical_indptr.npy"
ROWS_FILE = "lexical_rows.npy"
TFS_FILE = "lexical_tfs.npy"
LENGTHS_FILE = "lexical_lengths.npy"
PAIR_IDS_FILE = "lexical_pair_ids.npy"
PAIRS_FILE = "lexical_pairs.npy"
SEGMENT_FILES = (TERMS_FILE, INDPTR_FILE, ROWS_FILE, TFS_FILE, LENGTHS_FILE, PAIR_IDS_FILE, PAIRS_FILE)
"""Every file ``LexicalSegment.save`` writes into its folder (and nothing else)."""

_DF_CACHE_LIMIT = 4096
_DENSE_PAIR_TABLE = 1 << 22  # (length, tf) pairs are numbered through a dense table up to this size
_SAMPLE_STEP = 16  # search: a threshold from every 16th score, then only the rows above it


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    """The stemmed, stopword-free tokens of each text: exactly ``Bm25Index.tokenize``."""
    return Bm25Index.tokenize(texts)


def _empty_int(dtype: type) -> np.ndarray:
    return np.zeros(0, dtype=dtype)


@dataclass(frozen=True, eq=False)
class LexicalSegment:
    """One immutable segment's postings, term-major (CSC): the postings of term ``terms[j]`` are
    ``rows[indptr[j]:indptr[j+1]]`` (row numbers within the segment, ascending) with their term
    frequencies ``tfs[...]``; ``lengths[row]`` is a row's token count (the document length bm25s
    uses). Every listed term occurs in at least one row. Arrays may be read-only memory maps."""

    terms: list[str]
    """The distinct terms, sorted (code-point order)."""
    indptr: np.ndarray
    """int64, ``len(terms) + 1``: where each term's postings start and end."""
    rows: np.ndarray
    """int32, one per posting: the row holding the term, ascending within a term."""
    tfs: np.ndarray
    """int32, one per posting: how often the term occurs in the row."""
    lengths: np.ndarray
    """int32, one per row: the row's number of tokens (0 for a row without any)."""
    pair_ids: np.ndarray | None = None
    """int32, one per posting: the posting's (row length, tf) pair, an index into ``pairs``.
    Derived from the arrays above when not given."""
    pairs: np.ndarray | None = None
    """int32, shape (n_pairs, 2): the distinct (row length, tf) pairs of the postings, ascending."""
    term_ids: dict[str, int] = field(init=False, repr=False, compare=False)
    """term -> its position in ``terms``, built at construction."""

    def __post_init__(self) -> None:
        n_terms = len(self.terms)
        if self.indptr.shape != (n_terms + 1,):
            raise ValueError(f"indptr has shape {self.indptr.shape}, expected ({n_terms + 1},)")
        n_postings = int(self.indptr[-1])
        if int(self.indptr[0]) != 0 or self.rows.shape != (n_postings,) or self.tfs.shape != (n_postings,):
            raise ValueError("indptr, rows and tfs disagree on the number of postings")
        if self.lengths.ndim != 1:
            raise ValueError("lengths must be one-dimensional")
        if self.pair_ids is None or self.pairs is None:
            pair_ids, pairs = _number_pairs(np.asarray(self.lengths)[self.rows], np.asarray(self.tfs))
            object.__setattr__(self, "pair_ids", pair_ids)
            object.__setattr__(self, "pairs", pairs)
        elif self.pair_ids.shape != (n_postings,) or self.pairs.ndim != 2 or self.pairs.shape[1] != 2:
            raise ValueError("pair_ids and pairs do not fit the postings")
        object.__setattr__(self, "term_ids", {term: i for i, term in enumerate(self.terms)})

    @property
    def n_rows(self) -> int:
        """Rows (documents) in the segment, live or not."""
        return int(self.lengths.shape[0])

    @property
    def n_postings(self) -> int:
        return int(self.rows.shape[0])

    @classmethod
    def empty(cls, n_rows: int = 0) -> LexicalSegment:
        """A segment of ``n_rows`` rows without any token (no rows by default)."""
        empty = _empty_int(np.int32)
        return cls([], np.zeros(1, dtype=np.int64), empty, empty, np.zeros(n_rows, dtype=np.int32))

    @classmethod
    def from_texts(cls, texts: Sequence[str]) -> LexicalSegment:
        """The segment of raw texts (analysed by ``tokenize``)."""
        return cls.build(tokenize(texts))

    @classmethod
    def build(cls, token_lists: Sequence[list[str]]) -> LexicalSegment:
        """The segment of already tokenized rows (see ``tokenize``), row i = ``token_lists[i]``.

        Vectorized: tokens are dictionary-encoded by Arrow, then (term, row) pairs are counted with
        one ``np.unique``."""
        n_rows = len(token_lists)
        lengths = np.fromiter((len(tokens) for tokens in token_lists), dtype=np.int64, count=n_rows)
        if n_rows == 0 or int(lengths.sum()) == 0:
            return cls.empty(n_rows)
        encoded = pc.dictionary_encode(pa.array(chain.from_iterable(token_lists), type=pa.large_string()))
        order = pc.sort_indices(encoded.dictionary).to_numpy()  # sorted position -> dictionary index
        sorted_id = np.empty(len(order), dtype=np.int64)
        sorted_id[order] = np.arange(len(order), dtype=np.int64)
        term_of_token = sorted_id[encoded.indices.to_numpy(zero_copy_only=False)]
        row_of_token = np.repeat(np.arange(n_rows, dtype=np.int64), lengths)
        keys, counts = np.unique(term_of_token * n_rows + row_of_token, return_counts=True)
        terms: list[str] = encoded.dictionary.take(pa.array(order)).to_pylist()
        return cls(
            terms,
            _indptr(keys // n_rows, len(terms)),
            (keys % n_rows).astype(np.int32),
            counts.astype(np.int32),
            lengths.astype(np.int32),
        )

    @classmethod
    def merge(
        cls, segments: Sequence[LexicalSegment], live: Sequence[np.ndarray | None] | None = None
    ) -> LexicalSegment:
        """One segment holding the live rows of ``segments`` in order (segment order, then row order),
        equal to ``build`` over those rows' tokens. Reads postings only (no text), in linear time: a
        term's postings from successive segments are already in row order, so each posting's place
        follows from counts (a counting sort)."""
        masks = _masks(segments, live)
        keep = [
            np.ones(s.n_rows, dtype=bool) if m is None else m for s, m in zip(segments, masks, strict=True)
        ]
        lengths = np.concatenate(
            [_empty_int(np.int32)] + [np.asarray(s.lengths)[k] for s, k in zip(segments, keep, strict=True)]
        )
        if int(lengths.sum(dtype=np.int64)) == 0:
            return cls.empty(len(lengths))
        terms = sorted(set(chain.from_iterable(s.terms for s in segments)))
        term_ids = {t: i for i, t in enumerate(terms)}
        parts = []  # per segment: (new term of each live posting, new row, tf)
        start = 0
        for segment, k in zip(segments, keep, strict=True):
            new_term = np.fromiter((term_ids[t] for t in segment.terms), np.int64, len(segment.terms))
            new_row = np.cumsum(k, dtype=np.int64) - 1 + start
            rows = np.asarray(segment.rows)
            alive = k[rows]
            term_of_posting = np.repeat(new_term, np.diff(segment.indptr))[alive]
            parts.append((term_of_posting, new_row[rows[alive]], np.asarray(segment.tfs)[alive]))
            start += int(np.count_nonzero(k))
        counts = sum(np.bincount(t, minlength=len(terms)) for t, _, _ in parts)
        indptr = np.zeros(len(terms) + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        out_rows = np.empty(int(indptr[-1]), dtype=np.int32)
        out_tfs = np.empty(int(indptr[-1]), dtype=np.int32)
        cursor = indptr[:-1].copy()  # where each term's next postings go
        for term_of_posting, new_row, tfs in parts:
            if not len(term_of_posting):
                continue
            position = np.arange(len(term_of_posting), dtype=np.int64)
            run_start = np.zeros(len(term_of_posting), dtype=np.int64)
            changes = np.flatnonzero(term_of_posting[1:] != term_of_posting[:-1]) + 1
            run_start[changes] = changes
            np.maximum.accumulate(run_start, out=run_start)  # first position of each posting's term run
            target = cursor[term_of_posting] + position - run_start
            out_rows[target] = new_row
            out_tfs[target] = tfs
            cursor += np.bincount(term_of_posting, minlength=len(terms))
        present = counts > 0  # terms only in deleted rows are dropped
        if not present.all():
            terms = [t for t, p in zip(terms, present, strict=True) if p]
            indptr = np.concatenate([indptr[:-1][present], indptr[-1:]])
        return cls(terms, indptr, out_rows, out_tfs, lengths.astype(np.int32))

    def save(self, folder: Path) -> None:
        """Write ``SEGMENT_FILES`` into ``folder`` (created if missing): the arrays as ``.npy``, the
        terms as an Arrow IPC file with one utf8 column ``term`` (and the format in its metadata)."""
        folder.mkdir(parents=True, exist_ok=True)
        metadata = {"format": FORMAT, "version": str(FORMAT_VERSION), "n_rows": str(self.n_rows)}
        table = pa.table({"term": pa.array(self.terms, type=pa.string())}).replace_schema_metadata(metadata)
        with pa.OSFile(str(folder / TERMS_FILE), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        for name, array, dtype in (
            (INDPTR_FILE, self.indptr, np.int64),
            (ROWS_FILE, self.rows, np.int32),
            (TFS_FILE, self.tfs, np.int32),
            (LENGTHS_FILE, self.lengths, np.int32),
            (PAIR_IDS_FILE, self.pair_ids, np.int32),
            (PAIRS_FILE, self.pairs, np.int32),
        ):
            np.save(folder / name, np.ascontiguousarray(array, dtype=dtype), allow_pickle=False)

    @classmethod
    def load(cls, folder: Path, mmap: bool = True) -> LexicalSegment:
        """The segment ``save`` wrote in ``folder``; with ``mmap`` the arrays are read-only views of memory
        maps (``np.load(mmap_mode="r")``), else read into memory."""
        with pa.memory_map(str(folder / TERMS_FILE), "r") as source:
            table = pa.ipc.open_file(source).read_all()
        metadata = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
        if metadata.get("format") != FORMAT or metadata.get("version") != str(FORMAT_VERSION):
            raise ValueError(
                f"{folder / TERMS_FILE}: not a {FORMAT} version {FORMAT_VERSION} file: {json.dumps(metadata)}"
            )
        mode = "r" if mmap else None
        # np.asarray: plain read-only ndarrays over the same maps (slicing an np.memmap costs more)
        arrays = [np.asarray(load_npy(folder / name, mmap_mode=mode)) for name in SEGMENT_FILES[1:]]
        segment = cls(table.column("term").to_pylist(), *arrays)
        if segment.n_rows != int(metadata["n_rows"]):
            raise ValueError(f"{folder}: {segment.n_rows} lengths for {metadata['n_rows']} rows")
        return segment


def _indptr(term_of_posting: np.ndarray, n_terms: int) -> np.ndarray:
    """CSC pointers from the (ascending) term of every posting."""
    indptr = np.zeros(n_terms + 1, dtype=np.int64)
    np.cumsum(np.bincount(term_of_posting, minlength=n_terms), out=indptr[1:])
    return indptr


def _number_pairs(lengths: np.ndarray, tfs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(pair id of each posting, the distinct (length, tf) pairs ascending) for postings with these
    row lengths and term frequencies."""
    if not len(tfs):
        return _empty_int(np.int32), np.zeros((0, 2), dtype=np.int32)
    width = int(tfs.max()) + 1
    keys = lengths.astype(np.int64) * width + tfs
    if (int(lengths.max()) + 1) * width <= _DENSE_PAIR_TABLE:  # linear time through a dense table
        present = np.zeros((int(lengths.max()) + 1) * width, dtype=bool)
        present[keys] = True
        distinct = np.flatnonzero(present)
        number = np.cumsum(present, dtype=np.int64) - 1
        pair_ids = number[keys]
    else:
        distinct, pair_ids = np.unique(keys, return_inverse=True)
    pairs = np.stack([distinct // width, distinct % width], axis=1).astype(np.int32)
    return pair_ids.astype(np.int32), pairs


def _masks(
    segments: Sequence[LexicalSegment], live: Sequence[np.ndarray | None] | None
) -> list[np.ndarray | None]:
    """Validated live masks, one per segment; None where every row is live."""
    if live is None:
        return [None] * len(segments)
    if len(live) != len(segments):
        raise ValueError(f"{len(live)} live masks for {len(segments)} segments")
    masks: list[np.ndarray | None] = []
    for segment, mask in zip(segments, live, strict=True):
        if mask is not None:
            mask = np.asarray(mask)
            if mask.dtype != np.bool_ or mask.shape != (segment.n_rows,):
                raise ValueError(
                    f"a live mask must be bool of shape ({segment.n_rows},), not {mask.dtype} {mask.shape}"
                )
            if mask.all():
                mask = None
        masks.append(mask)
    return masks


def _length_norm(lengths: np.ndarray, avgdl: float) -> np.ndarray:
    """bm25s's ``k1 * ((1 - b) + b * l_d / l_avg)`` per length, the same float64 operations in order."""
    return K1 * ((1 - B) + B * np.asarray(lengths, dtype=np.float64) / avgdl)


@dataclass(frozen=True)
class CorpusStatistics:
    """What BM25 needs of a whole corpus besides per-term frequencies: its live rows and their total
    token count. Shards add theirs up (``combined``) so that each scores as one index would."""

    rows: int
    total_length: int

    @property
    def avgdl(self) -> float:
        return self.total_length / self.rows if self.rows else 0.0

    @staticmethod
    def combined(parts: Sequence[CorpusStatistics]) -> CorpusStatistics:
        return CorpusStatistics(sum(p.rows for p in parts), sum(p.total_length for p in parts))


@dataclass(frozen=True, eq=False)
class LexicalLive:
    """One segment with one set of deletes, independent of where it sits in an index: what an index
    over it needs that costs the segment's size to compute (live count, total live length, each row's
    rank among the live rows). Immutable: made once per (segment, deletes file) and shared by every
    commit that lists the segment with those deletes (a commit then costs its changed segments only)."""

    segment: LexicalSegment
    live: np.ndarray | None
    """bool per row, or None when every row is live."""
    n_live: int
    total_length: int
    """Sum of the live rows' token counts."""
    local_gid: np.ndarray | None
    """Per row its rank among the live rows, -1 if deleted (int32 while rows fit, else int64); None if
    every row is live (then a row's rank is the row)."""

    @classmethod
    def of(cls, segment: LexicalSegment, live: np.ndarray | None = None) -> LexicalLive:
        [mask] = _masks([segment], [live])
        lengths = np.asarray(segment.lengths)
        if mask is None:
            return cls(segment, None, segment.n_rows, int(lengths.sum(dtype=np.int64)), None)
        mask = mask.copy()
        mask.setflags(write=False)
        gid = np.cumsum(mask, dtype=np.int64 if segment.n_rows >= 2**31 - 1 else np.int32)
        gid -= 1
        gid[~mask] = -1
        gid.setflags(write=False)
        return cls(
            segment, mask, int(np.count_nonzero(mask)), int(lengths.sum(dtype=np.int64, where=mask)), gid
        )

    @cached_property
    def live_rows(self) -> np.ndarray:
        """The live rows in order: rank -> row."""
        return np.arange(self.segment.n_rows) if self.live is None else np.flatnonzero(self.live)


class _View:
    """One segment as the index sees it: its live rows (``LexicalLive``), the compact id of the first,
    and the float64 tf / (norm + tf) of each of the segment's (length, tf) pairs under the index-wide
    average length (a few hundred to a few thousand pairs a segment: made per index)."""

    def __init__(self, part: LexicalLive, start: int, avgdl: float) -> None:
        self.part = part
        self.segment = part.segment
        self.live = part.live
        self.start = start
        """Compact id of the segment's first live row."""
        self.n_live = part.n_live
        pairs = np.asarray(self.segment.pairs)
        tfs = pairs[:, 1].astype(np.float64)
        self.tfc = tfs / (_length_norm(pairs[:, 0], avgdl) + tfs) if avgdl > 0 else np.zeros_like(tfs)
        """float64 per (length, tf) pair: tf / (norm(length) + tf); zeros when no live row has a token
        (then no term is known and nothing reads them)."""

    @property
    def live_rows(self) -> np.ndarray:
        """The live rows in order: compact id - start -> row."""
        return self.part.live_rows


class LexicalIndex:
    """A read-only BM25 view over ordered segments with optional live masks.

    Compact ids number the live rows 0..n_live-1, segment by segment, then by row. Statistics are over
    live rows only and index-wide: N = live rows, avgdl = mean live length (rows without tokens
    count, with length 0), df(t) = live rows holding t."""

    def __init__(
        self,
        segments: Sequence[LexicalSegment] = (),
        live: Sequence[np.ndarray | None] | None = None,
        parts: Sequence[LexicalLive] | None = None,
        corpus: CorpusStatistics | None = None,
    ) -> None:
        """Over ``segments`` with their ``live`` masks, or over ``parts`` already made (``LexicalLive``:
        then opening costs the number of segments, not their size).

        ``corpus``: the statistics of a larger corpus these segments are part of (the shards of a sharded
        index), used for idf and the average length in place of these segments' own; its document
        frequencies are given per question (``use_document_frequencies``)."""
        if parts is None:
            masks = _masks(segments, live)
            parts = [LexicalLive.of(s, m) for s, m in zip(segments, masks, strict=True)]
        elif segments or live is not None:
            raise ValueError("give segments (and live masks) or parts, not both")
        self._n = n = sum(p.n_live for p in parts)
        total_length = sum(p.total_length for p in parts)
        self.own = CorpusStatistics(n, total_length)
        """The live rows and their total token count, of these segments alone."""
        self.corpus = corpus or self.own
        self.avgdl: float = self.corpus.avgdl
        """Mean token count of the live rows (0 when there are none), corpus-wide."""
        self._views: list[_View] = []
        start = 0
        for part in parts:
            self._views.append(_View(part, start, self.avgdl))
            start += part.n_live
        self._gid_dtype = np.int64 if n >= 2**31 - 1 else np.int32
        self._starts = np.array([v.start for v in self._views], dtype=np.int64)
        self._stemmer = Stemmer.Stemmer(STEMMER_LANGUAGE)
        self._df_cache: dict[str, int] = {}
        self._shared_df = corpus is not None
        self._tokens: LRU[str, tuple[str, ...]] = LRU(QUERY_TOKENS_CACHED)

    def __len__(self) -> int:
        """Live rows."""
        return self._n

    @property
    def segment_starts(self) -> np.ndarray:
        """int64 per segment: the compact id of its first live row."""
        return self._starts.copy()

    def locate(self, ids: np.ndarray | Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """(segment index, row within that segment) of each compact id."""
        ids = np.asarray(ids, dtype=np.int64)
        if ids.size and (int(ids.min()) < 0 or int(ids.max()) >= self._n):
            raise IndexError(f"compact ids must be in [0, {self._n})")
        segment = np.searchsorted(self._starts, ids, side="right") - 1
        rows = ids - self._starts[segment] if len(self._starts) else ids.copy()
        for s in np.unique(segment):
            view = self._views[s]
            if view.live is not None:
                at = segment == s
                rows[at] = view.live_rows[rows[at]]
        return segment, rows

    def _analyze(self, question: str) -> list[str]:
        """The question's analysed tokens, as bm25s makes them (``text_tokens``: without bm25s's
        per-call set-up), kept for recent questions (a query asks more than once) unless long."""
        cached = self._tokens.get(question)
        if cached is None:
            cached = tuple(text_tokens(question, stopword_set(STOPWORDS), self._stemmer))
            if len(question) <= QUERY_TOKENS_CACHED_CHARS:
                self._tokens.put(question, cached)
        return list(cached)

    def local_document_frequencies(self, question: str) -> dict[str, int]:
        """Live rows of these segments alone holding each of the question's analysed terms (what a shard
        tells the others before a sharded search: Elasticsearch's dfs phase)."""
        return {term: self._live_df(term) for term in dict.fromkeys(self._analyze(question))}

    def use_document_frequencies(self, frequencies: Mapping[str, int]) -> None:
        """Take the corpus-wide document frequencies of a question's terms (for a view made with
        ``corpus``); a term asked for later without one raises KeyError."""
        for term, df in frequencies.items():
            self._remember_df(term, int(df))

    def _live_df(self, term: str) -> int:
        """Live rows holding ``term`` (cached: the view never changes)."""
        df = self._df_cache.get(term)
        if df is None and self._shared_df:
            raise KeyError(f"no corpus-wide document frequency given for {term!r}")
        if df is None:
            df = 0
            for view in self._views:
                j = view.segment.term_ids.get(term)
                if j is None or view.n_live == 0:
                    continue
                start, end = int(view.segment.indptr[j]), int(view.segment.indptr[j + 1])
                if view.live is None:
                    df += end - start
                else:
                    df += int(np.count_nonzero(view.live[view.segment.rows[start:end]]))
            self._remember_df(term, df)
        return df

    def _remember_df(self, term: str, df: int) -> None:
        if len(self._df_cache) >= _DF_CACHE_LIMIT:
            self._df_cache.clear()
        self._df_cache[term] = df

    def document_frequency(self, term: str) -> int:
        """How many live passages hold a stemmed term (0 when none does), index-wide."""
        return self._live_df(term)

    def has_term(self, term: str) -> bool:
        """Whether a stemmed term occurs in some live row."""
        return self._live_df(term) > 0

    def query_tokens(self, question: str) -> list[str]:
        """The question's stemmed terms that occur in some live row, in order, repeats kept."""
        return [t for t in self._analyze(question) if self.has_term(t)]

    def _idf(self, df: int) -> np.float32:
        """bm25s's lucene idf, computed as it does (Python float, stored as float32)."""
        return np.float32(math.log(1 + (self.corpus.rows - df + 0.5) / (df + 0.5)))

    def _term_scores(self, term: str) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per segment holding ``term``: (where in the score vector, float32 BM25 part) of its postings;
        deleted rows point at the spare slot ``n``. Empty when no live row holds the term."""
        found = []
        known_df = self._df_cache.get(term)
        if known_df is None and self._shared_df:
            known_df = self._live_df(term)  # raises: a shared view is told its frequencies first
        df = 0
        for view in self._views:
            j = view.segment.term_ids.get(term)
            if j is None or view.n_live == 0:
                continue
            start, end = int(view.segment.indptr[j]), int(view.segment.indptr[j + 1])
            rows = view.segment.rows[start:end]
            local = view.part.local_gid
            if local is None:
                where = rows + np.int64(view.start) if view.start else rows
                df += end - start
            else:
                ranks = local[rows]
                dead = ranks < 0
                where = ranks.astype(self._gid_dtype) + self._gid_dtype(view.start)
                where[dead] = self._n  # deleted rows add into the spare slot
                if known_df is None:
                    df += end - start - int(np.count_nonzero(dead))
            found.append((view, start, end, rows, where))
        if known_df is None:
            self._remember_df(term, df)
        else:
            df = known_df
        if df == 0:
            return []
        idf = self._idf(df)
        parts = []
        for view, start, end, rows, where in found:
            if 4 * (end - start) >= len(view.tfc):  # a float32 value per (length, tf) pair, then a gather
                values = (idf * view.tfc).astype(np.float32)[view.segment.pair_ids[start:end]]
            else:  # far fewer postings than pairs: compute them directly (the same operations)
                tfs = np.asarray(view.segment.tfs[start:end], dtype=np.float64)
                norm = _length_norm(view.segment.lengths[rows], self.avgdl)
                values = (idf * (tfs / (norm + tfs))).astype(np.float32)
            parts.append((where, values))
        return parts

    def scores(self, question: str) -> np.ndarray:
        """float32 BM25 score of every live row (by compact id) for ``question``; zeros when no term
        is known. A repeated question term counts once per occurrence, as in bm25s."""
        tokens = self._analyze(question)
        out = np.zeros(self._n + 1, dtype=np.float32)  # the last slot takes deleted rows' parts
        if self._n:
            parts = {t: self._term_scores(t) for t in dict.fromkeys(tokens)}
            for token in tokens:  # bm25s adds term by term in question order: the same float32 sums
                for where, values in parts[token]:
                    np.add.at(out, where, values)  # deleted rows add into the spare slot
        return out[: self._n]

    def scores_of(self, question: str, ids: np.ndarray | Sequence[int]) -> np.ndarray:
        """float32 scores of the given compact ids only (equal to ``scores(question)[ids]``), reading
        each term's postings only where those ids' rows are."""
        ids = np.asarray(ids, dtype=np.int64)
        out = np.zeros(len(ids), dtype=np.float32)
        tokens = self._analyze(question)
        if not len(ids) or not tokens:
            return out
        segment_of, row_of = self.locate(ids)
        groups = [(int(s), np.flatnonzero(segment_of == s)) for s in np.unique(segment_of)]
        parts: dict[str, tuple[np.ndarray, np.ndarray] | None] = {}
        for term in dict.fromkeys(tokens):
            df = self._live_df(term)
            if df == 0:
                parts[term] = None
                continue
            idf = self._idf(df)
            positions, values = [], []
            for s, at in groups:
                view = self._views[s]
                j = view.segment.term_ids.get(term)
                if j is None:
                    continue
                start, end = int(view.segment.indptr[j]), int(view.segment.indptr[j + 1])
                postings = view.segment.rows[start:end]
                rows = row_of[at]
                found = np.searchsorted(postings, rows).clip(max=end - start - 1)
                hit = postings[found] == rows
                if not hit.any():
                    continue
                tfs = np.asarray(view.segment.tfs[start:end][found[hit]], dtype=np.float64)
                norm = _length_norm(view.segment.lengths[rows[hit]], self.avgdl)
                positions.append(at[hit])
                values.append((idf * (tfs / (norm + tfs))).astype(np.float32))
            parts[term] = (np.concatenate(positions), np.concatenate(values)) if positions else None
        for token in tokens:
            part = parts[token]
            if part is not None:
                out[part[0]] += part[1]  # positions are distinct within a term
        return out

    def search(
        self, question: str, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(scores, compact ids) of the ``k`` best live rows with a positive score, best first, ties by
        id; with ``allowed``, of those compact ids only."""
        return top_positive(self.scores(question), k, allowed)


def top_positive(
    scores: np.ndarray, k: int, allowed: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(scores, ids) of the ``k`` best positive ``scores`` (among ``allowed`` ids if given), best first,
    ties by id, as ``indexer.bm25_index.top_positive`` means to: that one keeps an arbitrary member of
    a tie at the k-th place (``np.argpartition``), so this one keeps every row tied with the k-th score
    before sorting by (score, id). Without ``allowed``, it first bounds the k-th best score from below
    by the k-th best of every 16th score, and only reads the rows at or above that bound."""
    k = max(k, 0)
    if allowed is not None:
        candidates = np.asarray(allowed, dtype=np.int64)
        candidates = candidates[scores[candidates] > 0]
    else:
        candidates = None
        if k > 0 and len(scores) >= 64 * _SAMPLE_STEP * k:
            sample = scores[::_SAMPLE_STEP]
            sample = sample[sample > 0]  # (np.partition slows down on many equal values: the zeros)
            if len(sample) >= k:
                bound = np.partition(sample, len(sample) - k)[len(sample) - k]  # <= the k-th best score
                candidates = np.flatnonzero(scores >= bound)
        if candidates is None:
            candidates = np.flatnonzero(scores > 0)
    if k == 0:
        candidates = candidates[:0]
    elif len(candidates) > k:
        values = scores[candidates]
        kth = np.partition(values, len(values) - k)[len(values) - k]  # the k-th best score
        candidates = candidates[values >= kth]
    order = candidates[np.lexsort((candidates, -scores[candidates]))][:k]
    return scores[order], order.astype(np.int64)
