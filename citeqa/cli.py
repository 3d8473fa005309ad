"""The citeqa command line: index, serve, ask, eval. Settings are read here, at the edge."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from citeqa.types import SEARCH_MODES
from corpus.errors import CiteqaError, CorpusError

app = typer.Typer(help="citeqa: questions in, passages with exact citations out.", no_args_is_help=True)
console = Console(stderr=True)

# Options shared by several commands.
ModelOption = Annotated[str | None, typer.Option(help="sentence-transformers model name or path")]
BackendOption = Annotated[
    str | None, typer.Option(help="question encoder backend: torch, onnx or onnx-int8 (CITEQA_BACKEND)")
]
CacheDirOption = Annotated[Path, typer.Option(help="embedding cache folder")]
FoldsOption = Annotated[int, typer.Option(help="number of folds")]
SeedOption = Annotated[int, typer.Option(help="seed of the fold shuffle")]
DEFAULT_CACHE_DIR = Path("var/cache/embeddings")


def fail(error: Exception) -> None:
    console.print(f"[red]error:[/red] {error}")
    raise typer.Exit(code=2)


def settings_with(**overrides: object):
    from service.settings import Settings

    return Settings(**{k: v for k, v in overrides.items() if v is not None})


@app.command()
def index(
    corpus: Annotated[
        Path | None, typer.Option(help="documents folder, or a BEIR corpus.jsonl / its folder")
    ] = None,
    index: Annotated[Path | None, typer.Option(help="index folder to write")] = None,
    model: ModelOption = None,
    max_words: Annotated[int | None, typer.Option(help="target passage size in words [default: 120]")] = None,
    overlap_words: Annotated[
        int | None, typer.Option(help="overlap between passages in words [default: 30]")
    ] = None,
    embed_title: Annotated[
        bool | None, typer.Option(help="embed the document title with each passage [default: on]")
    ] = None,
    bm25_title: Annotated[
        bool | None, typer.Option(help="index the document title with each passage in BM25 [default: on]")
    ] = None,
    if_stale: Annotated[bool, typer.Option(help="skip the build when the index is up to date")] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="replace an index that writes have changed (its added documents are dropped)"
        ),
    ] = False,
    index_type: Annotated[
        str | None, typer.Option(help="FAISS index: auto (by size), flat, hnsw or ivf [default: auto]")
    ] = None,
) -> None:
    """Build the index folder of a corpus (chunk, embed, FAISS + BM25), replacing the old one atomically.

    An index changed by writes (citeqa add, POST /documents) is not replaced from the corpus unless
    --force is given: with --if-stale it is kept as it is, without it the command refuses."""
    from corpus.sources import load_corpus
    from indexer.build import build_index
    from indexer.embedding import SentenceTransformerEncoder
    from indexer.journal import Journal, journal_path
    from indexer.staleness import index_is_current, live_version

    settings = settings_with(corpus_path=corpus, index_path=index, model=model)
    try:
        index_settings = index_settings_from((max_words, overlap_words, embed_title, bm25_title))
        if index_type is not None:
            from dataclasses import replace

            index_settings = replace(index_settings, index_type=index_type)
        documents = load_corpus(settings.corpus_path)
        served = live_version(settings.index_path)
        if served > 1 and not force:
            changed = (
                f"index at {settings.index_path} has been changed by writes (version {served}); "
                "rebuilding it from the corpus would drop them"
            )
            if if_stale:
                console.print(f"{changed}: kept as it is (--force replaces it)")
                return
            raise CorpusError(
                f"{changed}. Use --force to replace it anyway, or `citeqa rebuild --index "
                f"{settings.index_path}` to rebuild it from its stored documents"
            )
        if if_stale and index_is_current(settings.index_path, documents, settings.model, index_settings):
            console.print(f"index at {settings.index_path} is up to date ({len(documents)} documents)")
            return
        # The journal lock: refuse while a service writes this index; the new build holds what the old
        # journal led to, so its entries are dropped after the swap.
        journal = Journal(journal_path(settings.index_path), "a running service")
        encoder = SentenceTransformerEncoder(settings.model)
        with Progress(
            TextColumn("embedding passages"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
        ) as bar:

            def on_passages(total: int):
                task = bar.add_task("embed", total=total)
                return lambda n: bar.advance(task, n)

            try:
                report = build_index(
                    documents,
                    encoder,
                    settings.index_path,
                    index_settings,
                    str(settings.corpus_path),
                    on_passages,
                    version=served + 1 if served else 1,
                )
                journal.trim(served + 1)
            finally:
                journal.close()
    except (CiteqaError, ValueError) as err:
        fail(err)
    typer.echo(
        f"indexed {report.documents} documents into {report.passages} passages in {report.seconds:.1f} s "
        f"({report.passages_per_second:.1f} passages/s) -> {report.path}"
    )


UrlOption = Annotated[
    str | None, typer.Option(help="send the write to the service at this URL instead of the index folder")
]
KeyOption = Annotated[
    str | None, typer.Option(envvar="CITEQA_API_KEY", help="API key for --url [env: CITEQA_API_KEY]")
]
ADD_BATCH = 32


@app.command()
def add(
    paths: Annotated[list[Path], typer.Argument(help=".txt, .md, .html, .jsonl files or folders")],
    index: Annotated[Path | None, typer.Option(help="index folder to add to")] = None,
    url: UrlOption = None,
    key: KeyOption = None,
) -> None:
    """Add (or replace, by doc_id) documents: into the index folder, or through a running service (--url)."""
    from corpus.ingest import documents_from_paths
    from indexer.index_folder import document_record

    try:
        documents = documents_from_paths(paths)
    except CiteqaError as err:
        fail(err)
    batches = [documents[i : i + ADD_BATCH] for i in range(0, len(documents), ADD_BATCH)]
    version = 0
    with Progress(
        TextColumn("adding documents"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("add", total=len(documents))
        if url:
            for batch in batches:
                records = [document_record(d) for d in batch]
                body = {"documents": [{k: v for k, v in r.items() if k != "provenance"} for r in records]}
                version = send_write(url, key, "POST", "/documents", body)
                bar.advance(task, len(batch))
        else:
            with open_live_index(index) as live:
                for batch in batches:
                    version = run_write(lambda b=batch: live.put(b))
                    bar.advance(task, len(batch))
    typer.echo(f"added {len(documents)} documents; index version {version}")


@app.command()
def remove(
    doc_ids: Annotated[list[str], typer.Argument(help="doc_ids of the documents to remove")],
    index: Annotated[Path | None, typer.Option(help="index folder to remove from")] = None,
    url: UrlOption = None,
    key: KeyOption = None,
) -> None:
    """Remove documents: from the index folder, or through a running service (--url)."""
    if url:
        version = 0
        for doc_id in doc_ids:
            version = send_write(url, key, "DELETE", f"/documents/{doc_id}", None)
    else:
        with open_live_index(index) as live:
            version = run_write(lambda: live.delete(doc_ids))
    typer.echo(f"removed {len(doc_ids)} documents; index version {version}")


def run_write(write) -> int:
    try:
        return write().index_version
    except CiteqaError as err:
        fail(err)
    return 0


@contextmanager
def open_live_index(index: Path | None) -> Iterator:
    """The index folder opened for writing (journal locked first, before the model loads); closed with a
    checkpoint."""
    from indexer.embedding import SentenceTransformerEncoder
    from indexer.journal import Journal, journal_path
    from indexer.live import LiveIndex

    settings = settings_with(index_path=index)
    holder = "a running service (or another citeqa command)"
    try:
        Journal(journal_path(settings.index_path), holder).close()
        encoder = SentenceTransformerEncoder(settings.model)
        live = LiveIndex.open(settings.index_path, encoder, settings.model, holder=holder)
    except CiteqaError as err:
        fail(err)
    try:
        yield live
    finally:
        live.close()


def send_write(url: str, key: str | None, method: str, path: str, body: dict | None) -> int:
    """One write request to a running service; its answer's index_version, or a clear failure."""
    import httpx

    if not key:
        fail(ValueError("--url needs an API key: pass --key or set CITEQA_API_KEY"))
    try:
        response = httpx.request(
            method, url.rstrip("/") + path, json=body, headers={"Authorization": f"Bearer {key}"}, timeout=600
        )
    except httpx.HTTPError as err:
        fail(ValueError(f"cannot reach the service at {url}: {err}"))
    payload = (
        response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
    )
    if response.status_code != 200:
        fail(
            ValueError(
                f"the service refused ({response.status_code}): {payload.get('message', response.text)}"
            )
        )
    return int(payload["index_version"])


@app.command()
def rebuild(
    index: Annotated[Path | None, typer.Option(help="index folder to rebuild")] = None,
    model: ModelOption = None,
) -> None:
    """Rebuild an index folder from its stored documents (and write journal): for a damaged index file."""
    from indexer.embedding import SentenceTransformerEncoder
    from indexer.recover import rebuild_from_stored, stored_documents

    settings = settings_with(index_path=index, model=model)
    try:
        stored_documents(settings.index_path)  # damage to the documents themselves is said before any work
        result = rebuild_from_stored(settings.index_path, SentenceTransformerEncoder(settings.model))
    except CiteqaError as err:
        fail(err)
    typer.echo(
        f"rebuilt {settings.index_path} from {len(result.doc_ids)} stored documents "
        f"({result.embedded_passages} passages) as index version {result.index_version}"
    )


@app.command()
def verify(index: Annotated[Path | None, typer.Option(help="index folder to check")] = None) -> None:
    """Check every index file against its sha256 in the manifest (the service may skip this at start-up:
    CITEQA_INDEX_CHECKSUMS=false)."""
    from indexer.index_folder import read_manifest, verify_files

    settings = settings_with(index_path=index)
    try:
        manifest = read_manifest(settings.index_path)
        verify_files(settings.index_path, manifest, checksums=True)
    except CiteqaError as err:
        fail(err)
    typer.echo(f"{len(manifest.get('files', {}))} files match their checksums in {settings.index_path}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="interface to bind")] = None,
    port: Annotated[int | None, typer.Option(help="port")] = None,
    index: Annotated[Path | None, typer.Option(help="index folder to serve")] = None,
    workers: Annotated[
        int, typer.Option(min=1, help="worker processes; each loads the model and index once")
    ] = 1,
    backend: BackendOption = None,
    threads: Annotated[
        int | None, typer.Option(help="encoder threads per process (default: cores // workers)")
    ] = None,
) -> None:
    """Serve the HTTP API (FastAPI on uvicorn)."""
    import uvicorn

    from service.app import create_app
    from service.requestlog import configure_json_logging

    configure_json_logging()
    settings = settings_with(
        host=host, port=port, index_path=index, backend=backend, threads=threads, workers=workers
    )
    if workers > 1:
        if settings.api_keys:
            fail(
                ValueError(
                    "writes need one process that owns the index journal: serve with --workers 1 "
                    "when CITEQA_API_KEYS is set"
                )
            )
        serve_workers(settings, index, workers)
        return
    try:
        from service.wiring import build_answerer, build_live

        answerer = build_answerer(settings)
        live = build_live(settings, answerer)
    except CiteqaError as err:
        fail(err)
    # log_config=None keeps the JSON logging set up above (uvicorn would replace it with its own).
    uvicorn.run(
        create_app(settings, answerer=answerer, live=live),
        host=settings.host,
        port=settings.port,
        log_config=None,
    )


def serve_workers(settings, index: Path | None, workers: int) -> None:
    """uvicorn's process manager over an import string: the workers read their settings from CITEQA_*."""
    import os

    import uvicorn

    from indexer.load import load_index
    from service.workers import WORKER_APP

    try:
        load_index(settings.index_path, expected_model=settings.model)  # fail fast, before forking
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
        WORKER_APP, factory=True, workers=workers, host=settings.host, port=settings.port, log_config=None
    )


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="the question")],
    k: Annotated[int, typer.Option("--k", "-k", help="how many passages", min=1, max=50)] = 5,
    mode: Annotated[str, typer.Option(help=f"one of {', '.join(SEARCH_MODES)}")] = "hybrid",
    index: Annotated[Path | None, typer.Option(help="index folder")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the API's JSON body")] = False,
) -> None:
    """Ask a question of the index, in process: the answer sentence (or that the corpus has none), then the
    ranked passages with their citations and the answering sentences marked (bold on a terminal, »…«
    otherwise)."""
    from rich.text import Text

    from citeqa.render import marked_segments, plain_marked
    from service.app import run_query
    from service.wiring import build_answerer

    settings = settings_with(index_path=index)
    try:
        response = run_query(build_answerer(settings), question, k, mode)  # type: ignore[arg-type]
    except CiteqaError as err:
        fail(err)
    if as_json:
        typer.echo(json.dumps(response.model_dump(), indent=2, ensure_ascii=False))
        return
    tty = sys.stdout.isatty()
    out = Console(highlight=False, force_terminal=tty)
    state = "yes" if response.answerable else "no"
    out.print(f"answerable: {state} (confidence {response.confidence:.2f})", markup=False)
    if response.answer is None:
        out.print(
            "answer: none: the corpus does not seem to answer this; the passages below are low confidence"
        )
    else:
        a = response.answer.citation
        out.print(Text.assemble("answer: ", (response.answer.text, "bold green" if tty else "")))
        out.print(escape(f"   [{a.doc_id} {a.start}:{a.end}] {a.title}"))
    out.print()
    for result in response.results:
        c = result.citation
        source = ", ".join(x for x in (c.author, c.publisher) if x) or "source unknown"
        title = f"[cyan]{escape(c.title)}[/cyan] ({escape(source)})"
        out.print(f"[bold]{result.rank}.[/bold] score {result.score:.4f}  {title}")
        out.print(escape(f"   {c.url or 'no URL known'}  [{c.doc_id} {c.start}:{c.end}]"))
        if tty:
            body = Text("   ")
            for piece, marked in marked_segments(result.text, c.start, result.highlights):
                body.append(piece.replace("\n", "\n   "), style="bold yellow" if marked else "")
            out.print(body)
        else:
            marked = plain_marked(result.text, c.start, result.highlights)
            out.print("   " + marked.replace("\n", "\n   "), markup=False)
        out.print()


def main() -> None:
    app()


@app.command("eval")
def evaluate_command(
    questions: Annotated[
        Path | None, typer.Option(help="evaluation set (JSONL); default: the seed set")
    ] = None,
    index: Annotated[Path | None, typer.Option(help="index folder to evaluate (seed set)")] = None,
    out: Annotated[
        Path | None, typer.Option(help="report folder (default var/eval/seed or var/eval/<dataset>)")
    ] = None,
    dataset: Annotated[
        Path | None,
        typer.Option(
            help="BEIR folder (corpus.jsonl, queries.jsonl, qrels/test.tsv): evaluate on it instead"
        ),
    ] = None,
    group_by: Annotated[
        list[str] | None,
        typer.Option(help="query metadata field for per-subset rows (repeatable; default: auto-detect)"),
    ] = None,
    model: ModelOption = None,
    backend: BackendOption = None,
    max_words: Annotated[int | None, typer.Option(help="passage size in words (dataset index)")] = None,
    overlap_words: Annotated[
        int | None, typer.Option(help="passage overlap in words (dataset index)")
    ] = None,
    embed_title: Annotated[
        bool | None, typer.Option(help="embed the document title with each passage (dataset index)")
    ] = None,
    bm25_title: Annotated[
        bool | None, typer.Option(help="index the document title with each passage in BM25 (dataset index)")
    ] = None,
    fusion: Annotated[str | None, typer.Option(help="hybrid fusion method (default: the settings')")] = None,
    dense_weight: Annotated[float | None, typer.Option(help="dense weight of the fusion")] = None,
    rrf_k: Annotated[float | None, typer.Option(help="k of reciprocal-rank fusion")] = None,
    index_root: Annotated[Path, typer.Option(help="where dataset indexes are kept")] = Path(
        "var/eval/indexes"
    ),
    cache_dir: CacheDirOption = DEFAULT_CACHE_DIR,
    baseline: Annotated[
        Path | None,
        typer.Option(
            help="results.json to compare with (seed set): print the metrics that got worse, exit 1 when one "
            "fell below the baseline's 95% CI lower bound"
        ),
    ] = None,
    calibrate: Annotated[
        bool,
        typer.Option(
            "--calibrate",
            help="fit the answerability decision on the evaluation set (cross-validated) and write it "
            "to --calibration",
        ),
    ] = False,
    calibration: Annotated[
        Path | None, typer.Option(help="calibration file to write (default: CITEQA_CALIBRATION_PATH)")
    ] = None,
    dedup: Annotated[
        bool, typer.Option("--dedup", help="compare the near-duplicate rules on the evaluation set")
    ] = False,
    max_false_flag: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=0.99,
            help="with --calibrate: the largest share of answerable questions the threshold may flag as "
            "unanswerable (the error budget; it flags as many unanswerable questions as it allows)",
        ),
    ] = 0.05,
) -> None:
    """Score every mode (hybrid, dense, bm25) on the seed set, or on a BEIR dataset with --dataset;
    write summary.md and results.json (and TREC runs for a dataset; per-question table, plots and paired
    comparison for the seed set). --calibrate fits answerability, --dedup compares near-duplicate rules."""
    settings = settings_with(
        index_path=index,
        model=model,
        backend=backend,
        fusion_method=fusion,
        fusion_dense_weight=dense_weight,
        fusion_rrf_k=rrf_k,
    )
    if calibrate or dedup:
        answer_eval_command(
            settings, questions, calibrate, calibration or settings.calibration_path, dedup, max_false_flag
        )
        return
    if dataset is not None:
        if baseline is not None:
            fail(ValueError("--baseline compares seed-set results; leave out --dataset"))
        passages = (max_words, overlap_words, embed_title, bm25_title)
        evaluate_dataset_command(settings, dataset, out, group_by, passages, index_root, cache_dir)
        return
    evaluate_seed_command(settings, questions, out or Path("var/eval/seed"), baseline)


def evaluate_seed_command(settings, questions: Path | None, out: Path, baseline: Path | None = None) -> None:
    from eval.baseline import comparison_text
    from eval.harness import SEED_METRICS, markdown_table
    from eval.seed_report import run_seed_evaluation, seed_context
    from eval.seed_set import DEFAULT_SEED_SET, load_eval_set
    from service.wiring import build_answerer

    try:
        eval_set = load_eval_set(questions or DEFAULT_SEED_SET)
        answerer = build_answerer(settings)
        searcher = answerer.searcher
        context = seed_context(searcher, eval_set, str(settings.index_path))
        evaluation = run_seed_evaluation(searcher, eval_set, out, context, baseline, answerer)
    except (CiteqaError, ValueError) as err:
        fail(err)
    typer.echo(markdown_table(evaluation.scores, SEED_METRICS))
    typer.echo(
        f"report: {out / 'summary.md'}, {out / 'results.json'}, {out / 'questions.md'}, plots in {out}"
    )
    if evaluation.comparison is not None:
        typer.echo("")
        typer.echo(comparison_text(evaluation.comparison, baseline or ""))
        if not evaluation.comparison.passed:
            raise typer.Exit(code=1)


def answer_eval_command(
    settings, questions: Path | None, calibrate: bool, out: Path, dedup: bool, max_false_flag: float
) -> None:
    from eval import answer_eval
    from eval.seed_set import DEFAULT_SEED_SET, load_eval_set
    from service.wiring import build_searcher

    path = questions or DEFAULT_SEED_SET
    try:
        searcher = build_searcher(settings)
        eval_set = load_eval_set(path)
        if dedup:
            typer.echo(
                "hybrid retrieval of the answerable questions, as the service returns it, per dedup rule:"
            )
            typer.echo(answer_eval.dedup_table(answer_eval.dedup_comparison(searcher, eval_set)))
        if calibrate:
            fitted, compared, rows = answer_eval.calibrate(
                searcher, eval_set, out, path.name, max_false_flag
            )
    except (CiteqaError, ValueError) as err:
        fail(err)
    if calibrate:
        typer.echo("\nanswerability signals, held-out flag rates (mean [min, max] over repeats):")
        typer.echo(answer_eval.signals_table(compared))
        typer.echo(
            f"\nanswer sentence overlaps a gold quote: {answer_eval.answer_accuracy(rows):.3f} "
            "of answerable questions"
        )
        typer.echo(
            f"wrote {out}: features {', '.join(fitted.features)}, threshold {fitted.threshold:.4f}; "
            f"cross-validated: {fitted.cv['unanswerable_flagged']:.3f} of unanswerable flagged, "
            f"{fitted.cv['answerable_flagged']:.3f} of answerable wrongly flagged"
        )


def index_settings_from(passages: tuple[int | None, int | None, bool | None, bool | None]):
    """IndexSettings with the given passage options, the defaults for the others."""
    from dataclasses import replace

    from indexer.build import IndexSettings
    from indexer.chunking import ChunkerSettings

    max_words, overlap_words, embed_title, bm25_title = passages
    base = IndexSettings()
    chunker = ChunkerSettings(
        max_words if max_words is not None else base.chunker.max_words,
        overlap_words if overlap_words is not None else base.chunker.overlap_words,
    )
    return replace(
        base,
        chunker=chunker,
        embed_title=base.embed_title if embed_title is None else embed_title,
        bm25_title=base.bm25_title if bm25_title is None else bm25_title,
    )


def evaluate_dataset_command(
    settings,
    dataset: Path,
    out: Path | None,
    group_by: list[str] | None,
    passages: tuple[int | None, int | None, bool | None, bool | None],
    index_root: Path,
    cache_dir: Path,
) -> None:
    from eval.beir_eval import evaluate_dataset, metrics_table
    from indexer.backends import make_encoder
    from indexer.embedding import SentenceTransformerEncoder
    from indexer.embedding_cache import EmbeddingCache
    from service.wiring import fusion_settings

    try:
        encoder = SentenceTransformerEncoder(settings.model)  # passages, as citeqa index embeds them
        questions = (
            None
            if settings.backend == "torch"
            else make_encoder(settings.model, settings.backend, settings.threads, settings.onnx_cache_path)
        )
        report = evaluate_dataset(
            dataset,
            encoder,
            fusion_settings(settings),
            index_settings_from(passages),
            out,
            index_root,
            EmbeddingCache(cache_dir),
            group_by,
            log=lambda message: console.print(escape(message)),
            query_encoder=questions,
        )
    except (CiteqaError, ValueError) as err:
        fail(err)
    typer.echo(metrics_table(report.scores))
    typer.echo(f"report: {report.out / 'summary.md'}, {report.out / 'results.json'}, {report.out / 'runs'}/")


@app.command("sweep")
def sweep_command(
    dataset: Annotated[Path, typer.Option(help="BEIR folder to cross-validate on")],
    passages: Annotated[
        list[str] | None,
        typer.Option(
            help="passage setting MAX_WORDS:OVERLAP:title|notitle[:bm25title|bm25text] "
            "(repeatable; default: a grid)"
        ),
    ] = None,
    keep_passages: Annotated[
        str | None,
        typer.Option(help="pin the chosen passage setting (e.g. the default, when a check elsewhere vetoes)"),
    ] = None,
    folds: FoldsOption = 5,
    seed: SeedOption = 0,
    out: Annotated[Path, typer.Option(help="Markdown table to write")] = Path("eval/fusion_sweep.md"),
    details: Annotated[
        Path | None, typer.Option(help="JSON details (default var/eval/sweep/<dataset>.json)")
    ] = None,
    model: ModelOption = None,
    index_root: Annotated[Path, typer.Option(help="where dataset indexes are kept")] = Path(
        "var/eval/indexes"
    ),
    cache_dir: CacheDirOption = DEFAULT_CACHE_DIR,
) -> None:
    """Cross-validate fusion methods, their parameters and passage settings on a BEIR dataset."""
    import shlex
    import time

    from eval.cv import DEFAULT_PASSAGE_GRID, PassageSetting, run_sweep, write_sweep
    from indexer.embedding import SentenceTransformerEncoder
    from indexer.embedding_cache import EmbeddingCache

    settings = settings_with(model=model)
    started = time.perf_counter()
    try:
        grid = [PassageSetting.parse(p) for p in passages] if passages else list(DEFAULT_PASSAGE_GRID)
        pinned = PassageSetting.parse(keep_passages) if keep_passages else None
        sweep = run_sweep(
            dataset,
            SentenceTransformerEncoder(settings.model),
            grid,
            folds,
            seed,
            index_root,
            EmbeddingCache(cache_dir),
            log=lambda message: console.print(escape(message)),
        )
    except (CiteqaError, ValueError) as err:
        fail(err)
    command = "citeqa sweep " + shlex.join(sys.argv[2:]) if len(sys.argv) > 1 else "citeqa sweep"
    json_path = details or Path("var/eval/sweep") / f"{sweep.dataset}.json"
    try:
        choice = write_sweep(sweep, out, json_path, command, time.perf_counter() - started, pinned)
    except ValueError as err:
        fail(err)
    typer.echo(out.read_text(encoding="utf-8"))
    typer.echo(
        f"chosen: passages {choice.setting.label}, fusion {choice.fusion.label()}; "
        f"tables: {out}, details: {json_path}"
    )


@app.command("seed-sweep")
def seed_sweep_command(
    passages: Annotated[
        list[str] | None,
        typer.Option(help="passage setting MAX_WORDS:OVERLAP:title|notitle (repeatable; default: a grid)"),
    ] = None,
    folds: FoldsOption = 5,
    seed: SeedOption = 0,
    out: Annotated[Path, typer.Option(help="Markdown report to write")] = Path("eval/seed_sweep.md"),
    corpus: Annotated[
        Path | None, typer.Option(help="documents folder (default: the default corpus)")
    ] = None,
    model: ModelOption = None,
    index_root: Annotated[Path, typer.Option(help="where the sweep's indexes are kept")] = Path(
        "var/eval/indexes/seed"
    ),
    cache_dir: CacheDirOption = DEFAULT_CACHE_DIR,
) -> None:
    """Cross-validate passage size, overlap and the fusion weight on the seed set; print the tables."""
    import shlex
    import time

    from corpus.sources import load_corpus
    from eval.cv import PassageSetting
    from eval.seed_set import load_eval_set
    from eval.seed_sweep import SEED_PASSAGE_GRID, run_seed_sweep, write_seed_sweep
    from indexer.embedding import SentenceTransformerEncoder
    from indexer.embedding_cache import EmbeddingCache

    settings = settings_with(corpus_path=corpus, model=model)
    started = time.perf_counter()
    try:
        grid = [PassageSetting.parse(p) for p in passages] if passages else list(SEED_PASSAGE_GRID)
        sweep = run_seed_sweep(
            load_corpus(settings.corpus_path),
            load_eval_set(),
            SentenceTransformerEncoder(settings.model),
            grid,
            folds,
            seed,
            index_root,
            EmbeddingCache(cache_dir),
            log=lambda message: console.print(escape(message)),
        )
        command = (
            "citeqa seed-sweep " + shlex.join(sys.argv[2:]) if len(sys.argv) > 2 else "citeqa seed-sweep"
        )
        choice = write_seed_sweep(sweep, out, command, time.perf_counter() - started)
    except (CiteqaError, ValueError) as err:
        fail(err)
    typer.echo(out.read_text(encoding="utf-8"))
    typer.echo(f"chosen: passages {choice.setting.label}, fusion {choice.fusion.label()}; report: {out}")
