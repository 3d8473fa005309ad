"""Building a sharded index on Ray (``citeqa index --engine ray``): Ray Data reads the corpus
(indexer/ray_corpus.py), chunks the documents with the same chunker as a local build, embeds the
passages and their sentences on a pool of actors that each load the encoder once, groups the passages by
shard (the doc_id hash of indexer/shards.py) and writes every shard folder in a Ray task, with the same
code as a local build (the vectors handed in, nothing embedded twice). The folders are staged beside
the destination and swapped in with ``shards.json`` last, as a local sharded build is.

On a cluster, the corpus and the destination must be on a filesystem every node sees (the tasks read the
corpus and write the shards there). Ray is an optional dependency (``pip install citeqa[ray]``): it is
imported only here, in indexer/ray_corpus.py and in service.ray_engine.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from corpus.types import Document
from indexer.build import BuildReport, build_index
from indexer.chunking import chunk_spans
from indexer.index_folder import document_from_record
from indexer.index_settings import IndexSettings, embedding_text, indexed_title
from indexer.ray_corpus import LIGHT_TASK_CPUS, CorpusScan, record_rows
from indexer.sentences import split_sentences
from indexer.shards import build_shard_folders, shard_name, shard_of
from indexer.types import Passage

EMBED_BATCH_SIZE = 64
SENTENCE_ROW = -2  # the ordinal of a sentence's row (a passage's is 0, 1, ...; -1: a document without any)
PROGRESS_EVERY_SECONDS = 10.0
# The embedders take most of each CPU, and leave a little for the light tasks (reading, chunking, writing
# shards), which would otherwise wait for a free CPU while the embedders hold them all.
EMBEDDER_CPU_SHARE = 0.9


def start_ray(address: str | None) -> None:
    """Connect to the cluster at ``address``, or start a local one (all of this machine's CPUs)."""
    import ray

    if ray.is_initialized():
        return
    os.environ.setdefault("RAY_DATA_DISABLE_PROGRESS_BARS", "0")
    ray.init(address=address, include_dashboard=False, log_to_driver=True, configure_logging=False)


def passage_rows(
    record: dict[str, Any], *, shards: int, chunker: dict[str, Any], embed_title: bool
) -> list[dict]:
    """A document's passages as Ray Data rows: where it lives (shard, document order, passage ordinal),
    its span, and the text to embed; the first row of a document carries the document's JSON record."""
    from indexer.chunking import ChunkerSettings

    document = document_from_record(json.loads(record["document"]))
    spans = chunk_spans(document.text, ChunkerSettings(**chunker))
    rows = []
    for ordinal, (start, end) in enumerate(spans):
        passage = Passage(ordinal, document.doc_id, start, end, document.text[start:end])
        rows.append(
            {
                "shard": shard_of(document.doc_id, shards),
                "order": record["order"],
                "ordinal": ordinal,
                "start": start,
                "end": end,
                "text": embedding_text(passage, indexed_title(document), embed_title),
                "document": record["document"] if ordinal == 0 else "",
            }
        )
    passages = [Passage(n, document.doc_id, s, e, document.text[s:e]) for n, (s, e) in enumerate(spans)]
    _, sentence_texts, _ = split_sentences(passages, {document.doc_id: document.text})
    for text in sentence_texts:  # embedded beside the passages, stored with them by the shard's writer
        rows.append(
            {
                "shard": shard_of(document.doc_id, shards),
                "order": record["order"],
                "ordinal": SENTENCE_ROW,
                "start": 0,
                "end": 0,
                "text": text,
                "document": "",
            }
        )
    if not rows:  # a document without passages still belongs to its shard
        rows.append(
            {
                "shard": shard_of(document.doc_id, shards),
                "order": record["order"],
                "ordinal": -1,
                "start": 0,
                "end": 0,
                "text": "",
                "document": record["document"],
            }
        )
    return rows


class Embedder:
    """A Ray Data actor: loads the encoder once (``model`` on ``backend``, torch or onnx, the ONNX export
    read from or made into ``onnx_cache``), embeds a batch's texts, and prints its own throughput."""

    def __init__(self, model: str, threads: int, backend: str = "torch", onnx_cache: str = "") -> None:
        from indexer.backends import make_encoder
        from indexer.onnx_encoder import DEFAULT_ONNX_CACHE

        cache = Path(onnx_cache) if onnx_cache else DEFAULT_ONNX_CACHE
        self.encoder = make_encoder(model, backend, threads, cache)  # type: ignore[arg-type]
        self.done = 0
        self.started = time.perf_counter()
        self.said = self.started

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        texts = [str(t) for t in batch["text"]]
        real = [i for i, t in enumerate(texts) if t]
        vectors = np.zeros((len(texts), self.encoder.dimension), dtype=np.float32)
        if real:
            vectors[real] = self.encoder.encode([texts[i] for i in real], batch_size=EMBED_BATCH_SIZE)
        self.done += len(real)
        now = time.perf_counter()
        if now - self.said >= PROGRESS_EVERY_SECONDS:
            self.said = now
            rate = self.done / (now - self.started)
            print(f"embedder {os.getpid()}: {self.done} passages, {rate:.1f} passages/s", flush=True)
        return {**batch, "vector": vectors}


class VectorsGiven:
    """The Encoder protocol over vectors already computed, by embedded text (a shard's writer embeds
    nothing)."""

    def __init__(self, name: str, dimension: int, vectors: dict[str, np.ndarray]) -> None:
        self.name = name
        self.dimension = dimension
        self._vectors = vectors

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        if not texts:
            return np.empty((0, self.dimension), dtype=np.float32)
        return np.stack([self._vectors[t] for t in texts]).astype(np.float32)


def write_shard(
    rows: dict[str, np.ndarray],
    *,
    staged: str,
    model: str,
    dimension: int,
    settings: IndexSettings,
    source: str,
) -> dict[str, np.ndarray]:
    """Write one shard's folder from its passage rows (a Ray Data ``map_groups`` function)."""
    order = np.lexsort((rows["ordinal"], rows["order"]))
    documents: list[Document] = []
    vectors: dict[str, np.ndarray] = {}
    for i in order:
        if rows["document"][i]:
            documents.append(document_from_record(json.loads(str(rows["document"][i]))))
        if rows["text"][i]:  # a passage or a sentence
            vectors[str(rows["text"][i])] = np.asarray(rows["vector"][i], dtype=np.float32)
    bucket = int(rows["shard"][0])
    folder = Path(staged) / shard_name(bucket)
    encoder = VectorsGiven(model, dimension, vectors)
    started = time.perf_counter()
    report = build_index(documents, encoder, folder, settings, source, vectors_of=encoder.encode)
    return {
        "shard": np.array([bucket]),
        "documents": np.array([report.documents]),
        "passages": np.array([report.passages]),
        "seconds": np.array([time.perf_counter() - started]),
    }


@dataclass(frozen=True)
class RayBuildReport:
    shards: list[BuildReport]
    seconds: float
    embedders: int

    @property
    def passages(self) -> int:
        return sum(r.passages for r in self.shards)

    @property
    def documents(self) -> int:
        return sum(r.documents for r in self.shards)

    @property
    def passages_per_second(self) -> float:
        return self.passages / self.seconds if self.seconds > 0 else float("inf")


def build_on_ray(
    scan: CorpusScan,
    model: str,
    dimension: int,
    destination: Path,
    settings: IndexSettings | None = None,
    source: str = "",
    embedders: int | None = None,
    backend: str = "torch",
    onnx_cache: Path | None = None,
) -> RayBuildReport:
    """Build the corpus that ``scan_corpus`` read (on the Ray cluster the caller connected to) into
    ``scan.shards`` shard folders at ``destination``. ``embedders``: actors embedding at once (default: one
    per CPU of the cluster, each with one thread), ``model`` on ``backend`` (torch or onnx; the ONNX export
    in ``onnx_cache``, an absolute path every node can use, made there by a node that lacks it)."""
    import ray
    from ray.data import ActorPoolStrategy

    started = time.perf_counter()
    settings = settings or IndexSettings()
    shards = scan.shards
    cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
    embedders = embedders or cpus
    threads = max(1, cpus // embedders)
    chunker = asdict(settings.chunker)
    found: dict[int, BuildReport] = {}

    def build_shards(bucket: int, folder: Path) -> BuildReport:
        if not found:
            staged = folder.parent
            writer = {"staged": str(staged), "model": model, "dimension": dimension, "settings": settings}
            items = scan.items()
            rows = (
                ray.data.from_items(items, override_num_blocks=max(1, len(items)))
                .flat_map(record_rows, num_cpus=LIGHT_TASK_CPUS)
                .flat_map(
                    passage_rows,
                    fn_kwargs={"shards": shards, "chunker": chunker, "embed_title": settings.embed_title},
                    num_cpus=LIGHT_TASK_CPUS,
                )
                .map_batches(
                    Embedder,
                    fn_constructor_kwargs={
                        "model": model,
                        "threads": threads,
                        "backend": backend,
                        "onnx_cache": str(onnx_cache or ""),
                    },
                    batch_size=EMBED_BATCH_SIZE * 4,
                    batch_format="numpy",
                    compute=ActorPoolStrategy(size=embedders),
                    num_cpus=threads * EMBEDDER_CPU_SHARE,
                )
                .groupby("shard", num_partitions=shards)
                .map_groups(
                    write_shard,
                    batch_format="numpy",
                    num_cpus=LIGHT_TASK_CPUS,
                    fn_kwargs={**writer, "source": source},
                )
            )
            for row in rows.iter_rows():
                number = int(row["shard"])
                found[number] = BuildReport(
                    staged / shard_name(number),
                    int(row["documents"]),
                    int(row["passages"]),
                    float(row["seconds"]),
                )
        if bucket not in found:  # a shard no document hashed to: an empty index folder
            found[bucket] = build_index([], VectorsGiven(model, dimension, {}), folder, settings, source)
        return found[bucket]

    model_entry = {"name": model, "dimension": dimension, "normalized": True}
    reports = build_shard_folders(shards, destination, build_shards, model_entry, source, scan.fingerprint)
    return RayBuildReport(reports, time.perf_counter() - started, embedders)
