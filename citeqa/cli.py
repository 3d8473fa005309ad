"""The citeqa command line: index, serve, ask, eval. Settings are read here, at the edge."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from citeqa.errors import CiteqaError
from citeqa.types import SEARCH_MODES

app = typer.Typer(help="citeqa: questions in, passages with exact citations out.", no_args_is_help=True)
console = Console(stderr=True)

# Options shared by several commands.
ModelOption = Annotated[str | None, typer.Option(help="sentence-transformers model name or path")]
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
    index_type: Annotated[
        str | None, typer.Option(help="FAISS index: auto (by size), flat, hnsw or ivf [default: auto]")
    ] = None,
) -> None:
    """Build the index folder of a corpus (chunk, embed, FAISS + BM25), replacing the old one atomically."""
    from corpus.sources import load_corpus
    from indexer.build import build_index
    from indexer.embedding import SentenceTransformerEncoder
    from indexer.staleness import index_is_current

    settings = settings_with(corpus_path=corpus, index_path=index, model=model)
    try:
        index_settings = index_settings_from((max_words, overlap_words, embed_title, bm25_title))
        if index_type is not None:
            from dataclasses import replace

            index_settings = replace(index_settings, index_type=index_type)
        documents = load_corpus(settings.corpus_path)
        if if_stale and index_is_current(settings.index_path, documents, settings.model, index_settings):
            console.print(f"index at {settings.index_path} is up to date ({len(documents)} documents)")
            return
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

            report = build_index(
                documents,
                encoder,
                settings.index_path,
                index_settings,
                str(settings.corpus_path),
                on_passages,
            )
    except (CiteqaError, ValueError) as err:
        fail(err)
    typer.echo(
        f"indexed {report.documents} documents into {report.passages} passages in {report.seconds:.1f} s "
        f"({report.passages_per_second:.1f} passages/s) -> {report.path}"
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
) -> None:
    """Serve the HTTP API (FastAPI on uvicorn)."""
    import uvicorn

    from service.app import create_app
    from service.requestlog import configure_json_logging

    configure_json_logging()
    settings = settings_with(host=host, port=port, index_path=index)
    try:
        from service.app import build_answerer

        answerer = build_answerer(settings)
    except CiteqaError as err:
        fail(err)
    # log_config=None keeps the JSON logging set up above (uvicorn would replace it with its own).
    uvicorn.run(
        create_app(settings, answerer=answerer), host=settings.host, port=settings.port, log_config=None
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
    from service.app import build_answerer, run_query

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
) -> None:
    """Score every mode (hybrid, dense, bm25) on the seed set, or on a BEIR dataset with --dataset;
    write summary.md and results.json (and TREC runs for a dataset; per-question table, plots and paired
    comparison for the seed set). --calibrate fits answerability, --dedup compares near-duplicate rules."""
    settings = settings_with(
        index_path=index,
        model=model,
        fusion_method=fusion,
        fusion_dense_weight=dense_weight,
        fusion_rrf_k=rrf_k,
    )
    if calibrate or dedup:
        answer_eval_command(settings, questions, calibrate, calibration or settings.calibration_path, dedup)
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
    from service.app import build_answerer

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


def answer_eval_command(settings, questions: Path | None, calibrate: bool, out: Path, dedup: bool) -> None:
    from eval import answer_eval
    from eval.seed_set import DEFAULT_SEED_SET, load_eval_set
    from service.app import build_searcher

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
            fitted, compared, rows = answer_eval.calibrate(searcher, eval_set, out, path.name)
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
    from indexer.embedding import SentenceTransformerEncoder
    from indexer.embedding_cache import EmbeddingCache
    from service.app import fusion_settings

    try:
        report = evaluate_dataset(
            dataset,
            SentenceTransformerEncoder(settings.model),
            fusion_settings(settings),
            index_settings_from(passages),
            out,
            index_root,
            EmbeddingCache(cache_dir),
            group_by,
            log=lambda message: console.print(escape(message)),
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
