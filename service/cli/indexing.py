"""Commands over an index folder and serving it: index, rebuild, verify, serve."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from corpus.errors import CiteqaError, CorpusError
from service.cli.common import (
    BackendOption,
    ModelOption,
    fail,
    index_settings_from,
    log,
    progress_bar,
    settings_with,
)
from service.cli.report import SkipBadOption, print_ingest_report, with_skip_bad_hint

if TYPE_CHECKING:
    from corpus.types import Document
    from indexer.build import BuildReport, IndexSettings
    from service.settings import Settings


def index(
    corpus: Annotated[
        Path | None, typer.Option(help="documents folder, or a BEIR corpus.jsonl / its folder")
    ] = None,
    index: Annotated[Path | None, typer.Option(help="index folder to write")] = None,
    model: ModelOption = None,
    max_words: Annotated[int | None, typer.Option(help="target passage size in words (default: 120)")] = None,
    overlap_words: Annotated[
        int | None, typer.Option(help="overlap between passages in words (default: 30)")
    ] = None,
    embed_title: Annotated[
        bool | None, typer.Option(help="embed the document title with each passage (default: on)")
    ] = None,
    bm25_title: Annotated[
        bool | None, typer.Option(help="index the document title with each passage in BM25 (default: on)")
    ] = None,
    if_stale: Annotated[bool, typer.Option(help="skip the build when the index is up to date")] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="replace an index that writes have changed (its added documents are dropped)"
        ),
    ] = False,
    index_type: Annotated[
        str | None, typer.Option(help="FAISS index: auto (by size), flat, hnsw or ivf (default: auto)")
    ] = None,
    skip_bad: SkipBadOption = False,
    shards: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="split the index into N shards by a hash of doc_id (a folder per shard; default: as many as "
            "the sharded index already there has)",
        ),
    ] = None,
    engine: Annotated[
        str, typer.Option(help="local (this process) or ray (Ray Data: chunk, embed and write on a cluster)")
    ] = "local",
    address: Annotated[
        str | None, typer.Option(help="Ray cluster address for --engine ray (default: start a local one)")
    ] = None,
) -> None:
    """Build the index folder of a corpus (chunk, embed, FAISS + BM25), replacing the old one atomically.

    A folder's .txt, .md, .html, .pdf, .docx and .jsonl files are read (a NAME.json beside a file is its
    metadata); the files taken and skipped are listed by type, every skip with its reason. A file that
    cannot be read fails the build (exit 2) unless --skip-bad is given.

    An index changed by writes (citeqa add, POST /documents) is not replaced from the corpus unless
    --force is given: with --if-stale it is kept as it is, without it the command refuses."""
    from indexer.staleness import (
        changed_by_writes,
        index_damage,
        index_is_current,
        index_lacks_sentences,
        index_predates_text_rules,
        live_version,
        stored_text_predates_text_rules,
    )

    settings = settings_with(corpus_path=corpus, index_path=index, model=model)
    try:
        index_settings = index_settings_from((max_words, overlap_words, embed_title, bm25_title))
        if index_type is not None:
            from dataclasses import replace

            index_settings = replace(index_settings, index_type=index_type)
        if engine not in ("local", "ray"):
            raise CorpusError(f"unknown engine {engine!r}; use local or ray")
        if engine == "local" and address:
            raise CorpusError(f"--address {address} is for --engine ray; add --engine ray to build on Ray")
        from indexer.index_folder import check_replaceable

        check_replaceable(settings.index_path)  # before any work: a build replaces the folder whole
        shards = shards if shards is not None else shards_of(settings.index_path)
        if shards is not None:
            from indexer.shards import check_shard_count

            check_shard_count(shards)  # before the corpus is read, which may take long
        if engine == "ray":
            if not force:
                settings = set_aside_if_newer(settings)
            build_sharded_on_ray(settings, index_settings, shards or 1, address, if_stale, force, skip_bad)
            return
        documents = read_corpus(settings.corpus_path, skip_bad)
        if not force:
            settings = set_aside_if_newer(settings)
        if shards is not None:
            build_sharded(settings, documents, index_settings, shards, if_stale, force)
            return
        from indexer.errors import IndexMismatchError

        replaced_format1 = format1_replaced_by_force(settings) if force else 0
        if not replaced_format1:
            try:
                upgrade_if_format1(settings)
            except IndexMismatchError as err:
                if not force:
                    raise
                log(f"{err}: replacing it from the corpus (--force)")
        served = replaced_format1 or live_version(settings.index_path)
        if changed_by_writes(settings.index_path) and not force:
            changed = (
                f"index at {settings.index_path} has been changed by writes (version {served}); "
                "rebuilding it from the corpus would drop them"
            )
            if if_stale:
                if damage := index_damage(settings.index_path, settings.model):
                    log(f"{changed}; {damage}: rebuilding it from its stored documents, the writes kept")
                    rebuild_stored(settings)
                    return
                log(f"{changed}: kept as it is (--force replaces it)")
                if missed := stored_text_predates_text_rules(settings.index_path):
                    log(
                        f"index at {settings.index_path} was built before {missed}, and holds such text: "
                        f"`citeqa rebuild --index {settings.index_path}` splits it again, the writes kept"
                    )
                return
            raise CorpusError(
                f"{changed}. Use --force to replace it anyway, or `citeqa rebuild --index "
                f"{settings.index_path}` to rebuild it from its stored documents"
            )
        if if_stale and index_is_current(settings.index_path, documents, settings.model, index_settings):
            log(f"index at {settings.index_path} is up to date ({len(documents)} documents)")
            return
        if (
            if_stale
            and not replaced_format1
            and (damage := index_damage(settings.index_path, settings.model))
        ):
            log(f"{damage}: rebuilding it from the corpus at {settings.corpus_path}")
        if missed := index_predates_text_rules(settings.index_path, documents):
            log(f"index at {settings.index_path} was built before {missed}: rebuilding it")
        if index_lacks_sentences(settings.index_path):
            log(
                f"index at {settings.index_path} stores no sentence vectors (written by an earlier release): "
                "rebuilding it, so that the service embeds nothing at start-up"
            )
        report = build_with_progress(settings, documents, index_settings, served)
        if replaced_format1:  # its writes were dropped with the folder: the journal of them goes too
            from indexer.journal import journal_path

            journal_path(settings.index_path).unlink(missing_ok=True)
    except (CiteqaError, ValueError) as err:
        fail(err)
    typer.echo(
        f"indexed {report.documents} documents into {report.passages} passages in {report.seconds:.1f} s "
        f"({report.passages_per_second:.1f} passages/s) -> {report.path}"
    )


def format1_replaced_by_force(settings: Settings) -> int:
    """For `citeqa index --force` on a format-1 index folder: its version (that of its last write), so
    that the build from the corpus comes one above it, as over a current-format index changed by writes,
    after saying so; 0 when the folder is not in format 1. It is not upgraded first: --force replaces it
    from the corpus, its writes (and those its journal holds) dropped, so an upgrade would embed it twice."""
    from indexer.format1 import is_format1
    from indexer.upgrade import format1_version

    if not is_format1(settings.index_path):
        return 0
    log(
        f"index at {settings.index_path} is in format 1 (one block, before segments): replacing it from the "
        "corpus (--force), not upgrading it; the documents written into it (and its write journal) are"
        " dropped"
    )
    return format1_version(settings.index_path)


def set_aside_if_newer(settings: Settings) -> Settings:
    """An index folder written by a newer citeqa is moved aside, whole (this citeqa cannot read its
    segments, nor tell the documents written into it), before this format is built from the corpus: the
    settings to build with, whose index path is then absolute (a relative one such as ".", from inside
    the folder, would name the moved folder, which the build would replace)."""
    import os

    from indexer.index_folder import FORMAT_VERSION, set_aside_newer
    from indexer.shards import newer_sharded_format

    folder = settings.index_path
    absolute = Path(os.path.abspath(folder))  # before the move, after which "." is the moved folder
    sharded = newer_sharded_format(absolute)
    if moved := set_aside_newer(absolute, sharded[1] if sharded else None):
        aside, version = moved
        why = (
            f"{sharded[0]} has format_version {version}"
            if sharded
            else f"format_version {version}; this citeqa reads up to {FORMAT_VERSION}"
        )
        kind = "sharded index" if sharded else "index"
        log(
            f"{kind} at {folder} was written by a newer citeqa ({why}): moved it aside, whole, to {aside} "
            "(the citeqa that wrote it serves it there, or move it back to use it again), and building this "
            "format from the corpus"
        )
        return settings.model_copy(update={"index_path": absolute})
    return settings


def read_corpus(path: Path, skip_bad: bool) -> list[Document]:
    """The documents of the corpus, after the report of the files read; a file that cannot be read fails
    (with the hint of --skip-bad) unless ``skip_bad``."""
    from corpus.sources import ingest_corpus

    try:
        ingested = ingest_corpus(path, errors="skip" if skip_bad else "raise")
    except CorpusError as err:
        fail(with_skip_bad_hint(err, path, skip_bad))
    print_ingest_report(ingested.report)
    return list(ingested.documents)


def build_with_progress(
    settings: Settings, documents: Sequence[Document], index_settings: IndexSettings, served: int
) -> BuildReport:
    """Build the index folder with a progress bar. Into a segmented index the build is one commit (under
    the write lock) that a service serving the folder opens as its next version."""
    from indexer.build import build_index
    from service.wiring import build_passage_encoder

    encoder = build_passage_encoder(settings)
    with progress_bar("embedding passages and sentences") as bar:

        def on_passages(total: int) -> Callable[[int], None]:
            task = bar.add_task("embed", total=total)
            return lambda n: bar.advance(task, n)

        return build_index(
            documents,
            encoder,
            settings.index_path,
            index_settings,
            str(settings.corpus_path),
            on_passages,
            version=served + 1 if served else 1,
        )


def shards_of(folder: Path) -> int | None:
    """The shard count of the sharded index at ``folder`` (None when it holds none): a build without
    --shards (`make run`) keeps it, rather than replacing the shards, and their writes, with one folder."""
    from indexer.shards import is_sharded, readable_shards_manifest, shard_folders_in

    if not is_sharded(folder):
        return None
    manifest = readable_shards_manifest(folder)
    count = manifest.count if manifest is not None else len(shard_folders_in(folder))
    if not count:
        raise CorpusError(f"{folder} holds no readable sharded index; pass --shards N to build one")
    return count


def kept_for_writes(settings: Settings, if_stale: bool, force: bool) -> bool:
    """Whether an index that writes have changed (sharded or not) stays as it is (with --if-stale; a
    damaged shard is rebuilt from its stored documents, the writes kept, as `make run` does for one
    folder); without --if-stale or --force, refuse to replace it."""
    from indexer.shards import damaged_shards, is_sharded, sharded_changed_by_writes
    from indexer.staleness import changed_by_writes

    folder = settings.index_path
    if force or not (sharded_changed_by_writes(folder) or changed_by_writes(folder)):
        return False
    changed = f"{'sharded index' if is_sharded(folder) else 'index'} at {folder} has been changed by writes"
    if not if_stale:
        raise CorpusError(f"{changed}. Use --force to replace it anyway")
    damaged = damaged_shards(folder, settings.model)
    for shard, damage in damaged:
        log(f"{changed}; {damage}: rebuilding {shard} from its stored documents, the writes kept")
        rebuild_stored(settings.model_copy(update={"index_path": shard}))
    if not damaged:
        log(f"{changed}: kept as it is (--force replaces it)")
    from indexer.shards import shard_folders_in
    from indexer.staleness import stored_text_predates_text_rules

    for shard in shard_folders_in(folder) if is_sharded(folder) else []:
        if missed := stored_text_predates_text_rules(shard):
            log(
                f"shard {shard} was built before {missed}, and holds such text: `citeqa rebuild --index "
                f"{shard}` splits it again, the writes kept"
            )
    return True


def say_current(folder: Path, fingerprint: str, model: str, shards: int, settings: IndexSettings) -> bool:
    """Whether the sharded index is up to date (said); a damaged shard is named, before the rebuild."""
    from indexer.shards import damaged_shards, sharded_is_current

    for _, damage in damaged_shards(folder, model):
        log(f"{damage}: rebuilding the sharded index at {folder} from the corpus")
    if not sharded_is_current(folder, fingerprint, model, shards, settings):
        return False
    log(f"sharded index at {folder} is up to date ({shards} shards)")
    return True


def say_built(documents: int, passages: int, shards: int, engine: str, seconds: float, folder: Path) -> None:
    rate = passages / seconds if seconds > 0 else 0.0
    typer.echo(
        f"indexed {documents} documents into {passages} passages in {shards} shards ({engine}) "
        f"in {seconds:.1f} s ({rate:.1f} passages/s) -> {folder}"
    )


def build_sharded(
    settings: Settings,
    documents: Sequence[Document],
    index_settings: IndexSettings,
    shards: int,
    if_stale: bool,
    force: bool,
) -> None:
    """A sharded build (indexer/shards.py) in this process, replacing the folder at the end."""
    from indexer.shards import build_sharded_index, check_shard_count, corpus_sharded_fingerprint, shard_name
    from service.wiring import build_passage_encoder

    folder = settings.index_path
    check_shard_count(shards)
    if kept_for_writes(settings, if_stale, force):
        return
    fingerprint = corpus_sharded_fingerprint(documents, shards)
    if if_stale and say_current(folder, fingerprint, settings.model, shards, index_settings):
        return
    encoder = build_passage_encoder(settings)
    # One bar a shard (the shards are built one after the other), named, counting what it embeds.
    with progress_bar("embedding passages and sentences of {task.description}") as bar:

        def on_passages(total: int) -> Callable[[int], None]:
            task = bar.add_task(shard_name(len(bar.tasks)), total=total)
            return lambda n: bar.advance(task, n)

        started = time.perf_counter()
        reports = build_sharded_index(
            documents, encoder, folder, shards, index_settings, str(settings.corpus_path), on_passages
        )
    passages = sum(r.passages for r in reports)
    say_built(len(documents), passages, shards, "local", time.perf_counter() - started, folder)


def build_sharded_on_ray(
    settings: Settings,
    index_settings: IndexSettings,
    shards: int,
    address: str | None,
    if_stale: bool,
    force: bool,
    skip_bad: bool,
) -> None:
    """A sharded build on Ray (indexer/ray_corpus.py reads the corpus, indexer/ray_build.py builds)."""
    from indexer.shards import check_shard_count
    from service.wiring import build_backend, build_passage_encoder

    try:
        from indexer.ray_build import build_on_ray, start_ray
        from indexer.ray_corpus import scan_corpus
    except ImportError:
        raise CorpusError("--engine ray needs Ray: pip install 'citeqa[ray]'") from None
    folder = settings.index_path
    check_shard_count(shards)
    if kept_for_writes(settings, if_stale, force):
        return
    start_ray(address)
    try:
        scan = scan_corpus(settings.corpus_path, shards, skip_bad=skip_bad)
    except CorpusError as err:
        raise with_skip_bad_hint(err, settings.corpus_path, skip_bad) from None
    print_ingest_report(scan.report)
    if if_stale and say_current(folder, scan.fingerprint, settings.model, shards, index_settings):
        return
    # Made here first: the ONNX export exists before the actors load it.
    encoder = build_passage_encoder(settings)
    backend = build_backend(settings)
    report = build_on_ray(
        scan,
        settings.model,
        encoder.dimension,
        folder,
        index_settings,
        str(settings.corpus_path),
        backend=backend,
        onnx_cache=Path(settings.onnx_cache_path).resolve(),
    )
    log(f"embedded on {report.embedders} Ray actors ({backend})")
    say_built(report.documents, report.passages, shards, "ray", report.seconds, folder)


def upgrade(
    index: Annotated[Path | None, typer.Option(help="index folder to upgrade")] = None,
    model: ModelOption = None,
) -> None:
    """Upgrade a format-1 index folder (one block) to format 2 (segments) in place, keeping its passage
    vectors and embedding its sentences (format 1 stored none) and the documents its write journal
    changed."""
    settings = settings_with(index_path=index, model=model)
    try:
        if not upgrade_if_format1(settings):
            typer.echo(f"index at {settings.index_path} is already in format 2 (segments)")
    except CiteqaError as err:
        fail(err)


def upgrade_if_format1(settings: Settings) -> bool:
    """Upgrade the configured index folder if it is in format 1, saying so; False if it was not."""
    from indexer.format1 import is_format1
    from indexer.upgrade import upgrade_format1
    from service.wiring import build_passage_encoder

    if not is_format1(settings.index_path):
        return False
    log(
        f"index at {settings.index_path} is in format 1 (one block, before segments): upgrading it to "
        "format 2 in place; its passage vectors are kept and its sentences embedded (format 1 stored none); "
        "only documents its write journal changed are embedded whole"
    )
    report = upgrade_format1(settings.index_path, build_passage_encoder(settings))
    if report.damage is not None:
        log(
            f"{report.damage}: its stored vectors could not be kept, so it was rebuilt from its stored "
            f"documents (documents.jsonl and its write journal): {report.documents} documents, "
            f"{report.passages} passages embedded, index version {report.version}"
        )
        return True
    log(
        f"upgraded {report.path}: {report.documents} documents, {report.passages} passages, index version "
        f"{report.version} ({report.embedded_passages} passages embedded for journal writes)"
    )
    return True


def rebuild(
    index: Annotated[Path | None, typer.Option(help="index folder to rebuild")] = None,
    model: ModelOption = None,
) -> None:
    """Rebuild an index folder from its stored documents (each segment's documents table): for a damaged
    index file."""
    settings = settings_with(index_path=index, model=model)
    try:
        rebuild_stored(settings)
    except CiteqaError as err:
        fail(err)


def rebuild_stored(settings: Settings) -> None:
    """`citeqa rebuild`: the index rebuilt in place from its stored documents, with the configured model;
    a sharded index, each shard in turn (every shard's documents read before any is rebuilt)."""
    from indexer.recover import rebuild_from_stored, stored_documents
    from indexer.shards import is_sharded, read_shards_manifest
    from service.wiring import build_passage_encoder

    folders = [settings.index_path]
    if is_sharded(settings.index_path):
        shards = read_shards_manifest(settings.index_path)
        if settings.model != shards.model_name:
            raise CorpusError(
                f"the shards of {settings.index_path} hold vectors of {shards.model_name}, not "
                f"{settings.model}: rebuild them with their own model, `citeqa rebuild --index "
                f"{settings.index_path} --model {shards.model_name}`, or the whole index from the corpus "
                f"with {settings.model}: `citeqa index --shards {shards.count} "
                f"--index {settings.index_path} --model {settings.model} --force`"
            )
        folders = shards.shard_folders
    for folder in folders:
        stored_documents(folder)  # damage to the documents themselves is said before any work
    encoder = build_passage_encoder(settings)
    for folder in folders:
        result = rebuild_from_stored(folder, encoder)
        typer.echo(
            f"rebuilt {folder} from {len(result.doc_ids)} stored documents "
            f"({result.embedded_passages} passages) as index version {result.index_version}"
        )


def verify(index: Annotated[Path | None, typer.Option(help="index folder to check")] = None) -> None:
    """Check every index file against its sha256 in the manifest (the service may skip this at start-up:
    CITEQA_INDEX_CHECKSUMS=false); a sharded index, every shard."""
    from indexer.errors import IndexMismatchError
    from indexer.shards import in_shard, is_sharded, read_shards_manifest

    settings = settings_with(index_path=index)
    try:
        if not is_sharded(settings.index_path):
            typer.echo(verified_folder(settings.index_path))
            return
        shards = read_shards_manifest(settings.index_path)
    except CiteqaError as err:
        fail(err)
    damaged = 0
    for shard in shards.shard_folders:
        try:
            typer.echo(verified_folder(shard, shards.model_name))
        except IndexMismatchError as err:
            damaged += 1
            log(f"error: {in_shard(err, shard, settings.index_path)}")
        except CiteqaError as err:
            damaged += 1
            log(f"error: {err}")
    if damaged:
        fail(
            CorpusError(
                f"{damaged} of {shards.count} shards of {settings.index_path} failed the check (above)"
            )
        )
    typer.echo(f"all {shards.count} shards of {settings.index_path} pass")


def verified_folder(folder: Path, model: str | None = None) -> str:
    """What `citeqa verify` says of one index folder whose every check passed (else CiteqaError): the
    checksums, then what the service checks beyond them (each FAISS file's dimension, the counts, the
    tables, and the model a shard must share with its sharded index)."""
    from indexer.index_folder import read_manifest, verify_files
    from indexer.load import load_index

    manifest = read_manifest(folder)
    verify_files(folder, manifest, checksums=True)
    opened = load_index(folder, expected_model=model, mmap=True, checksums=False)
    return (
        f"{len(manifest.get('files', {}))} files match their checksums in {folder}; its commit opens "
        f"({len(opened.documents)} documents, {len(opened.passages)} passages)"
    )


def serve(
    host: Annotated[
        str | None,
        typer.Option(help="interface to bind (default: CITEQA_HOST, 127.0.0.1; 0.0.0.0: every interface)"),
    ] = None,
    port: Annotated[int | None, typer.Option(help="port to listen on (default: CITEQA_PORT, 8000)")] = None,
    index: Annotated[
        Path | None, typer.Option(help="index folder to serve (default: CITEQA_INDEX_PATH, var/index)")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1, help="worker processes; each loads the model and index once (default: CITEQA_WORKERS, 1)"
        ),
    ] = None,
    backend: BackendOption = None,
    threads: Annotated[
        int | None,
        typer.Option(
            help="encoder threads per process, 1 to 256 (default: CITEQA_THREADS, cores // workers)"
        ),
    ] = None,
    engine: Annotated[
        str, typer.Option(help="local (uvicorn in this process) or ray (Ray Serve, for a sharded index)")
    ] = "local",
    address: Annotated[
        str | None, typer.Option(help="Ray cluster address for --engine ray (default: start a local one)")
    ] = None,
    replicas: Annotated[int, typer.Option(min=1, help="replicas per shard with --engine ray")] = 1,
) -> None:
    """Serve the HTTP API (FastAPI on uvicorn, or on Ray Serve with --engine ray)."""
    import uvicorn

    from service.app import create_app
    from service.requestlog import configure_json_logging

    configure_json_logging()
    settings = settings_with(
        host=host, port=port, index_path=index, backend=backend, threads=threads, workers=workers
    )
    if settings.require_key_for_reads and not settings.api_keys:
        # Served, every read would answer 403 while /ready said ready (found by the operations probe).
        fail(
            ValueError(
                "CITEQA_REQUIRE_KEY_FOR_READS is on but CITEQA_API_KEYS holds no key, so every read would be "
                "refused: set CITEQA_API_KEYS (comma-separated), or turn CITEQA_REQUIRE_KEY_FOR_READS off"
            )
        )
    check_can_listen(settings.host, settings.port)  # before the model and the index take their seconds
    if engine not in ("local", "ray"):
        fail(CorpusError(f"unknown engine {engine!r}; use local or ray"))
    if ignored := options_the_engine_ignores(engine, settings.workers, replicas, address):
        fail(CorpusError(ignored))
    try:  # after the options are checked: the upgrade embeds, and the release that wrote it cannot go back
        upgrade_if_format1(settings)
    except CiteqaError as err:
        fail(err)
    if engine == "ray":
        serve_ray(settings, address, replicas)
        return
    if settings.workers > 1:
        serve_workers(settings, index, settings.workers)
        return
    from indexer.shards import is_sharded

    if is_sharded(settings.index_path):  # every shard served from this process
        try:
            from service.wiring import build_sharded

            opened = build_sharded(settings)  # a shard that cannot be opened fails here, not in uvicorn
        except CiteqaError as err:
            fail(err)
        app = create_app(settings, open_sharded=lambda: opened)
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            log_config=None,
            timeout_graceful_shutdown=settings.shutdown_grace_seconds,
        )
        return
    try:
        from service.wiring import build_answerer, build_live

        answerer = build_answerer(settings)
        live = build_live(settings, answerer)
    except CiteqaError as err:
        fail(err)
    app = create_app(settings, answerer=answerer, live=live)
    del answerer  # held here while uvicorn runs, it kept the commit served at start (see create_app)
    # log_config=None keeps the JSON logging set up above (uvicorn would replace it with its own).
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
    )


def options_the_engine_ignores(engine: str, workers: int, replicas: int, address: str | None) -> str | None:
    """What `citeqa serve` would silently leave unused with this engine, said as the fix (None: nothing)."""
    if engine == "ray" and workers > 1:
        return (
            f"--workers {workers} (or CITEQA_WORKERS) is for --engine local; Ray Serve runs replicas of each "
            "shard instead: use --replicas N"
        )
    if engine == "local" and (replicas > 1 or address):
        given = f"--replicas {replicas}" if replicas > 1 else f"--address {address}"
        return f"{given} is for --engine ray; add --engine ray, or use --workers N to serve from N processes"
    return None


def check_can_listen(host: str, port: int) -> None:
    """Fail with one line naming the address, what is wrong and what to change when ``host:port`` cannot
    be listened on (bound as uvicorn binds it). Before, uvicorn found out after the model and the index
    were loaded and ended with exit code 3 among its JSON log lines ('[Errno -2] Name or service not
    known' did not even name the host)."""
    import errno
    import socket

    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except socket.gaierror as err:
        reason = (
            f"{host!r} is neither an IP address nor a name this machine resolves ({err.strerror}); "
            "fix --host or CITEQA_HOST (127.0.0.1: this machine only, 0.0.0.0: every interface)"
        )
    except OSError as err:
        if err.errno == errno.EADDRINUSE:
            reason = (
                "the address is in use (another process listens there, perhaps another citeqa serve): "
                "stop it, or choose another port with --port or CITEQA_PORT"
            )
        elif err.errno == errno.EADDRNOTAVAIL:
            reason = (
                f"no interface of this machine has the address {host}; use 127.0.0.1 (this machine only), "
                "0.0.0.0 (every interface) or one of its addresses, with --host or CITEQA_HOST"
            )
        elif err.errno == errno.EACCES:
            reason = (
                "permission denied (ports below 1024 need privileges): choose a port from 1024 up with "
                "--port or CITEQA_PORT"
            )
        else:
            reason = f"{err.strerror or err}; fix --host or --port (CITEQA_HOST, CITEQA_PORT)"
    else:
        return
    fail(ValueError(f"cannot listen on {shown}: {reason}"))


def serve_ray(settings: Settings, address: str | None, replicas: int) -> None:
    try:
        from service.ray_engine.run import serve_on_ray
    except ImportError:
        fail(CorpusError("--engine ray needs Ray: pip install 'citeqa[ray]'"))
    try:
        serve_on_ray(settings, address, replicas)
    except CiteqaError as err:
        fail(err)


def serve_workers(settings: Settings, index: Path | None, workers: int) -> None:
    """uvicorn's process manager over an import string: the workers read their settings from CITEQA_*."""
    import os

    import uvicorn

    from indexer.load import load_index
    from indexer.shards import is_sharded
    from service.wiring import check_shards, shards_manifest
    from service.workers import WORKER_APP

    try:  # fail fast, before forking
        if is_sharded(settings.index_path):
            check_shards(settings, shards_manifest(settings))
        else:
            load_index(settings.index_path, expected_model=settings.model)
    except CiteqaError as err:
        fail(err)
    if index is not None:
        os.environ["CITEQA_INDEX_PATH"] = str(index.resolve())
    # Each worker splits the cores with the others (see indexer.backends): it reads these at start.
    os.environ["CITEQA_WORKERS"] = str(workers)
    os.environ["CITEQA_BACKEND"] = settings.backend
    if settings.threads is not None:
        os.environ["CITEQA_THREADS"] = str(settings.threads)
    uvicorn.run(
        WORKER_APP,
        factory=True,
        workers=workers,
        host=settings.host,
        port=settings.port,
        log_config=None,
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
    )
