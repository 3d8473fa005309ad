"""Shards on Ray Serve as the gatherer's ShardClient (citeqa.sharded.gather): each call goes to one replica
of the shard's deployment; a call whose replica died is sent again (to another replica, or the one Serve
starts in its place), so losing a replica loses no request while the shard has another."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ray.exceptions import ActorDiedError, ActorUnavailableError, RayActorError, RayTaskError
from ray.serve.handle import DeploymentHandle

from citeqa.sharded.messages import ShardCandidates, ShardQuery, ShardState, ShardStats
from corpus.types import Document
from indexer.live import WriteResult

CALL_ATTEMPTS = 4
LOST_REPLICA = (ActorDiedError, ActorUnavailableError, RayActorError)


class RayCall:
    """One call to a shard deployment, sent at once, waited for in ``result``."""

    def __init__(self, handle: DeploymentHandle, method: str, args: tuple[Any, ...]) -> None:
        self._handle, self._method, self._args = handle, method, args
        self._response = self._send()

    def _send(self) -> Any:
        return getattr(self._handle, self._method).remote(*self._args)

    def result(self) -> Any:
        for attempt in range(CALL_ATTEMPTS):
            try:
                # The service runs its routes' work in threads, and asks these from its event loop only
                # for cheap calls; the handle's router runs on its own loop.
                return self._response.result(_skip_asyncio_check=True)
            except RayTaskError as err:  # the shard raised: the caller sees the shard's own error
                cause = getattr(err, "cause", None)
                raise (cause if isinstance(cause, BaseException) else err) from None
            except LOST_REPLICA:
                if attempt == CALL_ATTEMPTS - 1:
                    raise
                self._response = self._send()
        raise AssertionError("unreachable")


class RayShardClient:
    def __init__(self, handle: DeploymentHandle, bucket: int) -> None:
        self.handle = handle
        self.bucket = bucket

    def _call(self, method: str, *args: Any) -> RayCall:
        return RayCall(self.handle, method, args)

    def state(self) -> RayCall:
        return self._call("state")

    def stats(self, terms: Sequence[str]) -> RayCall:
        return self._call("stats", list(terms))

    def candidates(self, query: ShardQuery) -> RayCall:
        return self._call("candidates", query)

    def document(self, doc_id: str) -> RayCall:
        return self._call("document", doc_id)

    def doc_ids(self) -> RayCall:
        return self._call("doc_ids")

    def put(self, documents: Sequence[Document], max_chars: int, max_documents: int) -> RayCall:
        return self._call("put", list(documents), max_chars, max_documents)

    def delete(self, doc_ids: Sequence[str]) -> RayCall:
        return self._call("delete", list(doc_ids))

    def rebuild(self) -> RayCall:
        return self._call("rebuild")

    def at_least(self, version: int) -> RayCall:
        return self._call("at_least", version)


__all__ = ["RayShardClient", "ShardCandidates", "ShardState", "ShardStats", "WriteResult"]
