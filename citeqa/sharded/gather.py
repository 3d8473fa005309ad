"""The gatherer: asks every shard, in parallel, for its statistics and then its candidates, and answers over
what they sent with the query core (citeqa.sharded.candidate_index). One implementation for shards in this
process and shards on Ray Serve replicas: they differ only in their ``ShardClient``.

The answer layer's sentence retrieval (``sentence_candidates``) and sentence-level fusion
(``sentence_weight``) work over shards as over one index: the shards send their closest sentences to the
question and their candidates' best sentence scores, which the candidate index carries."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np

from citeqa.answers import Answerer
from citeqa.filters import DOCUMENT_FIELDS, normalize_filters
from citeqa.paging import PAGE_DEPTH, validate_offset
from citeqa.search import Searcher, validate_request
from citeqa.sentence_scoring import TermExtractor
from citeqa.sentence_search import KnownSentences
from citeqa.sharded.candidate_index import CandidateIndex, candidate_index
from citeqa.sharded.messages import ShardCandidates, ShardQuery, ShardState, ShardStats, StaleShardError
from citeqa.types import Hit, Response, SearchMode
from corpus.types import Document
from indexer.bm25_index import STOPWORDS, stopword_set, text_tokens
from indexer.embedding import Encoder
from indexer.errors import DocumentNotFoundError
from indexer.lexical import CorpusStatistics
from indexer.live import WriteResult
from indexer.shards import shard_of

T = TypeVar("T")
GATHER_ATTEMPTS = 3


class Pending(Protocol[T]):
    def result(self) -> T: ...


class ShardClient(Protocol):
    """One shard as the gatherer reaches it; every call returns at once with something to wait on, so the
    gatherer asks all shards before it waits for any."""

    bucket: int

    def state(self) -> Pending[ShardState]: ...
    def stats(self, terms: Sequence[str]) -> Pending[ShardStats]: ...
    def candidates(self, query: ShardQuery) -> Pending[ShardCandidates]: ...
    def document(self, doc_id: str) -> Pending[Document | None]: ...
    def doc_ids(self) -> Pending[list[str]]: ...
    def put(
        self, documents: Sequence[Document], max_chars: int, max_documents: int
    ) -> Pending[WriteResult]: ...
    def delete(self, doc_ids: Sequence[str]) -> Pending[WriteResult]: ...
    def rebuild(self) -> Pending[WriteResult]: ...
    def at_least(self, version: int) -> Pending[ShardState]: ...


def all_of(pending: Sequence[Pending[T]]) -> list[T]:
    """Every result, in order; when one fails, its error is raised once all of them are done (so that no
    shard's write is still committing after the caller has answered)."""
    results: list[T] = []
    failure: Exception | None = None
    for p in pending:
        try:
            results.append(p.result())
        except Exception as err:  # re-raised below, once the others are done
            failure = failure or err
    if failure is not None:
        raise failure
    return results


class ShardedDocuments(Mapping[str, Document]):
    """Every shard's documents by doc_id, each looked up in the shard its doc_id hashes to."""

    def __init__(self, clients: Sequence[ShardClient], states: Sequence[ShardState]) -> None:
        self._clients = clients
        self._total = sum(s.documents for s in states)

    def bucket_of(self, doc_id: str) -> int:
        return shard_of(doc_id, len(self._clients))

    def _client(self, doc_id: str) -> ShardClient:
        return self._clients[self.bucket_of(doc_id)]

    def __getitem__(self, doc_id: str) -> Document:
        document = self._client(doc_id).document(doc_id).result() if isinstance(doc_id, str) else None
        if document is None:
            raise KeyError(doc_id)
        return document

    def __iter__(self) -> Iterator[str]:
        for ids in all_of([c.doc_ids() for c in self._clients]):
            yield from ids

    def __len__(self) -> int:
        return self._total


class PassageCount(Sequence[Any]):
    """The passages of every shard, counted (they are read through a question's candidates only)."""

    def __init__(self, total: int) -> None:
        self._total = total

    def __len__(self) -> int:
        return self._total

    def __getitem__(self, index: Any) -> Any:
        raise TypeError("the passages of a sharded index are read through a search")


@dataclass(frozen=True)
class ShardedSnapshot:
    """What the service reads of a sharded index between questions: the shards' commits (``states``), the
    top-level manifest, and documents by doc_id. ``version`` is the sum of the shards' versions (every
    write raises it)."""

    path: Path
    manifest: dict[str, Any]
    states: tuple[ShardState, ...]
    documents: ShardedDocuments
    passages: PassageCount

    @property
    def version(self) -> int:
        return sum(s.version for s in self.states)

    @property
    def generation(self) -> int:
        return sum(s.generation for s in self.states)

    @property
    def model_name(self) -> str:
        return self.manifest["model"]["name"]

    @classmethod
    def of(cls, path: Path, manifest: dict[str, Any], clients: Sequence[ShardClient]) -> ShardedSnapshot:
        states = tuple(all_of([c.state() for c in clients]))
        # shards.json's counts are the build's; a commit's are what its shards hold now (after writes).
        counts = {"documents": sum(s.documents for s in states), "passages": sum(s.passages for s in states)}
        served = {
            **manifest,
            "version": sum(s.version for s in states),
            "segments": [],
            "counts": {**manifest.get("counts", {}), **counts},
        }
        return cls(
            path,
            served,
            states,
            ShardedDocuments(clients, states),
            PassageCount(sum(s.passages for s in states)),
        )


def statistics_terms(question: str, extractor: TermExtractor) -> list[str]:
    """Every term whose corpus-wide document frequency a question's answer may read: BM25's analysed
    tokens and the answer layer's content terms."""
    stemmer = extractor._stemmer
    tokens = text_tokens(question, stopword_set(STOPWORDS), stemmer)
    [content] = extractor.terms([question])
    return list(dict.fromkeys([*tokens, *sorted(content)]))


class KnownQuestion:
    """An encoder that already holds one question's vector (computed once, before the shards were asked)."""

    def __init__(self, encoder: Encoder, question: str, vector: np.ndarray | None) -> None:
        self._encoder = encoder
        self._question = question
        self._vector = vector
        self.name = encoder.name
        self.dimension = encoder.dimension

    @property
    def tokenizer(self) -> Any:
        """The encoder's tokenizer: hybrid ranking asks it whether the model can read the question
        (citeqa.readable), as over one index."""
        return getattr(self._encoder, "tokenizer", None)

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        if self._vector is not None and list(texts) == [self._question]:
            return self._vector[None, :]
        return self._encoder.encode(texts, batch_size)


@dataclass(eq=False)
class ShardedAnswerer:
    """The Answerer's interface (``respond``, ``searcher``, ``index_version``, ``settings_view``) over
    sharded clients: per question, phase one (statistics), phase two (candidates), then ``base``'s
    answer layer over the candidates."""

    clients: Sequence[ShardClient]
    snapshot: ShardedSnapshot
    base: Answerer
    depth: int = PAGE_DEPTH

    def __post_init__(self) -> None:
        self.searcher = ShardedSearcher(self)

    @property
    def index_version(self) -> int:
        return self.snapshot.version

    @property
    def calibration(self) -> Any:
        return self.base.calibration

    def settings_view(self) -> dict[str, Any]:
        return self.base.settings_view()

    def retrieval_depth(self) -> int:
        searcher = self.base.searcher
        reranker = searcher.reranker.depth if searcher.reranker is not None else 0
        return max(self.depth, searcher.fusion.candidates, reranker)

    def answerer_over(self, question: str, mode: str, filters: Any, answers: bool = True) -> Answerer:
        """The answer layer over this question's candidates from every shard (``answers``: whether it will
        answer, so the shards send their closest sentences if the answer layer retrieves sentences)."""
        sentences = self.base.sentence_candidates if answers else 0
        # The answer layer's sentence retrieval reads the question's vector in every mode.
        vector = None if mode == "bm25" and sentences <= 0 else self.base.searcher.encode_question(question)
        # Shards retrieve with the vector a single index would search with (the query adapter's, if any);
        # the answer layer reads the question's own vector, as over a single index.
        searched = None if vector is None or mode == "bm25" else self.base.searcher.search_vector(vector)
        for attempt in range(GATHER_ATTEMPTS):
            try:
                index = self.gather(question, searched, mode, filters, vector, sentences)
                break
            except StaleShardError:
                if attempt == GATHER_ATTEMPTS - 1:
                    raise
        base = self.base
        # The question's vector is the question encoder's (the tower's, if one is on), computed once; the
        # answer layer embeds any sentence the shards did not send with the model's encoder.
        questions = KnownQuestion(base.searcher.question_encoder, question, vector)
        searcher = Searcher(
            index,
            base.searcher.encoder,
            base.searcher.fusion,
            base.searcher.reranker,
            base.searcher.query_adapter,
            questions,  # type: ignore[arg-type]
        )
        answerer = base.over(searcher)
        answerer.term_extractor = base.term_extractor
        answerer.caches.stored = index.sentence_vectors  # the shards' stored vectors, as one index's
        return answerer

    def gather(
        self,
        question: str,
        vector: np.ndarray | None,
        mode: str,
        filters: Any,
        question_vector: np.ndarray | None = None,
        sentences: int = 0,
    ) -> CandidateIndex:
        """Both phases over every shard: the candidates for ``vector`` (the search vector), and with
        ``sentences`` > 0 each shard's ``sentences`` closest to ``question_vector`` (the question's own)."""
        if question_vector is None:
            sentences = 0
        # Hybrid ranking fuses each candidate's best sentence score when the fusion weighs sentences.
        sentence_scores = mode == "hybrid" and self.base.searcher.fusion.sentence_weight > 0
        terms = statistics_terms(question, self.base.term_extractor)
        stats = all_of([c.stats(terms) for c in self.clients])
        corpus = CorpusStatistics.combined([s.corpus for s in stats])
        frequencies = {t: sum(s.frequencies[t] for s in stats) for t in terms}
        keys = filter_keys_of(stats)
        normalized = normalize_filters(filters, keys) if filters is not None else None
        depth = self.retrieval_depth()
        answers = all_of(
            [
                client.candidates(
                    ShardQuery(
                        question,
                        vector,
                        mode,
                        depth,
                        corpus,
                        frequencies,
                        s.state.generation,
                        normalized or None,
                        sentences,
                        question_vector if sentences > 0 else None,
                        sentence_scores,
                    )
                )
                for client, s in zip(self.clients, stats, strict=True)
            ]
        )
        known = None
        if sentences > 0 and question_vector is not None:
            known = KnownSentences(np.asarray(question_vector, dtype=np.float32).reshape(-1), sentences, ())
        return candidate_index(
            answers,
            question,
            vector,
            corpus,
            frequencies,
            self.snapshot.path,
            self.snapshot.manifest,
            self.base.searcher.encoder.dimension,
            known,
        )

    def respond(
        self, question: str, top_k: int = 5, mode: SearchMode = "hybrid", offset: int = 0, filters: Any = None
    ) -> Response:
        question = validate_request(question, top_k, mode)
        validate_offset(offset)
        return self.answerer_over(question, mode, filters).respond(question, top_k, mode, offset, None)


class ShardedSearcher:
    """The Searcher's interface the service reads (``index``, ``encoder``, ``fusion``, ``reranker``,
    ``search``) for a sharded index."""

    def __init__(self, answerer: ShardedAnswerer) -> None:
        self._answerer = answerer
        self.index = answerer.snapshot
        base = answerer.base.searcher
        self.encoder, self.fusion, self.reranker = base.encoder, base.fusion, base.reranker
        self.question_encoder = base.question_encoder

    def search(
        self, question: str, top_k: int = 5, mode: SearchMode = "hybrid", filters: Any = None
    ) -> list[Hit]:
        question = validate_request(question, top_k, mode)
        over = self._answerer.answerer_over(question, mode, filters, answers=False)
        return over.searcher.search(question, top_k, mode)


def filter_keys_of(stats: Sequence[ShardStats]) -> tuple[str, ...]:
    """The filter keys of every shard, in the order one index names them (``known_filter_keys``: the
    Document fields, then the metadata keys sorted)."""
    found = {key for s in stats for key in s.filter_keys} - set(DOCUMENT_FIELDS)
    return (*DOCUMENT_FIELDS, *sorted(found))


def routed_documents(
    documents: Sequence[Document], clients: Sequence[ShardClient]
) -> dict[int, list[Document]]:
    """The documents of a write by the shard that holds (or will hold) each."""
    parts: dict[int, list[Document]] = {}
    for document in documents:
        parts.setdefault(shard_of(document.doc_id, len(clients)), []).append(document)
    return parts


def check_present(doc_ids: Sequence[str], documents: Callable[[str], Document | None]) -> None:
    for doc_id in doc_ids:
        if documents(doc_id) is None:
            raise DocumentNotFoundError(f"no document with doc_id {doc_id!r}; GET /documents lists them")
