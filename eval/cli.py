"""The evaluation commands of `citeqa`: eval, sweep and seed-sweep. The product does not import eval: these
reach the command line as a plugin (the `citeqa.commands` entry point `eval = "eval.cli:register"` in
pyproject.toml, which service.cli.app loads and calls with its app)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from corpus.errors import CiteqaError, CorpusError
from eval.sweep_cli import check_can_write_in, check_output_file, seed_sweep_command, sweep_command
from service.cli.common import (
    BackendOption,
    CacheDirOption,
    ModelOption,
    PassageOptions,
    fail,
    index_settings_from,
    log,
    settings_with,
)

if TYPE_CHECKING:
    from service.settings import Settings


DEFAULT_SEED_REPORT = Path("var/eval/seed")


def register(app: typer.Typer) -> None:
    """Add the evaluation commands to the citeqa app."""
    app.command("eval")(evaluate_command)
    app.command("sweep")(sweep_command)
    app.command("seed-sweep")(seed_sweep_command)


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
    sentence_weight: Annotated[
        float | None, typer.Option(help="share of the dense side from each passage's best sentence")
    ] = None,
    index_root: Annotated[Path, typer.Option(help="where dataset indexes are kept")] = Path(
        "var/eval/indexes"
    ),
    cache_dir: CacheDirOption = None,
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
            "to --calibration (default: with --index, the index folder's calibration.json, which the service "
            "then uses; without, CITEQA_CALIBRATION_PATH or the packaged citeqa/calibration.json)",
        ),
    ] = False,
    calibration: Annotated[
        Path | None, typer.Option(help="calibration file to write (default: see --calibrate)")
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
        fusion_sentence_weight=sentence_weight,
    )
    try:
        if out is not None or not (calibrate or dedup):  # the folder written, the default one too
            check_report_folder(report_folder(out, dataset))
        if calibrate:
            calibration_file = calibration_out(calibration, index, settings.calibration_path)
            check_output_file("--calibration", calibration_file, example="calibration.json")
        refuse_unread_options(dataset, questions, calibrate, dedup, calibration, baseline)
    except ValueError as err:
        fail(err)
    if calibrate or dedup:
        out_path = calibration_out(calibration, index, settings.calibration_path)
        answer_eval_command(settings, questions, calibrate, out_path, dedup, max_false_flag)
        return
    if dataset is not None:
        if baseline is not None:
            fail(ValueError("--baseline compares seed-set results; leave out --dataset"))
        if index is not None:
            fail(
                ValueError(
                    f"--index {index} is not read with --dataset: a dataset is scored on its own index of "
                    "its corpus.jsonl, built (or reused) under --index-root; leave out --index, or score the "
                    "folder on a question set with --questions"
                )
            )
        passages = (max_words, overlap_words, embed_title, bm25_title)
        evaluate_dataset_command(settings, dataset, out, group_by, passages, index_root, cache_dir)
        return
    evaluate_seed_command(settings, questions, report_folder(out, None), baseline)


def report_folder(out: Path | None, dataset: Path | None) -> Path:
    """The folder the report is written to: --out, else var/eval/seed (var/eval/<dataset> with --dataset)."""
    if out is not None:
        return out
    if dataset is not None:
        from eval.beir_eval import DEFAULT_REPORT_ROOT

        return DEFAULT_REPORT_ROOT / dataset.resolve().name  # the name evaluate_dataset gives it
    return DEFAULT_SEED_REPORT


def refuse_unread_options(
    dataset: Path | None,
    questions: Path | None,
    calibrate: bool,
    dedup: bool,
    calibration: Path | None,
    baseline: Path | None,
) -> None:
    """An option the chosen evaluation does not read was dropped without a word: `--calibrate --dataset
    DIR` fitted the seed set on the default index (and wrote the packaged calibration), `--dataset DIR
    --questions MY.jsonl` never read MY.jsonl."""
    fitting = "--calibrate" if calibrate else "--dedup" if dedup else None
    if dataset is not None and fitting is not None:
        raise ValueError(
            f"{fitting} is not read with --dataset: it answers a question set (--questions MY.jsonl, the "
            "seed set by default) over an index folder (--index DIR); leave out --dataset"
        )
    if dataset is not None and questions is not None:
        raise ValueError(
            "--questions is not read with --dataset: a BEIR folder brings its own queries.jsonl and qrels; "
            "leave out one of them"
        )
    if fitting is not None and baseline is not None:
        raise ValueError(f"--baseline is not read with {fitting}: it compares the report of `citeqa eval`")
    if calibration is not None and not calibrate:
        raise ValueError(f"--calibration {calibration} is the file --calibrate writes: add --calibrate")


def check_report_folder(out: Path) -> None:
    """--out names a folder that is or can be made; a file there (or above it) failed with a traceback once
    every question had been scored."""
    from indexer.index_folder import nearest_existing

    existing = nearest_existing(out)
    if not existing.is_dir():
        where = "is a file" if existing == out else f"is under the file {existing}"
        raise ValueError(f"--out {out} {where}: pass a folder for the report (summary.md, results.json, ...)")
    check_can_write_in("--out", out, existing)


def calibration_out(explicit: Path | None, index: Path | None, configured: Path | None) -> Path:
    """Where --calibrate writes: --calibration, else into the --index folder given (the service over that
    index then uses it), else CITEQA_CALIBRATION_PATH, else the packaged default."""
    from citeqa.answerability import DEFAULT_CALIBRATION_PATH, index_calibration_path

    if explicit is not None:
        return explicit
    if index is not None:
        return index_calibration_path(index)
    return configured or DEFAULT_CALIBRATION_PATH


def evaluate_seed_command(
    settings: Settings, questions: Path | None, out: Path, baseline: Path | None = None
) -> None:
    from eval.baseline import comparison_text
    from eval.harness import SEED_METRICS, markdown_table
    from eval.seed_report import run_seed_evaluation, seed_context
    from eval.seed_set import DEFAULT_SEED_SET, check_labels, load_eval_set
    from service.wiring import build_answerer

    try:
        refuse_sharded(settings.index_path)
        eval_set = load_eval_set(questions or DEFAULT_SEED_SET)
        if not any(q.answerable for q in eval_set):
            raise CorpusError(
                f"{questions or DEFAULT_SEED_SET}: no answerable question; retrieval is scored on answerable "
                "questions with a doc_id and gold quotes (questions of both kinds fit --calibrate)"
            )
        answerer = build_answerer(settings)
        searcher = answerer.searcher
        path = questions or DEFAULT_SEED_SET
        check_labels(eval_set, searcher.index.documents, path, settings.index_path, questions is None)
        context = seed_context(searcher, eval_set, str(settings.index_path), str(path))
        set_name = (questions or DEFAULT_SEED_SET).stem
        evaluation = run_seed_evaluation(searcher, eval_set, out, context, baseline, answerer, set_name)
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


def refuse_sharded(folder: Path) -> None:
    """The seed set is scored on one index's passages (its qrels are passage ids), which a sharded folder
    does not have in one place: say so, and what to score instead (not a traceback)."""
    from indexer.errors import IndexMismatchError
    from indexer.shards import is_sharded

    if is_sharded(folder):
        raise IndexMismatchError(
            f"index at {folder} is sharded (shards.json): citeqa eval scores one index folder's passages; "
            "evaluate an index of the same corpus built without --shards (its results equal the shards'), "
            f"or one shard folder such as {folder / 'shard-000'}"
        )


def answer_eval_command(
    settings: Settings, questions: Path | None, calibrate: bool, out: Path, dedup: bool, max_false_flag: float
) -> None:
    from eval import answer_eval
    from eval.seed_set import DEFAULT_SEED_SET, check_labels, load_eval_set
    from service.wiring import build_searcher

    path = questions or DEFAULT_SEED_SET
    try:
        searcher = build_searcher(settings)
        eval_set = load_eval_set(path)
        check_labels(eval_set, searcher.index.documents, path, settings.index_path, questions is None)
        if dedup:
            typer.echo(
                "hybrid retrieval of the answerable questions, as the service returns it, per dedup rule:"
            )
            typer.echo(answer_eval.dedup_table(answer_eval.dedup_comparison(searcher, eval_set)))
        if calibrate:
            fitted, compared, rows = answer_eval.calibrate(searcher, eval_set, out, path.name, max_false_flag)
    except (CiteqaError, ValueError) as err:
        fail(err)
    if calibrate:
        typer.echo("\nanswerability signals, held-out flag rates (mean [min, max] over repeats):")
        typer.echo(answer_eval.signals_table(compared))
        labelled = sum(r.answer_hits_gold is not None for r in rows)
        typer.echo(
            f"\nanswer sentence overlaps a gold quote: {answer_eval.answer_accuracy(rows):.3f} "
            f"of the {labelled} answerable questions with a doc_id and gold quotes"
            if labelled
            else "\nanswer sentence against gold quotes: not measured (no question gives a doc_id and gold)"
        )
        typer.echo(
            f"wrote {out}: features {', '.join(fitted.features)}, threshold {fitted.threshold:.4f}; "
            f"cross-validated: {fitted.cv['unanswerable_flagged']:.3f} of unanswerable flagged, "
            f"{fitted.cv['answerable_flagged']:.3f} of answerable wrongly flagged"
        )


def evaluate_dataset_command(
    settings: Settings,
    dataset: Path,
    out: Path | None,
    group_by: list[str] | None,
    passages: PassageOptions,
    index_root: Path,
    cache_dir: Path | None,
) -> None:
    from eval.beir_eval import evaluate_dataset, metrics_table
    from indexer.embedding_cache import EmbeddingCache
    from service.wiring import (
        build_encoder,
        build_passage_encoder,
        build_query_adapter,
        build_question_encoder,
        fusion_settings,
    )

    try:
        encoder = build_passage_encoder(settings)  # passages and sentences, as citeqa index embeds them
        # Questions on the configured backend (and by the question tower if one is on), as the service runs
        # them, without the question cache: each variant encodes its questions again, so its ms/query
        # counts the encoding.
        quiet = settings.model_copy(update={"question_cache_size": 0})
        model_side = encoder if settings.backend == "torch" else build_encoder(quiet)
        questions = build_question_encoder(quiet, model_side)
        report = evaluate_dataset(
            dataset,
            encoder,
            fusion_settings(settings),
            index_settings_from(passages),
            out,
            index_root,
            EmbeddingCache(cache_dir or settings.embedding_cache_path),
            group_by,
            log=log,
            query_encoder=questions,
            query_adapter=build_query_adapter(settings, encoder.dimension),
        )
    except (CiteqaError, ValueError) as err:
        fail(err)
    typer.echo(metrics_table(report.scores))
    runs = report.context["TREC runs"]
    written = f", {report.out / 'runs'}/" if runs.startswith("runs/") else f" (TREC run files {runs})"
    typer.echo(f"report: {report.out / 'summary.md'}, {report.out / 'results.json'}{written}")
