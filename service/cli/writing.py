"""Commands that change an index: add and remove documents, in the index folder or through a running
service (--url)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from corpus.errors import CiteqaError, CorpusError
from service.cli.common import fail, index_or_url, no_answer, progress_bar, settings_with
from service.cli.report import SkipBadOption, print_ingest_report, with_skip_bad_hint

if TYPE_CHECKING:
    from citeqa.client import CiteqaClient, WriteInfo
    from citeqa.sharded.local import ShardedLive
    from indexer.live import LiveIndex, WriteResult
    from service.settings import Settings

UrlOption = Annotated[
    str | None, typer.Option(help="send the write to the service at this URL instead of the index folder")
]
KeyOption = Annotated[str | None, typer.Option(envvar="CITEQA_API_KEY", help="API key for --url")]
ADD_BATCH = 32
WRITE_TIMEOUT = 600.0
WRITE_MAY_LAND = "the write may still be made: see GET /documents before sending it again"


def add(
    paths: Annotated[
        list[Path], typer.Argument(help=".txt, .md, .html, .pdf, .docx, .jsonl files or folders")
    ],
    index: Annotated[Path | None, typer.Option(help="index folder to add to")] = None,
    url: UrlOption = None,
    key: KeyOption = None,
    skip_bad: SkipBadOption = False,
) -> None:
    """Add (or replace, by doc_id) documents: into the index folder, or through a running service (--url).

    Files are read as `citeqa index` reads them, with the same report of the files taken and skipped by
    type; a file that cannot be read fails the command (nothing is added) unless --skip-bad is given."""
    from corpus.ingest import ingest_paths

    index_or_url(index, url)
    require_key(url, key)  # before reading the files, which may take long
    try:
        ingested = ingest_paths(paths, errors="skip" if skip_bad else "raise")
    except CorpusError as err:
        fail(err if not all(p.exists() for p in paths) else with_skip_bad_hint(err, paths[0], skip_bad))
    print_ingest_report(ingested.report)
    documents = list(ingested.documents)
    batches = [documents[i : i + ADD_BATCH] for i in range(0, len(documents), ADD_BATCH)]
    version = 0
    with progress_bar("adding documents") as bar:
        task = bar.add_task("add", total=len(documents))
        if url:
            for batch in batches:
                version = send_write(url, key, lambda client, b=batch: client.add(b))
                bar.advance(task, len(batch))
        else:
            with open_live_index(index) as live:
                for batch in batches:
                    version = run_write(lambda b=batch: live.put(b))
                    bar.advance(task, len(batch))
    typer.echo(f"added {len(documents)} documents; index version {version}")


def remove(
    doc_ids: Annotated[list[str], typer.Argument(help="doc_ids of the documents to remove")],
    index: Annotated[Path | None, typer.Option(help="index folder to remove from")] = None,
    url: UrlOption = None,
    key: KeyOption = None,
) -> None:
    """Remove documents: from the index folder, or through a running service (--url)."""
    index_or_url(index, url)
    if url:
        version = send_write(url, key, lambda client: client.remove(doc_ids))
    else:
        with open_live_index(index) as live:
            version = run_write(lambda: live.delete(doc_ids))
    typer.echo(f"removed {len(set(doc_ids))} documents; index version {version}")


def run_write(write: Callable[[], WriteResult]) -> int:
    try:
        return write().index_version
    except CiteqaError as err:
        fail(err)


@contextmanager
def open_live_index(index: Path | None) -> Iterator[LiveIndex]:
    """The index folder opened for writing (checked before the model loads). Each write is one commit under
    the index's write lock, so this works beside a service that serves (and writes) the same folder; merges
    are left to the service, or to the next writer."""
    from indexer.live import LiveIndex
    from indexer.load import load_index
    from service.wiring import build_passage_encoder

    settings = settings_with(index_path=index)
    from indexer.shards import is_sharded, sharded_index_holding

    if (whole := sharded_index_holding(settings.index_path)) is not None:
        fail(
            CorpusError(
                f"{settings.index_path} is a shard of the sharded index at {whole}: write with --index "
                f"{whole}, which puts each document in the shard its doc_id hashes to"
            )
        )
    if is_sharded(settings.index_path):  # each write goes to the shard its doc_id hashes to
        with open_sharded_for_writes(settings) as sharded:
            yield sharded  # type: ignore[misc]
        return
    try:
        loaded = load_index(settings.index_path, settings.model, checksums=False)
        encoder = build_passage_encoder(settings)
        live = LiveIndex.open(settings.index_path, encoder, index=loaded, background_merges=False)
    except CiteqaError as err:
        fail(err)
    try:
        yield live
    finally:
        live.close()


@contextmanager
def open_sharded_for_writes(settings: Settings) -> Iterator[ShardedLive]:
    from citeqa.sharded.local import open_local_shards
    from indexer.errors import IndexMismatchError
    from indexer.live import LiveIndex
    from indexer.shards import in_shard
    from service.wiring import build_passage_encoder, shards_manifest

    try:
        manifest = shards_manifest(settings)
        encoder = build_passage_encoder(settings)

        def open_shard(folder: Path) -> LiveIndex:
            try:
                return LiveIndex.open(
                    folder, encoder, settings.model, checksums=False, background_merges=False
                )
            except IndexMismatchError as err:
                raise in_shard(err, folder, manifest.folder) from None

        live = open_local_shards(manifest.folder, manifest.data, manifest.shard_folders, open_shard, True)
    except CiteqaError as err:
        fail(err)
    try:
        yield live
    finally:
        live.close()


def require_key(url: str | None, key: str | None) -> None:
    """A write through a service (--url) needs an API key: said at once."""
    if url and not key:
        fail(ValueError("--url needs an API key: pass --key or set CITEQA_API_KEY"))


def send_write(url: str, key: str | None, write: Callable[[CiteqaClient], WriteInfo]) -> int:
    """One write through a running service (citeqa.client); its answer's index_version, or a clear
    failure."""
    import httpx

    from citeqa.client import CiteqaClient, CiteqaClientError

    require_key(url, key)
    try:
        with CiteqaClient(url, api_key=key, timeout=WRITE_TIMEOUT) as client:
            return write(client).index_version
    except CiteqaClientError as err:
        fail(ValueError(f"the service refused ({err.status}): {err.message}"))
    except httpx.TimeoutException as err:
        fail(ValueError(no_answer(url, err, WRITE_TIMEOUT, WRITE_MAY_LAND)))
    except httpx.HTTPError as err:
        fail(ValueError(f"cannot reach the service at {url}: {err}"))
