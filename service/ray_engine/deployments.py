"""The Ray Serve application of a sharded index: one deployment per shard (``ShardReplica``: the shard's
live index and its ShardServer, ``replicas`` copies each) and the ingress (the service's FastAPI app, built
on the ingress replica, reaching the shards through deployment handles)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from ray import serve
from ray.serve.handle import DeploymentHandle

from citeqa.answers import Answerer
from citeqa.sharded.local import ShardedLive
from citeqa.sharded.messages import ShardCandidates, ShardQuery, ShardState, ShardStats
from citeqa.sharded.shard_server import ShardServer
from corpus.types import Document
from indexer.backends import default_threads, limit_threads
from indexer.embedding import Encoder
from indexer.errors import IndexMismatchError
from indexer.live import LiveIndex, WriteResult
from indexer.merging import TieredMergePolicy
from indexer.shards import in_shard, read_shards_manifest, shard_name
from service.ray_engine.clients import RayShardClient
from service.settings import Settings

APP_NAME = "citeqa"
INGRESS_NAME = "ingress"
# Replicas take a small share of a CPU each: on a small machine every shard's replicas and the ingress
# must fit at once; the encoder threads are what really uses the cores.
REPLICA_CPUS = 0.1


class ShardReplica:
    """One replica of one shard: opens the shard folder as a live index (writable when the service has
    API keys) and answers the gatherer's calls."""

    def __init__(self, folder: str, bucket: int, settings: dict[str, Any], dimension: int) -> None:
        values = Settings(**settings)
        threads = values.threads or default_threads()
        limit_threads(threads)  # FAISS with one OpenMP thread, as in a served query
        try:
            live = LiveIndex.open(
                Path(folder),
                WriterEncoder(values, dimension),
                expected_model=values.model,
                writable=bool(values.api_keys),
                policy=TieredMergePolicy(segments_per_tier=values.merge_segments_per_tier),
                mmap=values.index_mmap,
                checksums=values.index_checksums,
            )
        except IndexMismatchError as err:
            raise in_shard(err, Path(folder), values.index_path) from None
        self.server = ShardServer(live, bucket)

    def state(self) -> ShardState:
        return self.server.state()

    def stats(self, terms: list[str]) -> ShardStats:
        return self.server.stats(terms)

    def candidates(self, query: ShardQuery) -> ShardCandidates:
        return self.server.candidates(query)

    def document(self, doc_id: str) -> Document | None:
        return self.server.document(doc_id)

    def doc_ids(self) -> list[str]:
        return self.server.doc_ids()

    def put(self, documents: list[Document], max_chars: int, max_documents: int) -> WriteResult:
        return self.server.put(documents, max_chars, max_documents)

    def delete(self, doc_ids: list[str]) -> WriteResult:
        return self.server.delete(doc_ids)

    def rebuild(self) -> WriteResult:
        return self.server.rebuild()

    def at_least(self, version: int) -> ShardState:
        return self.server.at_least(version)


class WriterEncoder:
    """The encoder of a shard's writes, loaded by the first write: a replica that only answers searches
    (the ingress embeds the questions) never loads the model."""

    def __init__(self, settings: Settings, dimension: int) -> None:
        self._settings = settings
        self._encoder: Encoder | None = None
        self._lock = threading.Lock()
        self.name = settings.model
        self.dimension = dimension

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        with self._lock:
            if self._encoder is None:
                from service.wiring import build_encoder

                self._encoder = build_encoder(self._settings)
        return self._encoder.encode(texts, batch_size)


def ingress_app(settings: dict[str, Any], shard_names: Sequence[str]) -> Any:
    """The builder Ray Serve calls on the ingress replica: the service's FastAPI app over the shard
    deployments."""
    from service.app import create_app
    from service.wiring import build_encoder, sharded_base, shards_manifest

    values = Settings(**settings)

    def open_sharded() -> tuple[ShardedLive, Answerer]:
        manifest = shards_manifest(values)
        handles = [serve.get_deployment_handle(name, app_name=APP_NAME) for name in shard_names]
        clients = [RayShardClient(handle, bucket) for bucket, handle in enumerate(handles)]
        live = ShardedLive(manifest.folder, manifest.data, clients, writable=bool(values.api_keys))
        return live, sharded_base(values, build_encoder(values), manifest)

    return create_app(values, open_sharded=open_sharded)


def application(settings: Settings, shard_folders: Sequence[Path], replicas: int) -> Any:
    """The bound Ray Serve application: the shard deployments, then the ingress that asks them."""
    # Absolute paths: a replica's working directory is not the caller's.
    values = {k: v.resolve() if isinstance(v, Path) else v for k, v in settings.model_dump().items()}
    names = [shard_name(bucket) for bucket in range(len(shard_folders))]
    dimension = int(read_shards_manifest(settings.index_path).data["model"]["dimension"])
    shard = serve.deployment(ShardReplica)
    bound: list[DeploymentHandle] = [
        shard.options(name=name, num_replicas=replicas, ray_actor_options={"num_cpus": REPLICA_CPUS}).bind(
            str(folder), bucket, values, dimension
        )
        for bucket, (name, folder) in enumerate(zip(names, shard_folders, strict=True))
    ]

    def build() -> Any:
        return ingress_app(values, names)

    ingress = serve.deployment(serve.ingress(build)(Ingress))
    return ingress.options(name=INGRESS_NAME, ray_actor_options={"num_cpus": REPLICA_CPUS}).bind(*bound)


class Ingress:
    """The ingress deployment's class: the app (``ingress_app``) does the work; the shard deployments are
    bound to it so that they are part of the application (it reaches them by name)."""

    def __init__(self, *shards: DeploymentHandle) -> None:
        self.shards = shards
