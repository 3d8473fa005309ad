"""Sentence-level retrieval by BM25, and fused with the dense one (citeqa.sentence_search).

``top_sentences_bm25`` finds the live sentences of the index with the best BM25 scores for the question,
over the sentence postings every segment stores (indexer.sentence_lexical: index-wide statistics over the
distinct live sentences, bit-exact with bm25s over their texts). ``fused_sentences`` fuses them with the
dense ``top_sentences`` as hybrid passage search fuses passages (citeqa.fusion's convex_minmax): both
lists to ``depth``, every sentence of their union scored both ways exactly (its stored vector, its
postings), each score min-max scaled over the union, ``(1 - bm25_weight) * dense + bm25_weight * BM25``.
With ``bm25_weight`` 0 it is ``top_sentences`` itself. Segments written before sentence postings were
stored give their sentences a BM25 score of 0 (found by their vectors only).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from citeqa.fusion import convex_fusion
from citeqa.sentence_search import SentenceHit, top_sentences
from indexer.load import LoadedIndex

# How deep each list goes before fusion (the passages' fusion takes 100 of each).
FUSION_DEPTH = 100


@dataclass(frozen=True)
class LexicalSentenceHit:
    """One sentence of the index found by BM25: its passage's compact id, its document offsets, its
    score, and where it is stored (segment position in the commit, sentence row)."""

    passage_id: int
    start: int
    end: int
    score: float
    segment: int
    row: int


def top_sentences_bm25(index: LoadedIndex, question: str, k: int) -> list[LexicalSentenceHit]:
    """The ``k`` live sentences of ``index`` with the best positive BM25 scores for ``question`` (best
    first, ties by compact sentence id); a sentence held by two overlapping passages counts once."""
    if k <= 0:
        return []
    scores, rows = index.sentence_bm25.search(question, k)
    return [
        LexicalSentenceHit(r.passage_id, r.start, r.end, float(s), r.segment, r.row)
        for s, r in zip(scores.tolist(), rows, strict=True)
    ]


def fused_sentences(
    index: LoadedIndex,
    question: str,
    query: np.ndarray,
    k: int,
    bm25_weight: float,
    depth: int = FUSION_DEPTH,
) -> list[SentenceHit]:
    """The ``k`` best live sentences by the fusion of dense and BM25 sentence retrieval (best first;
    each hit's ``cosine`` is its exact cosine with ``query``)."""
    if k <= 0:
        return []
    if not 0.0 <= bm25_weight <= 1.0:
        raise ValueError("bm25_weight must be in [0, 1]")
    depth = max(depth, k)
    dense = top_sentences(index, query, depth)
    if bm25_weight == 0.0:
        return dense[:k]
    lexical = top_sentences_bm25(index, question, depth)
    query = np.asarray(query, dtype=np.float32).reshape(-1)
    keys: dict[tuple[str, int, int], int] = {}
    passage_ids: list[int] = []
    starts: list[int] = []
    ends: list[int] = []
    cosines: list[float] = []
    bm25: list[float] = []
    for hit in dense:
        keys[(index.passages[hit.passage_id].doc_id, hit.start, hit.end)] = len(passage_ids)
        passage_ids.append(hit.passage_id)
        starts.append(hit.start)
        ends.append(hit.end)
        cosines.append(hit.cosine)
        bm25.append(np.nan)  # filled below
    for found in lexical:
        key = (index.passages[found.passage_id].doc_id, found.start, found.end)
        at = keys.get(key)
        if at is not None:
            bm25[at] = found.score
            continue
        keys[key] = len(passage_ids)
        vectors = index.segments[found.segment].reader.sentence_vectors
        assert vectors is not None  # a segment with sentence postings stores sentence vectors
        passage_ids.append(found.passage_id)
        starts.append(found.start)
        ends.append(found.end)
        cosines.append(float(np.asarray(vectors[found.row], dtype=np.float32) @ query))
        bm25.append(found.score)
    lexical_scores = np.asarray(bm25, dtype=np.float32)
    missing = np.flatnonzero(np.isnan(lexical_scores))
    if len(missing):
        lexical_scores[missing] = dense_hits_bm25(
            index, question, [(passage_ids[i], starts[i], ends[i]) for i in missing.tolist()]
        )
    ids, _ = convex_fusion(
        np.arange(len(passage_ids), dtype=np.int64),
        np.asarray(cosines, dtype=np.float32),
        lexical_scores,
        1.0 - bm25_weight,
        "minmax",
    )
    return [
        SentenceHit(passage_ids[i], index.passages[passage_ids[i]].doc_id, starts[i], ends[i], cosines[i])
        for i in ids[:k].tolist()
    ]


def dense_hits_bm25(index: LoadedIndex, question: str, hits: Sequence[tuple[int, int, int]]) -> np.ndarray:
    """float32 BM25 scores of live sentences given as (passage compact id, start, end); 0 for one whose
    segment stores no sentence postings."""
    out = np.zeros(len(hits), dtype=np.float32)
    firsts = np.asarray([s.first for s in index.segments], dtype=np.int64)
    by_segment: dict[int, tuple[list[int], list[int]]] = {}
    for position, (passage_id, start, end) in enumerate(hits):
        number = int(np.searchsorted(firsts, passage_id, side="right") - 1)
        segment = index.segments[number]
        sentences = segment.reader.sentences
        if sentences is None or segment.reader.sentence_lexical is None:
            continue
        passage_row = int(segment.live_rows[passage_id - segment.first])
        begin, stop = np.searchsorted(sentences.passage_rows, [passage_row, passage_row + 1])
        match = np.flatnonzero((sentences.starts[begin:stop] == start) & (sentences.ends[begin:stop] == end))
        if not len(match):
            raise ValueError(f"passage {passage_id} holds no sentence [{start}, {end})")
        positions, rows = by_segment.setdefault(number, ([], []))
        positions.append(position)
        rows.append(int(begin + match[0]))
    for number, (positions, rows) in by_segment.items():
        out[positions] = index.sentence_bm25.scores_of(question, number, np.asarray(rows, dtype=np.int64))
    return out
