"""What routes get from the app, as ``Annotated`` dependencies: the state the lifespan loads (see
service.app), the settings and the metrics. Routes read the app only through these. The getters are
``async def`` although they do not wait: FastAPI would run a plain ``def`` in a worker thread, one hop
per dependency per request."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated

from anyio import CapacityLimiter
from fastapi import Depends, Request

from citeqa.answers import Answerer
from citeqa.search import Searcher
from corpus.types import Document
from indexer.live import LiveIndex
from indexer.load import LoadedIndex
from service.admission import QueryGate
from service.metrics import ServiceMetrics
from service.response_cache import ResponseCache
from service.settings import Settings
from service.writes import WRITE_THREADS, WriteLimits


@dataclass
class AppState:
    """The live index and the answerer of its current snapshot. A request reads ``answerer`` once and uses
    only that: one index version per response, whatever writes land meanwhile. ``responses`` is keyed by
    index version, so a write never lets an older answer out. ``writes`` limits the threads the write
    requests take (service.writes.WRITE_THREADS), apart from those of every other route."""

    live: LiveIndex
    make_answerer: Callable[[LoadedIndex], Answerer]
    latest: tuple[LoadedIndex, Answerer]
    responses: ResponseCache
    gate: QueryGate
    writes: CapacityLimiter = field(default_factory=lambda: CapacityLimiter(WRITE_THREADS))

    @property
    def answerer(self) -> Answerer:
        return self.answerer_of(self.live.current)

    def answerer_at_least(self, version: int) -> Answerer:
        """The answerer of the current commit, which holds index version ``version`` or a later one (a
        client that wrote ``version`` reads its write; VersionNotReachedError if no commit has it)."""
        return self.answerer_of(self.live.at_least(version) if version else self.live.current)

    def answerer_of(self, index: LoadedIndex) -> Answerer:
        latest = self.latest
        if latest[0] is not index:
            latest = (index, self.make_answerer(index))
            self.latest = latest  # one assignment: a concurrent reader sees the old or the new pair
        return latest[1]

    @property
    def searcher(self) -> Searcher:
        return self.answerer.searcher


async def get_state(request: Request) -> AppState:
    return request.app.state.citeqa


async def get_loaded_state(request: Request) -> AppState | None:
    """The state, or None before the lifespan has loaded the index (for the readiness probe)."""
    return getattr(request.app.state, "citeqa", None)


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_metrics(request: Request) -> ServiceMetrics:
    return request.app.state.metrics


StateDep = Annotated[AppState, Depends(get_state)]
LoadedStateDep = Annotated[AppState | None, Depends(get_loaded_state)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
MetricsDep = Annotated[ServiceMetrics, Depends(get_metrics)]


async def get_answerer(state: StateDep) -> Answerer:
    return state.answerer


async def get_searcher(state: StateDep) -> Searcher:
    return state.searcher


async def get_responses(state: StateDep) -> ResponseCache:
    return state.responses


async def get_gate(state: StateDep) -> QueryGate:
    return state.gate


async def get_live(state: StateDep) -> LiveIndex:
    return state.live


async def get_write_threads(state: StateDep) -> CapacityLimiter:
    return state.writes


async def get_write_limits(settings: SettingsDep) -> WriteLimits:
    return WriteLimits(settings.max_document_chars, settings.max_bulk_documents)


AnswererDep = Annotated[Answerer, Depends(get_answerer)]
SearcherDep = Annotated[Searcher, Depends(get_searcher)]
ResponsesDep = Annotated[ResponseCache, Depends(get_responses)]
GateDep = Annotated[QueryGate, Depends(get_gate)]
LiveDep = Annotated[LiveIndex, Depends(get_live)]
WriteLimitsDep = Annotated[WriteLimits, Depends(get_write_limits)]
WriteThreadsDep = Annotated[CapacityLimiter, Depends(get_write_threads)]


async def get_documents(searcher: SearcherDep) -> Mapping[str, Document]:
    """The documents of the current index snapshot, by doc_id."""
    return searcher.index.documents


DocumentsDep = Annotated[Mapping[str, Document], Depends(get_documents)]
