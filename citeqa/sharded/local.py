"""A sharded index served in one process: a ShardServer per shard folder, asked in parallel from a thread
pool, and the live-index interface the service writes through (each write goes to the shard its doc_id
hashes to, and commits there as in an index of one folder)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from citeqa.sharded.gather import (
    Pending,
    ShardClient,
    ShardedSnapshot,
    all_of,
    check_present,
    routed_documents,
)
from citeqa.sharded.messages import ShardCandidates, ShardQuery, ShardState, ShardStats
from citeqa.sharded.shard_server import ShardServer
from corpus.errors import CorpusError
from corpus.types import Document
from indexer.errors import VersionNotReachedError
from indexer.live import MAX_BULK_DOCUMENTS, MAX_DOCUMENT_CHARS, LiveIndex, WriteResult, check_documents


class LocalShardClient:
    """A ShardServer in this process, its calls run on ``pool`` so that all shards work at once."""

    def __init__(self, server: ShardServer, pool: ThreadPoolExecutor) -> None:
        self.server = server
        self.bucket = server.bucket
        self._pool = pool

    def _submit(self, call: Callable[..., Any], *args: Any) -> Future[Any]:
        return self._pool.submit(call, *args)

    def state(self) -> Pending[ShardState]:
        return self._submit(self.server.state)

    def stats(self, terms: Sequence[str]) -> Pending[ShardStats]:
        return self._submit(self.server.stats, terms)

    def candidates(self, query: ShardQuery) -> Pending[ShardCandidates]:
        return self._submit(self.server.candidates, query)

    def document(self, doc_id: str) -> Pending[Document | None]:
        return Done(self.server.document(doc_id))

    def doc_ids(self) -> Pending[list[str]]:
        return self._submit(self.server.doc_ids)

    def put(self, documents: Sequence[Document], max_chars: int, max_documents: int) -> Pending[WriteResult]:
        return self._submit(self.server.put, documents, max_chars, max_documents)

    def delete(self, doc_ids: Sequence[str]) -> Pending[WriteResult]:
        return self._submit(self.server.delete, doc_ids)

    def rebuild(self) -> Pending[WriteResult]:
        return self._submit(self.server.rebuild)

    def at_least(self, version: int) -> Pending[ShardState]:
        return self._submit(self.server.at_least, version)

    def close(self) -> None:
        self.server.close()


class Done:
    """A result already there (a call cheaper than a thread hop)."""

    def __init__(self, value: Any) -> None:
        self._value = value

    def result(self) -> Any:
        return self._value


class ShardedLive:
    """The LiveIndex interface over shard clients: ``current`` (a ShardedSnapshot, the same object while
    no shard has moved), ``at_least``, and writes routed by doc_id. A write that spans shards commits in
    each of them (each shard's commit is atomic; the write as a whole is not)."""

    def __init__(
        self,
        path: Path,
        manifest: dict[str, Any],
        clients: Sequence[ShardClient],
        writable: bool,
        close: Callable[[], None] | None = None,
    ) -> None:
        self.path = Path(path)
        self.manifest = manifest
        self.clients = list(clients)
        self.writable = writable
        self.writes: dict[str, int] = {"put": 0, "delete": 0, "rebuild": 0}
        self.merge_errors: list[str] = []
        self.merge_failures = 0
        self.merger = None
        self._close = close
        self._snapshot = ShardedSnapshot.of(self.path, manifest, self.clients)

    @property
    def current(self) -> ShardedSnapshot:
        states = tuple(all_of([c.state() for c in self.clients]))
        snapshot = self._snapshot
        if states != snapshot.states:
            snapshot = ShardedSnapshot.of(self.path, self.manifest, self.clients)
            self._snapshot = snapshot
        return snapshot

    @property
    def version(self) -> int:
        return self.current.version

    def at_least(self, version: int) -> ShardedSnapshot:
        snapshot = self.current
        if snapshot.version < version:
            raise VersionNotReachedError(
                f"index version {version} does not exist yet (the newest is {snapshot.version}); ask for "
                "a version a write returned"
            )
        return snapshot

    def _require_writable(self) -> None:
        if not self.writable:
            raise CorpusError("this index is open read-only; writes need a writable LiveIndex")

    def put(
        self,
        documents: Sequence[Document],
        max_chars: int = MAX_DOCUMENT_CHARS,
        max_documents: int = MAX_BULK_DOCUMENTS,
    ) -> WriteResult:
        self._require_writable()
        # The whole batch is checked here, before any shard commits its part: a refused batch writes nothing.
        check_documents(documents, max_chars, max_documents)
        parts = routed_documents(documents, self.clients)
        results = all_of([self.clients[b].put(part, max_chars, max_documents) for b, part in parts.items()])
        self.writes["put"] += 1
        return WriteResult(
            self.version,
            "put",
            tuple(d.doc_id for d in documents),
            sum(r.embedded_documents for r in results),
            sum(r.embedded_passages for r in results),
        )

    def delete(self, doc_ids: Sequence[str]) -> WriteResult:
        self._require_writable()
        documents = self.current.documents
        check_present(doc_ids, documents.get)
        by_shard: dict[int, list[str]] = {}
        for doc_id in doc_ids:
            by_shard.setdefault(documents.bucket_of(doc_id), []).append(doc_id)
        all_of([self.clients[b].delete(ids) for b, ids in by_shard.items()])
        self.writes["delete"] += 1
        return WriteResult(self.version, "delete", tuple(doc_ids), 0, 0)

    def rebuild(self) -> WriteResult:
        self._require_writable()
        results = all_of([c.rebuild() for c in self.clients])
        self.writes["rebuild"] += 1
        return WriteResult(
            self.version,
            "rebuild",
            (),
            sum(r.embedded_documents for r in results),
            sum(r.embedded_passages for r in results),
        )

    def wait_for_merges(self, timeout: float | None = None) -> bool:
        return True

    def checkpoint(self) -> None:
        pass

    def close(self) -> None:
        if self._close is not None:
            self._close()


def open_local_shards(
    folder: Path,
    manifest: dict[str, Any],
    shard_folders: Sequence[Path],
    open_shard: Callable[[Path], LiveIndex],
    writable: bool,
) -> ShardedLive:
    """The shards of ``folder``, each opened by ``open_shard`` and served from this process."""
    pool = ThreadPoolExecutor(max_workers=max(4, 2 * len(shard_folders)), thread_name_prefix="shard")
    servers: list[ShardServer] = []
    try:
        for bucket, path in enumerate(shard_folders):
            servers.append(ShardServer(open_shard(path), bucket))
    except BaseException:  # a shard that cannot be opened: the ones opened before it are closed
        for server in servers:
            server.close()
        pool.shutdown(wait=False)
        raise

    def close() -> None:
        for server in servers:
            server.close()
        pool.shutdown(wait=False)

    clients = [LocalShardClient(server, pool) for server in servers]
    return ShardedLive(folder, manifest, clients, writable, close)
