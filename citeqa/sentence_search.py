"""Sentence-level retrieval for the answer: the sentences of the whole index closest to the question, by
the inner product of its vector with the sentence vectors every segment stores (indexer.sentences).

The answer is chosen among the sentences of the question's first results (citeqa.answer_choice); a
sentence that answers may sit in a passage ranked below them (the passage is about something else, the
sentence answers). ``top_sentences`` finds such sentences (LlamaIndex's sentence-window retrieval: find
the sentence, show it in its passage) so the answer layer can add their results to the candidates.

Search is exact and brute force over the memory-mapped vectors of each segment, one matrix-vector
product per segment (``python -m eval.sentence_search_bench`` times it: a median of 9 ms per query over
medquad-dev's 37,073 sentence rows on a shared 2-core machine, 23 ms over 100,000 random vectors). A
segment holding more than ``MAX_BRUTE_FORCE_SENTENCES`` sentences is skipped (its sentences are then found
only through their passages' rank, as before): past that, the product costs a large share of a query and
reads the whole file each time, and a FAISS index over the sentence vectors written with the segment
would be the way (segments do not write one yet). Deleted passages' sentences are never returned;
segments written before sentences were stored contribute none.

Over a sharded index every shard runs ``top_sentences`` on its own segments and the gatherer keeps the
``k`` best of all shards' hits (citeqa.sharded): the candidate index it answers over carries them as
``KnownSentences``, and ``closest_sentences`` (what the answer layer calls) returns those instead of
searching. The size limit applies per segment, so a shard's smaller segments may be searched where one
large segment of a single index would be skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from indexer.load import LoadedIndex

# 100,000 sentences of 384 float32 is a 154 MB file (about 8,000 documents of medquad-dev's size): 23 ms
# median per query on the benchmark machine, 72 ms at 300,000.
MAX_BRUTE_FORCE_SENTENCES = 100_000


@dataclass(frozen=True)
class SentenceHit:
    """One sentence of the index: its passage's compact id, its document and offsets in it, and its cosine
    with the question. Over shards ``passage_id`` is the candidate index's id of the passage, -1 when the
    filters left the passage out of the candidates (no result can hold such a sentence)."""

    passage_id: int
    doc_id: str
    start: int
    end: int
    cosine: float


@dataclass(frozen=True, eq=False)
class KnownSentences:
    """The closest sentences of an index to one query vector, found elsewhere (by the shards): the ``asked``
    best of them (fewer if the index holds fewer), best first."""

    query: np.ndarray
    asked: int
    hits: tuple[SentenceHit, ...]

    def top(self, query: np.ndarray, k: int) -> list[SentenceHit]:
        """The ``k`` best, as ``top_sentences`` would give them; only for the query they were found for and
        at most as many as were asked for."""
        same = np.array_equal(np.asarray(query, dtype=np.float32).reshape(-1), self.query)
        if k > self.asked or not same:
            raise ValueError("the shards were asked for fewer closest sentences, or for another query's")
        return list(self.hits[:k])


def closest_sentences(index: Any, query: np.ndarray, k: int) -> list[SentenceHit]:
    """``top_sentences`` of ``index``, or the hits it carries for ``query`` (``known_sentences``: a candidate
    index over shards, whose shards searched their sentences)."""
    if k <= 0:
        return []
    known: KnownSentences | None = getattr(index, "known_sentences", None)
    if known is not None:
        return known.top(query, k)
    return top_sentences(index, query, k)


def top_sentences(
    index: LoadedIndex, query: np.ndarray, k: int, max_rows: int = MAX_BRUTE_FORCE_SENTENCES
) -> list[SentenceHit]:
    """The ``k`` live sentences of ``index`` most similar to ``query`` (best first, ties by passage id;
    a sentence held by two overlapping passages counts once, under its best-ranked row)."""
    if k <= 0:
        return []
    query = np.asarray(query, dtype=np.float32).reshape(-1)
    found: list[SentenceHit] = []
    for segment in index.segments:
        reader = segment.reader
        sentences, vectors = reader.sentences, reader.sentence_vectors
        if sentences is None or vectors is None or len(sentences) == 0 or len(sentences) > max_rows:
            continue
        if len(vectors) != len(sentences) or segment.n_live == 0:
            continue
        scores = np.asarray(vectors @ query, dtype=np.float32)
        if segment.passage_live is not None:
            scores = np.where(segment.passage_live[sentences.passage_rows], scores, -np.inf)
        # More than k rows: one sentence is listed once per passage holding it (the overlap).
        take = min(len(scores), 3 * k)
        best = np.argpartition(-scores, take - 1)[:take] if take < len(scores) else np.arange(len(scores))
        best = best[np.isfinite(scores[best])]
        compact = segment.compact(sentences.passage_rows[best].astype(np.int64))
        for row, passage_id in zip(best.tolist(), compact.tolist(), strict=True):
            found.append(
                SentenceHit(
                    int(passage_id),
                    index.passages[passage_id].doc_id,
                    int(sentences.starts[row]),
                    int(sentences.ends[row]),
                    float(scores[row]),
                )
            )
    found.sort(key=lambda h: (-h.cosine, h.passage_id, h.start))
    seen: set[tuple[str, int, int]] = set()
    hits: list[SentenceHit] = []
    for hit in found:
        key = (hit.doc_id, hit.start, hit.end)
        if key in seen:
            continue
        seen.add(key)
        hits.append(hit)
        if len(hits) == k:
            break
    return hits
