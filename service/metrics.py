"""Prometheus metrics of one app, in a registry the app owns (several apps in one process do not
collide): requests by route template and status, request latency per route, per-stage query latency
(reported by the library through citeqa.timing), and the size and identity of the served index.
GET /metrics (service/routes/ops.py) serves them."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily
from prometheus_client.registry import Collector

from citeqa.search import Searcher
from indexer.batching_encoder import BatchingEncoder
from indexer.errors import IndexMismatchError

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
STAGE_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


def served_searcher(state: object) -> Searcher:
    """The searcher of the current commit; when the index folder cannot be opened now (damaged while
    served: queries get 503), the one last served, so that a scrape still reports (and counts the 503s)."""
    try:
        return state.searcher  # type: ignore[attr-defined]
    except IndexMismatchError:
        return state.latest[1].searcher  # type: ignore[attr-defined]


class IndexCollector(Collector):
    """Reads the index the app serves at scrape time, so the gauges follow whatever index is loaded."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def collect(self) -> Iterator[GaugeMetricFamily | InfoMetricFamily | CounterMetricFamily]:
        state = getattr(self.app.state, "citeqa", None)
        if state is None:
            return
        index = served_searcher(state).index
        manifest = index.manifest
        yield GaugeMetricFamily(
            "citeqa_index_documents", "documents in the served index", len(index.documents)
        )
        yield GaugeMetricFamily("citeqa_index_passages", "passages in the served index", len(index.passages))
        yield GaugeMetricFamily("citeqa_index_version", "version of the served index", index.version)
        yield GaugeMetricFamily(
            "citeqa_index_segments", "segments of the served commit", len(manifest.get("segments", []))
        )
        live = getattr(state, "live", None)
        if live is not None:
            writes = CounterMetricFamily("citeqa_index_writes", "accepted writes by op", labels=["op"])
            for op, count in live.writes.items():
                writes.add_metric([op], count)
            yield writes
            merges = live.merger.merges if live.merger is not None else 0
            yield CounterMetricFamily("citeqa_index_merges", "segment merges this process committed", merges)
            yield CounterMetricFamily(
                "citeqa_index_merge_errors",
                "segment merges that failed (see the log)",
                live.merge_failures,
            )
        info = InfoMetricFamily("citeqa_index", "identity of the served index")
        info.add_metric(
            [],
            {
                "path": index.path.name,
                "model": manifest["model"]["name"],
                "built_at": str(manifest["created_at"]),
                # None once writes changed the corpus it was built from: no fingerprint, not "None".
                "corpus_fingerprint": str(manifest.get("corpus", {}).get("fingerprint") or "")[:16],
            },
        )
        yield info


class CacheCollector(Collector):
    """Hits and misses of the in-memory caches (responses, question vectors), read at scrape time."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def collect(self) -> Iterator[CounterMetricFamily]:
        state = getattr(self.app.state, "citeqa", None)
        if state is None:
            return
        caches = {"response": state.responses, "question": served_searcher(state).question_encoder}
        for kind in ("hits", "misses"):
            family = CounterMetricFamily(f"citeqa_cache_{kind}", f"cache {kind} by cache", labels=["cache"])
            for name, cache in caches.items():
                if hasattr(cache, kind):
                    family.add_metric([name], getattr(cache, kind))
            yield family


def batcher_of(encoder: object) -> BatchingEncoder | None:
    """The micro-batcher among ``encoder`` and the encoders it wraps (``inner``), if any."""
    while encoder is not None and not isinstance(encoder, BatchingEncoder):
        encoder = getattr(encoder, "inner", None)
    return encoder


class QueueCollector(Collector):
    """The query gate (service.admission), the queue of writes (service.limits) and the question batcher,
    read at scrape time."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        writes = getattr(self.app.state, "write_queue", None)
        if writes is not None:
            yield CounterMetricFamily(
                "citeqa_writes_shed",
                "document writes refused with 503 (Retry-After) because their queue was full",
                writes.shed,
            )
            yield GaugeMetricFamily(
                "citeqa_writes_in_flight",
                "document writes admitted now (computing or waiting)",
                writes.in_flight,
            )
            yield GaugeMetricFamily(
                "citeqa_writes_queue_limit", "most document writes admitted at once", writes.limit
            )
        state = getattr(self.app.state, "citeqa", None)
        if state is None:
            return
        gate = state.gate
        yield CounterMetricFamily(
            "citeqa_queries_shed",
            "queries refused with 503 (Retry-After) because the queue was full",
            gate.shed,
        )
        yield CounterMetricFamily(
            "citeqa_queries_skipped",
            "queries not computed: the client disconnected while they waited",
            gate.skipped,
        )
        yield GaugeMetricFamily(
            "citeqa_queries_in_flight", "queries admitted now (computing or waiting)", gate.in_flight
        )
        yield GaugeMetricFamily(
            "citeqa_queries_queue_limit", "most queries admitted at once", gate.max_queued
        )
        batcher = batcher_of(served_searcher(state).question_encoder)
        if batcher is not None:
            yield CounterMetricFamily(
                "citeqa_question_batches", "encoder calls for the questions of queries", batcher.batches
            )
            yield CounterMetricFamily(
                "citeqa_question_batched", "questions encoded in those calls", batcher.batched_texts
            )


class ServiceMetrics:
    def __init__(self, app: FastAPI) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "citeqa_http_requests",
            "HTTP requests by route template, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "citeqa_http_request_duration_seconds",
            "HTTP request latency by route template",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.stages = Histogram(
            "citeqa_query_stage_duration_seconds",
            "latency of each query stage (encode, turn: the wait for the answer layer, dense, bm25, fusion, "
            "rerank, highlight)",
            ["stage"],
            buckets=STAGE_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(IndexCollector(app))
        self.registry.register(CacheCollector(app))
        self.registry.register(QueueCollector(app))

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route, method).observe(seconds)

    def observe_stage(self, stage: str, seconds: float) -> None:
        self.stages.labels(stage).observe(seconds)
