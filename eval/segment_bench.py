"""The segmented index (format 2) benchmark: writes, opening, queries after writes, memory, merges, workers.

    python -m eval.segment_bench [--sizes 10000,100000,1000000] [--out var/bench/segments] [--smoke]
                                 [--parts writes,open,queries,merge,workers] [--merge-up-to N]

At each size, side by side (issue 14, "Measured in a benchmark"):

1. one-document write (add, then delete) through ``LiveIndex`` in-process, p50/p99, without its own
   embedding time (the LiveIndex's encoder returns precomputed embedding-like vectors instantly), with the
   background merger on; segments before/after and merges done;
2. opening the index to the first answered query, in a fresh process (``load_index(mmap=True,
   checksums=False)`` + ``Searcher`` + the real encoder answering one hybrid question): import, open, model
   load and first query timed apart;
4. memory per passage (RSS growth of a fresh process that opened the index, memory-mapped and read in) and
   bytes on disk per passage by file kind (documents, passages, dense, lexical);
5. merge throughput: the index is written as 8 segments of size/8 and ``merge_once`` (a tiered policy that
   picks the 8) merges them into one; the merged index is then the index every other part uses (the same
   single segment a default `citeqa index` build writes: one segment up to 1M passages, its FAISS type by
   size). Above ``--merge-up-to`` passages (default 100k: the 8 IVF segments and their merge at 1M take
   over half an hour on a shared 2-core machine) the single segment is written directly and part 5 is
   not run at that size; the report says so.

At the largest size only:

3. query p50/p99 over HTTP (`citeqa serve`, one worker, hybrid POST /query) freshly built, then after 1,000
   single-document writes over HTTP (embedding included, 3 of 4 new documents, 1 of 4 replacing the
   previous one) with the background merges running (CITEQA_MERGE_SEGMENTS_PER_TIER default); the FAISS
   type of every segment (from the manifest) before and after.

At the smallest size only (`citeqa serve --workers 2`):

6. one-document write over HTTP, embedding included: add (PUT) and delete (DELETE) p50/p99, of a synthetic
   article (several passages, the document of every other part) and of a two-sentence document (one
   passage: the document issue 14 measured, 706 ms p50 before segments);
7. a query load (concurrency 8, 2 POST /query : 1 GET /search as eval.load_bench, ~30 s) while one writer
   PUTs a document every ~100 ms: failed requests, and the index_version every response carries.

What is synthetic, said plainly: every index here is synthetic. Its text is synthetic health articles of
real English words (eval.synthetic), chunked by the default chunker; to keep the 1M build within the
machine, a pool of at most POOL_PASSAGES passages' worth of such articles is generated once and its
documents are repeated under distinct doc_ids (their tokens reused), so at 100k and 1M each text occurs
several times. The vectors are embedding-like (eval.scale_bench.embedding_like_vectors: a real
embedding plus noise with the real embeddings' covariance), made from the real encoder's vectors of
BASE_PASSAGES synthetic passages; questions are synthetic and embedded by the real model in the service.
A smoke run uses a random clustered base and no model for the data (the services still embed questions).

The services run with CITEQA_PRECOMPUTE_SENTENCES=false (embedding every sentence of 1M passages at start
would take hours; the answer step embeds the top passages' sentences per query instead) and with the
response and question caches off (eval.load_bench.UNCACHED), so every request is computed.

``--parts`` runs some parts only (writes: 1; open: 2 and 4; queries: 3; merge: 5; workers: 6 and 7).
Without ``merge``, every size is written directly as one segment (the layout the merge would leave).

Writes OUT/report.md and OUT/results.json (rewritten after every part, so a stopped run keeps its rows).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from corpus.types import Document
from eval import load_bench
from eval.scale_bench import embedding_like_vectors, random_base, unit_rows
from eval.synthetic import synthetic_documents, synthetic_questions
from indexer.build import manifest_with, new_manifest
from indexer.chunking import chunk_document
from indexer.embedding import DEFAULT_MODEL
from indexer.index_folder import StagedFolder, read_manifest
from indexer.index_settings import IndexSettings, embedding_text
from indexer.lexical import tokenize
from indexer.load import SegmentCache
from indexer.merging import TieredMergePolicy, merge_once
from indexer.segment import SEGMENTS, SegmentContent, publish_segment
from indexer.types import Passage
from indexer.writer import write_new_segment

DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
SMOKE_SIZES = (2_000,)
DEFAULT_OUT = Path("var/bench/segments")
DIMENSION = 384
KEY = "segment-bench-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
TOP_K = 5
MERGE_SEGMENTS = 8
STARTED = time.perf_counter()
# The services: every request computed, sentence vectors per query (see the module docstring).
SERVICE_ENV = {"CITEQA_API_KEYS": KEY, "CITEQA_PRECOMPUTE_SENTENCES": "false"}
PARTS = ("writes", "open", "queries", "merge", "workers")
"""--parts: 1 (writes), 2 and 4 (open), 3 (queries), 5 (merge), 6 and 7 (workers)."""
TWO_SENTENCES = (
    "Harbor seals can hold their breath for up to thirty minutes while they hunt for fish. "
    "Their pups can swim within hours of birth and are weaned after about four weeks."
)


@dataclass(frozen=True)
class Config:
    pool_passages: int  # distinct synthetic passages generated (documents repeated beyond)
    base_passages: int  # real-encoder vectors the embedding-like vectors are shaped on (0: random base)
    live_writes: int  # part 1: adds, then as many deletes
    warmup_writes: int
    queries: int  # part 3: measured queries per state (after one warm-up pass over them)
    http_writes_largest: int  # part 3
    http_writes_small: int  # part 6: adds, then as many deletes
    load_seconds: float  # part 7
    load_concurrency: int
    write_interval: float
    merge_up_to: int  # sizes above are written as one segment directly, and part 5 is not run there
    http_write_budget_seconds: float  # part 3 stops writing after this long (the count done is reported)


FULL = Config(
    pool_passages=50_000,
    base_passages=2_000,
    live_writes=40,
    warmup_writes=2,
    queries=60,
    http_writes_largest=1_000,
    http_writes_small=40,
    load_seconds=30.0,
    load_concurrency=8,
    write_interval=0.1,
    merge_up_to=100_000,
    http_write_budget_seconds=1_200.0,
)
SMOKE = Config(
    pool_passages=2_000,
    base_passages=0,
    live_writes=5,
    warmup_writes=1,
    queries=8,
    http_writes_largest=20,
    http_writes_small=4,
    load_seconds=3.0,
    load_concurrency=8,
    write_interval=0.1,
    merge_up_to=10**9,
    http_write_budget_seconds=600.0,
)
POOL_PASSAGES = FULL.pool_passages
BASE_PASSAGES = FULL.base_passages


def log(message: str) -> None:
    print(f"[segment_bench {time.perf_counter() - STARTED:7.1f}s] {message}", file=sys.stderr, flush=True)


def percentiles(samples_ms: Sequence[float]) -> dict[str, float]:
    values = np.asarray(samples_ms or [np.nan], dtype=np.float64)
    p50, p99 = (float(v) for v in np.percentile(values, [50, 99]))
    return {"n": len(samples_ms), "p50_ms": p50, "p99_ms": p99, "max_ms": float(values.max())}


# Synthetic data.


@dataclass(frozen=True)
class PoolDocument:
    document: Document
    passages: tuple[Passage, ...]  # spans of the document's text (passage_id unused)
    tokens: tuple[list[str], ...]  # the lexical tokens of each passage (title + text, as the index does)


def make_pool(n_passages: int, seed: int = 0) -> list[PoolDocument]:
    """Synthetic articles (eval.synthetic) of about ``n_passages`` default-chunker passages, chunked and
    tokenized once."""
    settings = IndexSettings()
    pool = []
    for document in synthetic_documents(n_passages, seed=seed):
        passages = chunk_document(document, settings.chunker, 0)
        if not passages:
            continue
        texts = [embedding_text(p, document.title, settings.bm25_title) for p in passages]
        pool.append(PoolDocument(document, tuple(passages), tuple(tokenize(texts))))
    return pool


def pool_passage_count(pool: Sequence[PoolDocument]) -> int:
    return sum(len(p.passages) for p in pool)


def base_vectors(config: Config, pool: Sequence[PoolDocument], cache: Path) -> tuple[np.ndarray, str]:
    """The vectors the embedding-like vectors are shaped on: the real encoder's vectors of the pool's first
    ``config.base_passages`` passages (kept in ``cache``), or a random clustered base in a smoke run."""
    if not config.base_passages:
        return random_base(1_000, DIMENSION, seed=0), "random clustered base (smoke: no model)"
    path = cache / f"base-real-{config.base_passages}.npy"
    label = (
        f"embedding-like, shaped on the real encoder's vectors of {config.base_passages:,} synthetic passages"
    )
    if path.is_file():
        return np.load(path), label
    from indexer.backends import make_encoder
    from indexer.embedding import embed_batches

    settings = IndexSettings()
    texts = []
    for item in pool:
        texts.extend(embedding_text(p, item.document.title, settings.embed_title) for p in item.passages)
    texts = texts[: config.base_passages]
    log(f"embedding {len(texts)} synthetic passages with the real encoder (the vectors' shape)")
    encoder = make_encoder(DEFAULT_MODEL, "onnx")
    vectors = unit_rows(embed_batches(encoder, texts, settings.batch_size))
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors, label


class InstantEncoder:
    """An encoder that returns precomputed embedding-like vectors at once: the writes of part 1 are timed
    without their own embedding."""

    def __init__(self, base: np.ndarray, n: int = 2_000, seed: int = 99) -> None:
        self.name = DEFAULT_MODEL
        self.dimension = int(base.shape[1])
        self._vectors = embedding_like_vectors(base, n, seed=seed)
        self._next = 0

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        rows = (self._next + np.arange(len(texts))) % len(self._vectors)
        self._next = int(rows[-1]) + 1 if len(texts) else self._next
        return self._vectors[rows]


def segment_contents(pool: Sequence[PoolDocument], base: np.ndarray, n: int, parts: int, seed: int) -> Any:
    """``parts`` segment contents of about n/parts passages each (whole documents), documents taken from
    the pool in turn under distinct doc_ids, vectors embedding-like. A generator: one part in memory."""
    per_part = max(1, n // parts)
    number = 0
    for part in range(parts):
        documents: list[Document] = []
        passages: list[Passage] = []
        tokens: list[list[str]] = []
        while len(passages) < per_part:
            item = pool[number % len(pool)]
            doc_id = f"syn-{number:07d}"
            documents.append(dataclasses.replace(item.document, doc_id=doc_id))
            passages.extend(Passage(0, doc_id, p.start, p.end, p.text) for p in item.passages)
            tokens.extend(item.tokens)
            number += 1
        vectors = embedding_like_vectors(base, len(passages), seed=seed * 1_000 + part)
        yield SegmentContent(documents, passages, vectors, tokens)


def write_segmented_index(
    folder: Path, pool: Sequence[PoolDocument], base: np.ndarray, n: int, parts: int, seed: int
) -> dict[str, Any]:
    """A fresh format-2 index of ``parts`` segments (as indexer.build.write_fresh does, one part at a time),
    model name the real one so that the service serves it."""
    settings = IndexSettings()
    manifest = new_manifest(DEFAULT_MODEL, DIMENSION, settings, "synthetic (eval.segment_bench)")
    staged = StagedFolder.create(folder)
    try:
        written = []
        for number, content in enumerate(segment_contents(pool, base, n, parts, seed), 1):
            written.append(write_new_segment(staged.path, content, 0, settings.index_type))
            entry = written[-1].entry
            log(f"  segment {number}/{parts}: {entry['passages']:,} passages, {entry['index']['kind']}")
            del content
            gc.collect()
        for new in written:
            publish_segment(staged.path, new.entry["name"])
        final = manifest_with(manifest, written, version=1)
        staged.commit(final)
    except BaseException:
        staged.abort()
        raise
    return final


# Index facts.


def faiss_types(folder: Path) -> list[dict[str, Any]]:
    """Every segment of the current commit: passages (live), FAISS type and its parameters."""
    rows = []
    for entry in read_manifest(folder).get("segments", []):
        spec = entry.get("index") or {}
        rows.append(
            {
                "name": entry["name"],
                "passages": int(entry["passages"]),
                "live_passages": int(entry["passages"]) - int(entry.get("deleted_passages", 0)),
                "kind": spec.get("kind"),
                "nlist": spec.get("nlist"),
                "search_parameter": spec.get("search_parameter"),
            }
        )
    return rows


def types_summary(segments: Sequence[dict[str, Any]]) -> str:
    """e.g. "1 ivf (nlist 4000, nprobe 24; 1,000,012 passages) + 7 flat (3,120 passages)"."""
    parts = []
    for kind in sorted({s["kind"] for s in segments}, key=lambda k: (k != "ivf", str(k))):
        chosen = [s for s in segments if s["kind"] == kind]
        passages = sum(s["passages"] for s in chosen)
        detail = ""
        if kind == "ivf":
            detail = (
                ", ".join(f"nlist {s['nlist']} nprobe {s['search_parameter']}" for s in chosen[:3]) + "; "
            )
        parts.append(f"{len(chosen)} {kind} ({detail}{passages:,} passages)")
    return " + ".join(parts) or "no segment"


def disk_bytes(folder: Path) -> dict[str, int]:
    """Bytes on disk by file kind, over the segments the current commit names."""
    kinds = {"documents": 0, "passages": 0, "dense": 0, "lexical": 0, "deletes": 0}
    for entry in read_manifest(folder).get("segments", []):
        root = Path(folder) / SEGMENTS / entry["name"]
        for path in root.rglob("*"):
            if not path.is_file():
                continue
            relative = path.relative_to(root).as_posix()
            if relative == "documents.arrow":
                kinds["documents"] += path.stat().st_size
            elif relative == "passages.arrow":
                kinds["passages"] += path.stat().st_size
            elif relative == "dense.faiss":
                kinds["dense"] += path.stat().st_size
            elif relative.startswith("lexical/"):
                kinds["lexical"] += path.stat().st_size
            elif (
                relative.startswith("deletes-")
                and entry.get("deletes") == f"{SEGMENTS}/{entry['name']}/{relative}"
            ):
                kinds["deletes"] += path.stat().st_size
    kinds["total"] = sum(kinds.values())
    return kinds


# Part 5: a merge.


def bench_merge(folder: Path) -> dict[str, Any]:
    before = faiss_types(folder)
    policy = TieredMergePolicy(segments_per_tier=MERGE_SEGMENTS, max_merged_passages=10**9)
    names = policy.find_merge(read_manifest(folder)["segments"])
    if names is None or len(names) != len(before):
        raise RuntimeError(f"the merge policy picks {names} of {len(before)} segments, expected all")
    cache = SegmentCache(folder, mmap=False, checksums=False)
    started = time.perf_counter()
    merged = merge_once(folder, cache, policy)
    seconds = time.perf_counter() - started
    if merged is None:
        raise RuntimeError("merge_once merged nothing")
    del merged, cache
    gc.collect()
    after = faiss_types(folder)
    passages = sum(s["passages"] for s in before)
    result = {
        "segments_before": len(before),
        "segments_after": len(after),
        "passages": passages,
        "seconds": seconds,
        "passages_per_second": passages / seconds,
        "types_before": types_summary(before),
        "types_after": types_summary(after),
    }
    log(f"  merge: {len(before)} -> {len(after)} segments, {passages:,} passages in {seconds:.1f} s")
    return result


# Parts 2 and 4: a fresh process opens the index.


def probe_open(folder: str, question: str, mmap: bool, answer: bool) -> dict[str, Any]:
    """Run in a fresh process (see ``run_probe``): time and RSS of opening the index, then (``answer``) of
    loading the real encoder and answering one hybrid question."""
    started = time.perf_counter()
    import faiss  # noqa: F401  (the libraries, imported before the index is opened)

    from citeqa.search import Searcher
    from indexer.load import load_index

    result: dict[str, Any] = {"mmap": mmap, "import_seconds": time.perf_counter() - started}
    rss_before = rss_mb()
    started = time.perf_counter()
    index = load_index(Path(folder), DEFAULT_MODEL, mmap=mmap, checksums=False)
    result["open_seconds"] = time.perf_counter() - started
    result["rss_open_mb"] = rss_mb() - rss_before
    result["passages"] = len(index.passages)
    if answer:
        from indexer.backends import make_encoder

        started = time.perf_counter()
        encoder = make_encoder(DEFAULT_MODEL, "onnx")
        result["model_seconds"] = time.perf_counter() - started
        rss_model = rss_mb()
        started = time.perf_counter()
        searcher = Searcher(index, encoder)
        hits = searcher.search(question, TOP_K, "hybrid")
        result["first_query_seconds"] = time.perf_counter() - started
        result["hits"] = len(hits)
        result["rss_after_query_mb"] = rss_mb() - rss_model + result["rss_open_mb"]
        started = time.perf_counter()
        searcher.search(question + " at home", TOP_K, "hybrid")
        result["second_query_seconds"] = time.perf_counter() - started
    return result


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_probe(folder: Path, question: str, mmap: bool, answer: bool) -> dict[str, Any]:
    args = json.dumps([str(folder), question, mmap, answer])
    code = (
        "import json; from eval.segment_bench import probe_open; "
        f"print(json.dumps(probe_open(*json.loads({args!r}))))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEQA_")}
    env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=1800, check=False
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"the open probe failed ({done.returncode}):\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_seconds"] = wall
    return result


def bench_open(folder: Path, question: str) -> dict[str, Any]:
    mapped = run_probe(folder, question, mmap=True, answer=True)
    read_in = run_probe(folder, question, mmap=False, answer=False)
    n = mapped["passages"]
    result = {
        "question": question,
        "import_seconds": mapped["import_seconds"],
        "open_seconds": mapped["open_seconds"],
        "model_seconds": mapped["model_seconds"],
        "first_query_seconds": mapped["first_query_seconds"],
        "second_query_seconds": mapped["second_query_seconds"],
        "open_to_first_answer_seconds": mapped["open_seconds"] + mapped["first_query_seconds"],
        "process_seconds": mapped["process_seconds"],
        "hits": mapped["hits"],
        "rss_mmap_open_mb": mapped["rss_open_mb"],
        "rss_mmap_after_query_mb": mapped["rss_after_query_mb"],
        "rss_read_open_mb": read_in["rss_open_mb"],
        "open_read_seconds": read_in["open_seconds"],
        "rss_bytes_per_passage_mmap": mapped["rss_after_query_mb"] * 2**20 / n,
        "rss_bytes_per_passage_read": read_in["rss_open_mb"] * 2**20 / n,
    }
    log(
        f"  open: {result['open_seconds']:.2f} s + first query {result['first_query_seconds']:.2f} s "
        f"(model {result['model_seconds']:.1f} s); RSS {result['rss_bytes_per_passage_mmap']:.0f} B/passage "
        f"mmap, {result['rss_bytes_per_passage_read']:.0f} read in"
    )
    return result


# Part 1: writes through LiveIndex in-process.


def bench_live_writes(
    folder: Path, pool: Sequence[PoolDocument], base: np.ndarray, config: Config
) -> dict[str, Any]:
    from indexer.live import LiveIndex

    segments_before = len(read_manifest(folder)["segments"])
    live = LiveIndex.open(
        folder, InstantEncoder(base), policy=TieredMergePolicy(), background_merges=True, checksums=False
    )
    try:
        live.wait_for_merges(timeout=600)
        merges_before = live.merger.merges if live.merger else 0
        documents = [
            dataclasses.replace(pool[(7 * i) % len(pool)].document, doc_id=f"bench-live-{i}")
            for i in range(config.warmup_writes + config.live_writes)
        ]
        for document in documents[: config.warmup_writes]:  # not counted
            live.put([document])
            live.delete([document.doc_id])
        adds, deletes = [], []
        for document in documents[config.warmup_writes :]:
            started = time.perf_counter()
            live.put([document])
            adds.append((time.perf_counter() - started) * 1000)
        segments_peak = len(live.current.segments)
        for document in documents[config.warmup_writes :]:
            started = time.perf_counter()
            live.delete([document.doc_id])
            deletes.append((time.perf_counter() - started) * 1000)
        idle = live.wait_for_merges(timeout=900)
        merges = (live.merger.merges if live.merger else 0) - merges_before
        result = {
            "add": percentiles(adds),
            "delete": percentiles(deletes),
            "segments_before": segments_before,
            "segments_after_adds": segments_peak,
            "segments_after": len(live.current.segments),
            "merges": merges,
            "merges_idle_at_end": idle,
            "merge_errors": list(live.merge_errors),
            "passages_per_add": float(
                np.mean([len(chunk_document(d, IndexSettings().chunker, 0)) for d in documents])
            ),
        }
    finally:
        live.close()
    log(
        f"  live writes: add p50 {result['add']['p50_ms']:.1f} ms p99 {result['add']['p99_ms']:.1f}, delete "
        f"p50 {result['delete']['p50_ms']:.1f} ms p99 {result['delete']['p99_ms']:.1f}; segments "
        f"{segments_before} -> {result['segments_after']}, {merges} merges"
    )
    return result


# HTTP helpers.


def query_once(client: httpx.Client, question: str) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    response = client.post("/query", json={"question": question, "top_k": TOP_K, "mode": "hybrid"})
    took = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"POST /query answered {response.status_code}: {response.text[:300]}")
    return took, response.json()


def query_latencies(url: str, questions: Sequence[str]) -> dict[str, Any]:
    """One warm-up pass over ``questions`` (sentence vectors are cached per process), then one timed pass."""
    with httpx.Client(base_url=url, timeout=load_bench.REQUEST_TIMEOUT, trust_env=False) as client:
        for question in questions:
            query_once(client, question)
        samples, versions = [], set()
        for question in questions:
            took, body = query_once(client, question)
            samples.append(took)
            versions.add(body.get("index_version"))
    return {**percentiles(samples), "index_versions": sorted(v for v in versions if v is not None)}


def write_document(client: httpx.Client, document: Document) -> tuple[float, int]:
    started = time.perf_counter()
    response = client.put(
        f"/documents/{document.doc_id}", json={"title": document.title, "text": document.text}, headers=AUTH
    )
    took = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(
            f"PUT /documents/{document.doc_id} answered {response.status_code}: {response.text[:300]}"
        )
    return took, int(response.json()["index_version"])


def delete_document(client: httpx.Client, doc_id: str) -> float:
    started = time.perf_counter()
    response = client.delete(f"/documents/{doc_id}", headers=AUTH)
    took = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(
            f"DELETE /documents/{doc_id} answered {response.status_code}: {response.text[:300]}"
        )
    return took


def written_document(pool: Sequence[PoolDocument], number: int, prefix: str) -> Document:
    item = pool[(13 * number + 5) % len(pool)]
    return dataclasses.replace(item.document, doc_id=f"{prefix}-{number}")


def short_document(number: int) -> Document:
    """A two-sentence document (one passage), a different text each time."""
    return Document(
        doc_id=f"bench-short-{number}", title=f"Harbor seals {number}", text=f"{TWO_SENTENCES} Note {number}."
    )


# Part 3: queries over HTTP at the largest size, fresh and after 1,000 writes.


def bench_http_queries(
    folder: Path, pool: Sequence[PoolDocument], questions: Sequence[str], config: Config
) -> dict[str, Any]:
    before = faiss_types(folder)
    log(f"  HTTP queries: starting citeqa serve (1 worker) over {folder}")
    with load_bench.running_server(folder, 1, extra_env=SERVICE_ENV) as server:
        ready = load_bench.wait_until_ready(server, 1)
        log(f"  ready after {ready:.1f} s; {len(questions)} questions, a warm-up pass then a timed one")
        fresh = query_latencies(server.url, questions)
        log(f"  fresh: p50 {fresh['p50_ms']:.0f} ms, p99 {fresh['p99_ms']:.0f} ms")
        samples = []
        started = time.perf_counter()
        with httpx.Client(base_url=server.url, timeout=load_bench.REQUEST_TIMEOUT, trust_env=False) as client:
            for number in range(config.http_writes_largest):
                if time.perf_counter() - started > config.http_write_budget_seconds:
                    log(
                        f"  write budget of {config.http_write_budget_seconds:.0f} s spent "
                        f"after {number} writes"
                    )
                    break
                if number % 4 == 3:  # replace the previous write's document with another text
                    previous = written_document(pool, number - 1, "bench-http")
                    document = dataclasses.replace(
                        written_document(pool, number, "x"), doc_id=previous.doc_id
                    )
                else:
                    document = written_document(pool, number, "bench-http")
                took, version = write_document(client, document)
                samples.append(took)
                if (number + 1) % max(1, config.http_writes_largest // 10) == 0:
                    log(
                        f"  {number + 1} writes in {time.perf_counter() - started:.0f} s (version {version}, "
                        f"{len(read_manifest(folder)['segments'])} segments)"
                    )
        write_seconds = time.perf_counter() - started
        during = faiss_types(folder)
        after_writes = query_latencies(server.url, questions)
        log(
            f"  after {len(samples)} writes: p50 {after_writes['p50_ms']:.0f} ms, "
            f"p99 {after_writes['p99_ms']:.0f} ms"
        )
        server.check_alive()
    after = faiss_types(folder)
    return {
        "passages": sum(s["live_passages"] for s in before),
        "questions": len(questions),
        "ready_seconds": ready,
        "fresh": fresh,
        "after_writes": after_writes,
        "ratio_p50": after_writes["p50_ms"] / fresh["p50_ms"],
        "ratio_p99": after_writes["p99_ms"] / fresh["p99_ms"],
        "writes": len(samples),
        "writes_planned": config.http_writes_largest,
        "write_seconds": write_seconds,
        "write_latency": percentiles(samples),
        "segments_before": before,
        "segments_after_writes": during,
        "segments_at_stop": after,
        "types_before": types_summary(before),
        "types_after_writes": types_summary(during),
        "types_at_stop": types_summary(after),
    }


# Parts 6 and 7: two workers.


async def load_with_versions(
    url: str, questions: Sequence[str], concurrency: int, seconds: float
) -> dict[str, Any]:
    """As eval.load_bench.run_level (2 POST /query : 1 GET /search, hybrid), keeping each response's
    index_version."""
    counter = iter(range(10**12))
    latencies: list[float] = []
    errors: list[str] = []
    versions: dict[int, int] = {}
    without_version = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=url, timeout=load_bench.REQUEST_TIMEOUT, limits=limits, trust_env=False
    ) as client:
        deadline = time.perf_counter() + seconds

        async def user() -> None:
            nonlocal without_version
            while time.perf_counter() < deadline:
                number = next(counter)
                question = questions[number % len(questions)]
                sent = time.perf_counter()
                try:
                    if number % load_bench.SEARCH_EVERY == load_bench.SEARCH_EVERY - 1:
                        response = await client.get(
                            "/search", params={"q": question, "k": TOP_K, "mode": "hybrid"}
                        )
                    else:
                        response = await client.post(
                            "/query", json={"question": question, "top_k": TOP_K, "mode": "hybrid"}
                        )
                except httpx.HTTPError as err:
                    errors.append(f"{type(err).__name__}: {err}")
                    continue
                if response.status_code != 200:
                    errors.append(f"HTTP {response.status_code}: {response.text[:200]}")
                    continue
                latencies.append((time.perf_counter() - sent) * 1000)
                version = response.json().get("index_version")
                if isinstance(version, int):
                    versions[version] = versions.get(version, 0) + 1
                else:
                    without_version += 1

        await asyncio.gather(*(user() for _ in range(concurrency)))
    return {
        "requests": len(latencies) + len(errors),
        "failed": len(errors),
        "error_samples": errors[:5],
        "latency": percentiles(latencies),
        "responses_without_one_version": without_version,
        "versions_seen": sorted(versions),
        "responses_per_version": {str(k): v for k, v in sorted(versions.items())},
    }


def bench_two_workers(
    folder: Path, pool: Sequence[PoolDocument], questions: Sequence[str], config: Config
) -> tuple[dict[str, Any], dict[str, Any]]:
    log(f"  starting citeqa serve --workers 2 over {folder}")
    with load_bench.running_server(folder, 2, extra_env=SERVICE_ENV) as server:
        ready = load_bench.wait_until_ready(server, 2)
        log(f"  ready after {ready:.1f} s")
        with httpx.Client(base_url=server.url, timeout=load_bench.REQUEST_TIMEOUT, trust_env=False) as client:
            warm = written_document(pool, 10**6, "bench-w2-warm")
            write_document(client, warm)  # not counted: first write of the process
            delete_document(client, warm.doc_id)
            adds, deletes, short_adds, short_deletes = [], [], [], []
            documents = [written_document(pool, n, "bench-w2") for n in range(config.http_writes_small)]
            for document in documents:
                adds.append(write_document(client, document)[0])
            for document in documents:
                deletes.append(delete_document(client, document.doc_id))
            shorts = [short_document(n) for n in range(config.http_writes_small)]
            for document in shorts:
                short_adds.append(write_document(client, document)[0])
            for document in shorts:
                short_deletes.append(delete_document(client, document.doc_id))
        settings = IndexSettings()
        writes = {
            "workers": 2,
            "passages": sum(s["live_passages"] for s in faiss_types(folder)),
            "add": percentiles(adds),
            "delete": percentiles(deletes),
            "document_passages": float(
                np.mean([len(chunk_document(d, settings.chunker, 0)) for d in documents])
            ),
            "document_chars": float(np.mean([len(d.text) for d in documents])),
            "short_add": percentiles(short_adds),
            "short_delete": percentiles(short_deletes),
            "short_passages": float(np.mean([len(chunk_document(d, settings.chunker, 0)) for d in shorts])),
            "short_chars": float(np.mean([len(d.text) for d in shorts])),
            "segments_after": len(read_manifest(folder)["segments"]),
        }
        log(
            f"  HTTP writes (2 workers): article add p50 {writes['add']['p50_ms']:.0f} ms p99 "
            f"{writes['add']['p99_ms']:.0f}, delete p50 {writes['delete']['p50_ms']:.0f} ms; two-sentence "
            f"add p50 {writes['short_add']['p50_ms']:.0f} ms p99 {writes['short_add']['p99_ms']:.0f}"
        )
        # Part 7: queries under load while one writer streams puts.
        asyncio.run(load_with_versions(server.url, questions, config.load_concurrency, 2.0))  # warm-up
        stop = threading.Event()
        write_log: dict[str, Any] = {"writes": 0, "failed": 0, "errors": [], "versions": [], "ms": []}

        def writer() -> None:
            number = 0
            with httpx.Client(
                base_url=server.url, timeout=load_bench.REQUEST_TIMEOUT, trust_env=False
            ) as client:
                while not stop.is_set():
                    document = written_document(pool, number, "bench-stream")
                    try:
                        took, version = write_document(client, document)
                        write_log["versions"].append(version)
                        write_log["ms"].append(took)
                    except (RuntimeError, httpx.HTTPError) as err:
                        write_log["failed"] += 1
                        write_log["errors"].append(str(err)[:200])
                    write_log["writes"] += 1
                    number += 1
                    stop.wait(config.write_interval)

        thread = threading.Thread(target=writer, name="segment-bench-writer")
        thread.start()
        try:
            load = asyncio.run(
                load_with_versions(server.url, questions, config.load_concurrency, config.load_seconds)
            )
        finally:
            stop.set()
            thread.join()
        server.check_alive()
    versions = write_log["versions"]
    load.update(
        {
            "workers": 2,
            "concurrency": config.load_concurrency,
            "seconds": config.load_seconds,
            "writes": write_log["writes"],
            "write_failures": write_log["failed"],
            "write_latency": percentiles(write_log["ms"]),
            "write_error_samples": write_log["errors"][:5],
            "written_versions": [min(versions), max(versions)] if versions else [],
            "ready_seconds": ready,
        }
    )
    log(
        f"  load with writes: {load['requests']} requests, {load['failed']} failed, {load['writes']} writes "
        f"({load['write_failures']} failed), versions {load['versions_seen'][:1]}.."
        f"{load['versions_seen'][-1:]}"
    )
    return writes, load


# The run.


def machine() -> dict[str, Any]:
    from eval.bench import cpu_model, load_average, memory_gib

    return {
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "memory_gib": memory_gib(),
        "load_average": load_average(),
    }


def run_segment_bench(
    out: Path = DEFAULT_OUT,
    sizes: Sequence[int] = DEFAULT_SIZES,
    smoke: bool = False,
    keep_indexes: bool = False,
    command: str = "python -m eval.segment_bench",
    merge_up_to: int | None = None,
    writes_only: bool = False,
    parts: Sequence[str] = PARTS,
) -> dict[str, Any]:
    """Every part at every size, or ``parts`` only (see PARTS); ``writes_only``: part 1 alone."""
    chosen = {"writes"} if writes_only else set(parts)
    if chosen - set(PARTS):
        raise ValueError(f"unknown parts {sorted(chosen - set(PARTS))}; choose among {', '.join(PARTS)}")
    config = SMOKE if smoke else FULL
    if merge_up_to is not None:
        config = dataclasses.replace(config, merge_up_to=merge_up_to)
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    sizes = sorted(sizes)
    work = out / "work"
    payload: dict[str, Any] = {
        "command": command,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "smoke": smoke,
        "sizes": list(sizes),
        "parts": [p for p in PARTS if p in chosen],
        "config": asdict(config),
        "machine": machine(),
        "per_size": {},
        "http_queries": None,
        "http_writes_two_workers": None,
        "load_with_writes": None,
    }

    def save() -> None:
        payload["machine"]["load_average_end"] = machine()["load_average"]
        write_outputs(out, payload)

    pool_target = min(config.pool_passages, max(sizes))
    log(f"generating a pool of synthetic articles (~{pool_target:,} passages)")
    pool = make_pool(pool_target)
    base, vectors_label = base_vectors(config, pool, out / "cache")
    payload["data"] = {
        "pool_documents": len(pool),
        "pool_passages": pool_passage_count(pool),
        "vectors": vectors_label,
    }
    log(f"pool: {len(pool):,} documents, {pool_passage_count(pool):,} passages; vectors: {vectors_label}")
    all_questions = synthetic_questions([p.document for p in pool], config.queries, seed=1)
    for n in sizes:
        parts = MERGE_SEGMENTS if n <= config.merge_up_to and "merge" in chosen else 1
        log(f"size {n:,}: writing {parts} segment(s) of ~{n // parts:,} passages")
        folder = work / f"index-{n}"
        if folder.exists():
            shutil.rmtree(folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        manifest = write_segmented_index(folder, pool, base, n, parts, seed=n)
        row: dict[str, Any] = {
            "passages": manifest["counts"]["passages"],
            "documents": manifest["counts"]["documents"],
            "write_segments_seconds": time.perf_counter() - started,
            "segments_written": parts,
        }
        payload["per_size"][str(n)] = row
        if parts > 1:
            row["merge"] = bench_merge(folder)
        row["fresh_types"] = types_summary(faiss_types(folder))
        save()
        row["disk_bytes"] = disk_bytes(folder)
        row["disk_bytes_per_passage"] = {k: v / row["passages"] for k, v in row["disk_bytes"].items()}
        if "open" in chosen:
            row["open"] = bench_open(folder, all_questions[0])
            save()
        if n == sizes[-1] and "queries" in chosen:
            payload["http_queries"] = bench_http_queries(folder, pool, all_questions, config)
            save()
        if "writes" in chosen:
            row["live_writes"] = bench_live_writes(folder, pool, base, config)
            save()
        if n == sizes[0] and "workers" in chosen:
            writes, load = bench_two_workers(folder, pool, all_questions, config)
            payload["http_writes_two_workers"] = writes
            payload["load_with_writes"] = load
            save()
        if not keep_indexes:
            shutil.rmtree(folder, ignore_errors=True)
        gc.collect()
    if not keep_indexes:
        shutil.rmtree(work, ignore_errors=True)
    save()
    return payload


def write_outputs(out: Path, payload: dict[str, Any]) -> None:
    (out / "results.json").write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    (out / "report.md").write_text(report_markdown(payload), encoding="utf-8")


# The report.


def _doc_size(writes: dict[str, Any], kind: str) -> str:
    passages, chars = writes.get(f"{kind}_passages"), writes.get(f"{kind}_chars")
    return "" if passages is None else f" (~{passages:.1f} passages, {chars:,.0f} characters)"


def _ms(p: dict[str, Any] | None) -> str:
    return "-" if not p else f"{p['p50_ms']:.1f} / {p['p99_ms']:.1f}"


def _get(row: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if not isinstance(row, dict) or key not in row:
            return None
        row = row[key]
    return row


def _fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _verdict(ok: bool | None) -> str:
    return "-" if ok is None else ("met" if ok else "**missed**")


# (row label, function of one size's results -> cell)
SIZE_ROWS: tuple[tuple[str, Callable[[dict[str, Any]], str]], ...] = (
    ("passages / documents", lambda r: f"{r['passages']:,} / {r['documents']:,}"),
    ("FAISS type per segment, freshly built", lambda r: r.get("fresh_types", "-")),
    ("1. write via LiveIndex, add p50 / p99 ms (no embedding)", lambda r: _ms(_get(r, "live_writes", "add"))),
    ("1. write via LiveIndex, delete p50 / p99 ms", lambda r: _ms(_get(r, "live_writes", "delete"))),
    (
        "1. segments before -> after adds -> at the end; merges",
        lambda r: (
            "-"
            if "live_writes" not in r
            else f"{r['live_writes']['segments_before']} -> {r['live_writes']['segments_after_adds']} -> "
            f"{r['live_writes']['segments_after']}; {r['live_writes']['merges']} merges"
        ),
    ),
    ("2. index open s (mmap, no checksums)", lambda r: _fmt(_get(r, "open", "open_seconds"), ".2f")),
    ("2. first hybrid query s", lambda r: _fmt(_get(r, "open", "first_query_seconds"), ".2f")),
    (
        "2. open -> first answer s (excl. model)",
        lambda r: _fmt(_get(r, "open", "open_to_first_answer_seconds"), ".2f"),
    ),
    ("2. model load s (reported apart)", lambda r: _fmt(_get(r, "open", "model_seconds"), ".2f")),
    (
        "2. imports s / whole process s",
        lambda r: (
            "-"
            if "open" not in r
            else f"{r['open']['import_seconds']:.2f} / {r['open']['process_seconds']:.1f}"
        ),
    ),
    (
        "4. RSS bytes/passage, mmap (after a query)",
        lambda r: _fmt(_get(r, "open", "rss_bytes_per_passage_mmap"), ",.0f"),
    ),
    (
        "4. RSS bytes/passage, read in (service default)",
        lambda r: _fmt(_get(r, "open", "rss_bytes_per_passage_read"), ",.0f"),
    ),
    *(
        (
            f"4. disk bytes/passage: {kind}",
            lambda r, kind=kind: _fmt(_get(r, "disk_bytes_per_passage", kind), ",.0f"),
        )
        for kind in ("documents", "passages", "dense", "lexical", "total")
    ),
    (
        "5. merge: segments -> 1, passages",
        lambda r: (
            "not run (one segment written directly)"
            if r.get("segments_written") == 1
            else "-"
            if "merge" not in r
            else f"{r['merge']['segments_before']} -> {r['merge']['segments_after']}, "
            f"{r['merge']['passages']:,}"
        ),
    ),
    ("5. merge seconds", lambda r: _fmt(_get(r, "merge", "seconds"), ".1f")),
    ("5. merge throughput, passages/s", lambda r: _fmt(_get(r, "merge", "passages_per_second"), ",.0f")),
)


def targets(payload: dict[str, Any]) -> list[str]:
    per_size = payload["per_size"]
    sizes = [s for s in payload["sizes"] if str(s) in per_size]
    lines = ["| target | measured | verdict |", "|---|---|---|"]
    for n in sizes:
        add = _get(per_size[str(n)], "live_writes", "add", "p50_ms")
        delete = _get(per_size[str(n)], "live_writes", "delete", "p50_ms")
        if add is not None:
            ok = add <= 50 and delete <= 50
            lines.append(
                f"| 1. write p50 <= 50 ms at {n:,} | add {add:.1f} ms, delete {delete:.1f} ms "
                f"| {_verdict(ok)} |"
            )
    if len(sizes) > 1:
        small, large = per_size[str(sizes[0])], per_size[str(sizes[-1])]
        for op in ("add", "delete"):
            a, b = _get(small, "live_writes", op, "p50_ms"), _get(large, "live_writes", op, "p50_ms")
            if a is not None and b is not None:
                lines.append(
                    f"| 1. {op} p50 at {sizes[-1]:,} <= 2 x at {sizes[0]:,} | {b:.1f} ms vs {a:.1f} ms "
                    f"({b / a:.2f} x) | {_verdict(b <= 2 * a)} |"
                )
    if sizes:
        opened = _get(per_size[str(sizes[-1])], "open", "open_to_first_answer_seconds")
        if opened is not None:
            lines.append(
                f"| 2. open -> first answer <= 3 s at {sizes[-1]:,} (excl. model) | {opened:.2f} s "
                f"| {_verdict(opened <= 3)} |"
            )
    http = payload.get("http_queries")
    if http:
        lines.append(
            f"| 3. query p50 after {http['writes']:,} writes <= 1.5 x fresh | "
            f"{http['after_writes']['p50_ms']:.0f} ms vs "
            f"{http['fresh']['p50_ms']:.0f} ms ({http['ratio_p50']:.2f} x) "
            f"| {_verdict(http['ratio_p50'] <= 1.5)} |"
        )
        lines.append(
            f"| 3. query p99 after writes <= 1.5 x fresh | {http['after_writes']['p99_ms']:.0f} ms vs "
            f"{http['fresh']['p99_ms']:.0f} ms ({http['ratio_p99']:.2f} x) "
            f"| {_verdict(http['ratio_p99'] <= 1.5)} |"
        )
    writes = payload.get("http_writes_two_workers")
    if writes:
        lines.append(
            f"| 6. HTTP write p50 <= 150 ms, 2 workers, {writes['passages']:,} passages, synthetic article"
            f"{_doc_size(writes, 'document')} | add {writes['add']['p50_ms']:.0f} ms, delete "
            f"{writes['delete']['p50_ms']:.0f} ms | "
            f"{_verdict(writes['add']['p50_ms'] <= 150 and writes['delete']['p50_ms'] <= 150)} |"
        )
        if writes.get("short_add"):
            short_ok = writes["short_add"]["p50_ms"] <= 150 and writes["short_delete"]["p50_ms"] <= 150
            lines.append(
                f"| 6. the same, two-sentence document{_doc_size(writes, 'short')} | add "
                f"{writes['short_add']['p50_ms']:.0f} ms, delete {writes['short_delete']['p50_ms']:.0f} ms "
                f"| {_verdict(short_ok)} |"
            )
    load = payload.get("load_with_writes")
    if load:
        ok = (
            load["failed"] == 0 and load["write_failures"] == 0 and load["responses_without_one_version"] == 0
        )
        lines.append(
            f"| 7. zero failed requests, one index_version per response | {load['failed']} failed queries, "
            f"{load['write_failures']} failed writes, "
            f"{load['responses_without_one_version']} responses without "
            f"a version | {_verdict(ok)} |"
        )
    return lines


def layout_note(config: dict[str, Any], unmerged: Sequence[int]) -> str:
    """How the indexes were laid out when part 5 ran: 8 segments merged into one (and where not)."""
    return (
        ("At every size" if not unmerged else f"Up to {config['merge_up_to']:,} passages")
        + f", each index is written as {MERGE_SEGMENTS} segments of "
        f"size/{MERGE_SEGMENTS} and merged into one by `merge_once` (part 5); the merged single segment, its "
        "FAISS type chosen by its size as a fresh build's, is the freshly built index of parts 1-4."
        + (
            f" Above {config['merge_up_to']:,} passages ({', '.join(f'{n:,}' for n in unmerged)}) the index "
            "is written directly as one segment, as `citeqa index` does (default shard size 1,000,000), and "
            "part 5 is not run there: on this shared 2-core machine the 8 segments and their merge would not "
            "fit the run's time budget (merge throughput is given at the sizes that ran it)."
            if unmerged
            else ""
        )
    )


def report_markdown(payload: dict[str, Any]) -> str:
    m = payload["machine"]
    per_size = payload["per_size"]
    sizes = [s for s in payload["sizes"] if str(s) in per_size]
    data = payload.get("data", {})
    config = payload["config"]
    unmerged = [n for n in sizes if per_size[str(n)].get("segments_written", MERGE_SEGMENTS) == 1]
    lines = [
        "# citeqa segmented index (format 2) benchmark",
        "",
        f"`{payload['command']}` started {payload['created_at']}"
        + (" (**smoke run**: tiny sizes, few repetitions)" if payload["smoke"] else "")
        + ".",
        "",
        f"Machine: {m['cpu_model']}, {m['cpu_count']} CPUs, {m['memory_gib']} GiB, load average "
        f"{' '.join(f'{x:.2f}' for x in m['load_average'])} at the start and "
        f"{' '.join(f'{x:.2f}' for x in m.get('load_average_end', m['load_average']))} at the end "
        "(1, 5, 15 min; "
        "a shared machine: above the CPU count, timings are contended).",
        "",
        "**Synthetic data, every size.** The passages are synthetic health articles of real English words "
        "(eval.synthetic) chunked by the default chunker: a pool of "
        f"{data.get('pool_documents', 0):,} articles "
        f"({data.get('pool_passages', 0):,} passages) is generated once and its articles are repeated under "
        "distinct doc_ids to reach each size (so at sizes above the pool each text occurs several times; "
        "BM25 postings have the sizes of distinct text). "
        f"Vectors: {data.get('vectors', '-')} (random vectors "
        "shaped like real embeddings, eval.scale_bench.embedding_like_vectors), never the model's vectors of "
        "these passages. Questions are synthetic (eval.synthetic) and embedded by the real model "
        f"({DEFAULT_MODEL}) in the service and in part 2.",
        "",
        (
            f"Parts run: {', '.join(payload['parts'])}. "
            if payload.get("parts") and len(payload["parts"]) < len(PARTS)
            else ""
        )
        + (
            "Part 5 (merge) was not run: every index is written directly as one segment, the layout a "
            "merge of its segments leaves (and a default `citeqa index` build writes up to 1,000,000 "
            "passages)."
            if payload.get("parts") and "merge" not in payload["parts"]
            else layout_note(config, unmerged)
        )
        + " The page cache is warm (the files were just written).",
        "",
        "## Per size",
        "",
        "| | " + " | ".join(f"{n:,}" for n in sizes) + " |",
        "|---|" + "---:|" * len(sizes),
    ]
    for label, cell in SIZE_ROWS:
        values = []
        for n in sizes:
            try:
                values.append(cell(per_size[str(n)]))
            except (KeyError, TypeError):
                values.append("-")
        lines.append(f"| {label} | " + " | ".join(values) + " |")
    ran_writes = any("live_writes" in per_size[str(n)] for n in sizes)
    lines += [
        "",
        (
            f"1: {config['live_writes']} one-document adds (synthetic articles of ~"
            + (
                f"{_get(per_size[str(sizes[0])], 'live_writes', 'passages_per_add') or 0:.1f}"
                if sizes
                else "?"
            )
            + f" passages), then their {config['live_writes']} deletes, through `LiveIndex.put` / `delete` "
            "in this "
            f"process ({config['warmup_writes']} warm-up writes not counted), each a durable commit "
            "(fsync'ed); the encoder returns precomputed embedding-like vectors instantly, so the times "
            "exclude embedding. The background merger runs (default TieredMergePolicy)."
            if ran_writes
            else "1: not run."
        ),
        "2: a fresh `python -c` process: imports, `load_index(mmap=True, checksums=False)`, the ONNX encoder "
        "(model load, reported apart), `Searcher` + one hybrid question (`first query`: includes embedding "
        "it). 4: RSS growth of that process over the index (after the first query, minus the model's), "
        "and of "
        "a second process that reads the FAISS files in (`mmap=False`, the service default); disk bytes "
        "of the "
        "files the commit names.",
        "",
    ]
    http = payload.get("http_queries")
    if http:
        lines += [
            f"## 3. Queries over HTTP at {http['passages']:,} passages, fresh and after "
            f"{http['writes']:,} writes",
            "",
            "`citeqa serve --workers 1`, POST /query hybrid top_k 5, one request at a time, "
            f"{http['questions']} synthetic questions (a warm-up pass, then a timed pass); writes: "
            f"{http['writes']:,} PUT /documents/{{id}} over HTTP (embedding included; every 4th replaces the "
            "previous document), background merges on (segments per tier: default 8); the 'after' pass "
            "starts "
            "right after the last write, merges may still run.",
            "",
            "| state | p50 ms | p99 ms | FAISS type per segment |",
            "|---|---:|---:|---|",
            f"| fresh | {http['fresh']['p50_ms']:.1f} | {http['fresh']['p99_ms']:.1f} "
            f"| {http['types_before']} |",
            f"| after {http['writes']:,} writes | {http['after_writes']['p50_ms']:.1f} | "
            f"{http['after_writes']['p99_ms']:.1f} | {http['types_after_writes']} |",
            f"| (at server stop) | | | {http['types_at_stop']} |",
            "",
            f"After/fresh: p50 {http['ratio_p50']:.2f} x, p99 {http['ratio_p99']:.2f} x. "
            "The writes themselves "
            f"(1 worker, embedding included): p50 {http['write_latency']['p50_ms']:.0f} ms, p99 "
            f"{http['write_latency']['p99_ms']:.0f} ms, {http['write_seconds']:.0f} s for all.",
            "",
        ]
    writes = payload.get("http_writes_two_workers")
    if writes:
        lines += [
            f"## 6. One-document writes over HTTP, `--workers 2`, {writes['passages']:,} passages",
            "",
            "| write | n | p50 ms | p99 ms |",
            "|---|---:|---:|---:|",
            f"| add (PUT, embedding included), synthetic article{_doc_size(writes, 'document')} "
            f"| {writes['add']['n']} | {writes['add']['p50_ms']:.1f} | {writes['add']['p99_ms']:.1f} |",
            f"| delete (DELETE) of those | {writes['delete']['n']} | {writes['delete']['p50_ms']:.1f} "
            f"| {writes['delete']['p99_ms']:.1f} |",
        ]
        if writes.get("short_add"):
            lines += [
                f"| add (PUT, embedding included), two-sentence document{_doc_size(writes, 'short')} "
                f"| {writes['short_add']['n']} | {writes['short_add']['p50_ms']:.1f} "
                f"| {writes['short_add']['p99_ms']:.1f} |",
                f"| delete (DELETE) of those | {writes['short_delete']['n']} "
                f"| {writes['short_delete']['p50_ms']:.1f} | {writes['short_delete']['p99_ms']:.1f} |",
            ]
        lines += [
            "",
            "A write's embedding runs on the worker's one encoder thread (2 cores / 2 workers), so the "
            "article's "
            "add time grows with its passages; the two-sentence document is the write issue 14 measured "
            "(706 ms p50 before segments).",
            "",
        ]
    load = payload.get("load_with_writes")
    if load:
        versions = load["versions_seen"]
        lines += [
            "## 7. `--workers 2` under query load while writes stream in",
            "",
            f"Concurrency {load['concurrency']} for {load['seconds']:g} s (2 POST /query : 1 GET /search, "
            f"hybrid), one writer PUTting a document {config['write_interval'] * 1000:.0f} ms after the "
            "previous PUT answered (so the write rate is bounded by the write latency under this load"
            + (
                f": {load['writes']} writes in {load['seconds']:g} s, write p50 / p99 "
                f"{_ms(load['write_latency'])} ms)."
                if load.get("write_latency")
                else f": {load['writes']} writes in {load['seconds']:g} s)."
            ),
            "",
            "| requests | failed | query p50 / p99 ms | writes | failed writes "
            "| responses without one index_version "
            "| index versions seen |",
            "|---:|---:|---:|---:|---:|---:|---|",
            f"| {load['requests']} | {load['failed']} | {_ms(load['latency'])} | {load['writes']} | "
            f"{load['write_failures']} | {load['responses_without_one_version']} | "
            + (f"{len(versions)} distinct, {versions[0]}..{versions[-1]}" if versions else "none")
            + " |",
            "",
        ]
        if load["error_samples"] or load["write_error_samples"]:
            lines += ["Errors: " + "; ".join(load["error_samples"] + load["write_error_samples"]), ""]
    lines += ["## Targets (issue 14)", "", *targets(payload), ""]
    return "\n".join(lines)


def parse_sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) < 500:
        raise argparse.ArgumentTypeError("sizes are comma-separated integers of at least 500")
    return sizes


def parse_parts(text: str) -> tuple[str, ...]:
    parts = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = sorted(set(parts) - set(PARTS))
    if not parts or unknown:
        raise argparse.ArgumentTypeError(f"parts are comma-separated among {','.join(PARTS)}")
    return parts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.segment_bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", type=parse_sizes, default=None, help="comma-separated corpus sizes (passages)"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="report folder")
    parser.add_argument("--smoke", action="store_true", help="a tiny size, few repetitions (a minute or two)")
    parser.add_argument("--keep-indexes", action="store_true", help="keep the index folders under OUT/work")
    parser.add_argument(
        "--merge-up-to",
        type=int,
        default=None,
        help="largest size written as 8 segments and merged (part 5); above, one segment is written "
        f"directly (default {FULL.merge_up_to:,}; smoke: every size)",
    )
    parser.add_argument(
        "--writes-only", action="store_true", help="part 1 alone: one-document writes in process, per size"
    )
    parser.add_argument(
        "--parts",
        type=parse_parts,
        default=PARTS,
        help=f"comma-separated parts to run among {','.join(PARTS)} (default: all); without merge every "
        "size is written as one segment",
    )
    args = parser.parse_args(argv)
    sizes = args.sizes or (SMOKE_SIZES if args.smoke else DEFAULT_SIZES)
    command = " ".join(["python -m eval.segment_bench", *(argv if argv is not None else sys.argv[1:])])
    run_segment_bench(
        args.out,
        sizes,
        args.smoke,
        args.keep_indexes,
        command,
        args.merge_up_to,
        args.writes_only,
        args.parts,
    )
    log(f"wrote {args.out / 'report.md'}")
    print((args.out / "report.md").read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
