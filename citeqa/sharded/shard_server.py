"""One shard's side of a sharded search: statistics for a question's terms, then its candidates under the
corpus-wide statistics, always from one commit of the shard (a write between the two phases of a question
does not mix two commits: the shard keeps its last few commits and answers from the one phase one saw).
When the answer layer retrieves sentences, the shard also sends its sentences closest to the question
(citeqa.sentence_search, over its own segments) with the passages holding them among its candidates; when
fusion weighs sentences, each candidate's best sentence score. The same object serves in the gatherer's
process (citeqa.sharded.local) and in a Ray Serve replica."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from citeqa.filters import _allowed, known_filter_keys
from citeqa.sentence_search import SentenceHit, top_sentences
from citeqa.sharded.messages import (
    ShardCandidates,
    ShardQuery,
    ShardSentence,
    ShardState,
    ShardStats,
    StaleShardError,
)
from citeqa.stored_sentences import StoredSentenceVectors
from corpus.types import Document
from indexer.errors import IndexMismatchError
from indexer.lexical import CorpusStatistics, LexicalIndex
from indexer.live import LiveIndex, WriteResult
from indexer.load import LoadedIndex
from indexer.sentences import passage_sentences
from indexer.shards import in_shard
from indexer.types import Passage

KEPT_COMMITS = 8
KEPT_LEXICAL_VIEWS = 4
# The sentences of this many first passages of each list travel with the candidates (the answer and the
# first page come from the first results; a sentence not sent is embedded by the gatherer).
SENTENCE_DEPTH = 16


class ShardServer:
    """Answers for the shard in ``live``'s folder (``bucket``: its place among the shards)."""

    def __init__(self, live: LiveIndex, bucket: int) -> None:
        self.live = live
        self.bucket = bucket
        self._lock = threading.Lock()
        self._commits: OrderedDict[int, LoadedIndex] = OrderedDict()
        self._lexical: OrderedDict[tuple[int, CorpusStatistics], LexicalIndex] = OrderedDict()
        self._filter_keys: tuple[int, tuple[str, ...]] | None = None
        self._stored_sentences: tuple[int, StoredSentenceVectors] | None = None

    @contextmanager
    def _named(self) -> Iterator[None]:
        """A shard that cannot be opened (damaged while served) says so with the rebuilds a shard takes."""
        try:
            yield
        except StaleShardError:
            raise
        except IndexMismatchError as err:
            folder = Path(self.live.folder)
            raise in_shard(err, folder, folder.parent) from None

    def _current(self) -> LoadedIndex:
        with self._named():
            index = self.live.current
        with self._lock:
            if index.generation not in self._commits:
                self._commits[index.generation] = index
                while len(self._commits) > KEPT_COMMITS:
                    self._commits.popitem(last=False)
        return index

    def _commit(self, generation: int) -> LoadedIndex:
        self._current()
        with self._lock:
            index = self._commits.get(generation)
        if index is None:
            raise StaleShardError(f"shard {self.bucket} no longer holds commit {generation}")
        return index

    def state(self) -> ShardState:
        return state_of(self._current(), self.bucket)

    def stats(self, terms: Sequence[str]) -> ShardStats:
        index = self._current()
        bm25 = index.bm25
        return ShardStats(
            state_of(index, self.bucket),
            bm25.own,
            {term: bm25.document_frequency(term) for term in terms},
            self._keys(index),
        )

    def _keys(self, index: LoadedIndex) -> tuple[str, ...]:
        cached = self._filter_keys
        if cached is None or cached[0] != index.generation:
            cached = (index.generation, known_filter_keys(index.documents))
            self._filter_keys = cached
        return cached[1]

    def _corpus_view(self, index: LoadedIndex, corpus: CorpusStatistics) -> LexicalIndex:
        """This commit's BM25 view under the corpus-wide statistics (kept while they hold)."""
        key = (index.generation, corpus)
        with self._lock:
            view = self._lexical.get(key)
        if view is None:
            view = LexicalIndex(
                [s.reader.lexical for s in index.segments],
                [s.passage_live for s in index.segments],
                corpus=corpus,
            )
            with self._lock:
                self._lexical[key] = view
                while len(self._lexical) > KEPT_LEXICAL_VIEWS:
                    self._lexical.popitem(last=False)
        return view

    def candidates(self, query: ShardQuery) -> ShardCandidates:
        index = self._commit(query.generation)
        allowed = None if not query.filters else _allowed(query.filters, index.documents, index.passages)
        available = len(index.passages) if allowed is None else len(allowed)
        depth = min(query.depth, available)
        empty = np.empty(0, np.int64)
        dense_ids, dense_found = empty, np.empty(0, np.float32)
        if query.mode != "bm25" and query.vector is not None and depth:
            scores, ids = index.dense.search(query.vector[None, :], depth, allowed)
            keep = ids[0] >= 0
            dense_ids, dense_found = ids[0][keep], scores[0][keep]
        lexical = self._corpus_view(index, query.corpus)
        lexical.use_document_frequencies(query.frequencies)
        bm25_ids = empty
        if query.mode != "dense" and depth:
            _, bm25_ids = lexical.search(query.question, depth, allowed)
        hits = self._sentence_hits(index, query)
        # The passages holding the hits join the candidates (those the filters allow). Past both top-depth
        # lists, they change no ranking: the gatherer fuses the top-depth lists of all candidates, which
        # stay these lists' members (citeqa.fusion normalizes over their union only).
        holding = np.asarray([h.passage_id for h in hits], dtype=np.int64)
        if allowed is not None:
            holding = holding[np.isin(holding, allowed)]
        union = np.union1d(np.union1d(dense_ids, bm25_ids), holding).astype(np.int64)
        vectors = (
            index.dense.vectors(union) if len(union) else np.empty((0, index.dense.dimension), np.float32)
        )
        dense_scores = (
            vectors @ query.vector if query.vector is not None else np.zeros(len(union), np.float32)
        )
        # The retriever's own scores where it found the passage: the ranking a single index would give.
        dense_scores[np.searchsorted(union, dense_ids)] = dense_found
        passages = [index.passages[int(i)] for i in union]
        doc_ids = list(dict.fromkeys(p.doc_id for p in passages))
        heads = list(
            dict.fromkeys(
                [*dense_ids[:SENTENCE_DEPTH].tolist(), *bm25_ids[:SENTENCE_DEPTH].tolist(), *holding.tolist()]
            )
        )
        best_sentences = None
        if query.sentence_scores and query.vector is not None:
            best_sentences = (
                index.dense.best_sentence_scores(union, query.vector).astype(np.float32)
                if len(union)
                else np.empty(0, np.float32)
            )
        position = {int(passage_id): at for at, passage_id in enumerate(union.tolist())} if hits else {}
        return ShardCandidates(
            state_of(index, self.bucket),
            passages,
            [index.documents[d] for d in doc_ids],
            vectors,
            dense_scores.astype(np.float32),
            lexical.scores_of(query.question, union) if len(union) else np.empty(0, np.float32),
            np.searchsorted(union, dense_ids).astype(np.int64),
            np.searchsorted(union, bm25_ids).astype(np.int64),
            self._sentence_vectors(index, [index.passages[int(i)] for i in heads]),
            tuple(
                ShardSentence(h.doc_id, h.start, h.end, h.cosine, position.get(h.passage_id, -1))
                for h in hits
            ),
            best_sentences,
        )

    def _sentence_hits(self, index: LoadedIndex, query: ShardQuery) -> list[SentenceHit]:
        """This commit's ``query.sentences`` sentences closest to the question (best first, as over one
        index: the filters do not apply, the answer layer drops hits no result holds)."""
        if query.sentences <= 0 or query.sentence_vector is None:
            return []
        return top_sentences(index, query.sentence_vector, query.sentences)

    def _sentence_vectors(self, index: LoadedIndex, passages: Sequence[Passage]) -> dict[str, np.ndarray]:
        """The stored vectors of the sentences of ``passages`` (those this commit stores)."""
        stored = self._stored(index)
        found: dict[str, np.ndarray] = {}
        for passage in passages:
            text = index.documents[passage.doc_id].text
            for span in passage_sentences(text, passage.start, passage.end):
                sentence = text[span.start : span.end]
                if sentence not in found:
                    vector = stored.get(sentence)
                    if vector is not None:
                        found[sentence] = np.asarray(vector, dtype=np.float32)
        return found

    def _stored(self, index: LoadedIndex) -> StoredSentenceVectors:
        with self._lock:
            cached = self._stored_sentences
            if cached is None or cached[0] != index.generation:
                cached = (index.generation, StoredSentenceVectors(index))
                self._stored_sentences = cached
        return cached[1]

    def document(self, doc_id: str) -> Document | None:
        return self._current().documents.get(doc_id)

    def doc_ids(self) -> list[str]:
        return list(self._current().documents)

    def put(self, documents: Sequence[Document], max_chars: int, max_documents: int) -> WriteResult:
        with self._named():
            return self.live.put(documents, max_chars, max_documents)

    def delete(self, doc_ids: Sequence[str]) -> WriteResult:
        with self._named():
            return self.live.delete(doc_ids)

    def rebuild(self) -> WriteResult:
        with self._named():
            return self.live.rebuild()

    def at_least(self, version: int) -> ShardState:
        with self._named():
            return state_of(self.live.at_least(version), self.bucket)

    def close(self) -> None:
        self.live.close()


def state_of(index: LoadedIndex, bucket: int) -> ShardState:
    return ShardState(bucket, index.version, index.generation, len(index.documents), len(index.passages))
