"""`citeqa sweep` (a BEIR dataset) and `citeqa seed-sweep` (the seed set): one implementation of what they
share, each with its own options and outputs. Registered by eval.cli."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from corpus.errors import CiteqaError
from service.cli.common import CacheDirOption, ModelOption, fail, log, settings_with

if TYPE_CHECKING:
    from eval.cv import Choice, PassageSetting, Sweep

FoldsOption = Annotated[int, typer.Option(help="number of folds")]
SeedOption = Annotated[int, typer.Option(help="seed of the fold shuffle")]
SWEEP_REPORTS = Path("var/eval/sweep")


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
    out: Annotated[
        Path | None,
        typer.Option(help="Markdown table to write (default var/eval/sweep/<dataset>.md)"),
    ] = None,
    details: Annotated[
        Path | None, typer.Option(help="JSON details (default var/eval/sweep/<dataset>.json)")
    ] = None,
    model: ModelOption = None,
    index_root: Annotated[Path, typer.Option(help="where dataset indexes are kept")] = Path(
        "var/eval/indexes"
    ),
    cache_dir: CacheDirOption = None,
) -> None:
    """Cross-validate fusion methods, their parameters and passage settings on a BEIR dataset."""
    from eval.cv import DEFAULT_PASSAGE_GRID, PassageSetting, run_sweep, write_sweep
    from indexer.embedding import SentenceTransformerEncoder
    from indexer.embedding_cache import EmbeddingCache

    settings = settings_with(model=model)
    try:
        pinned = PassageSetting.parse(keep_passages) if keep_passages else None
    except ValueError as err:
        fail(err)

    # The project's own reports (eval/fusion_sweep.md) are written only when named: an owner's sweep run in
    # the repository left the committed medquad-dev report replaced by theirs.
    out = out or SWEEP_REPORTS / f"{dataset.resolve().name}.md"

    def details_path(sweep: Sweep) -> Path:
        return details or SWEEP_REPORTS / f"{sweep.dataset}.json"

    def run(grid: list[PassageSetting]) -> Sweep:
        encoder = SentenceTransformerEncoder(settings.model)
        return run_sweep(
            dataset,
            encoder,
            grid,
            folds,
            seed,
            index_root,
            EmbeddingCache(cache_dir or settings.embedding_cache_path),
            log=log,
        )

    def write(sweep: Sweep, command: str, seconds: float) -> Choice:
        return write_sweep(sweep, out, details_path(sweep), command, seconds, pinned)

    files = [("--details", details)] if details is not None else []
    sweep, choice = run_sweep_command("sweep", passages, DEFAULT_PASSAGE_GRID, run, write, out, files)
    typer.echo(
        f"chosen: passages {choice.setting.label}, fusion {choice.fusion.label()}; "
        f"tables: {out}, details: {details_path(sweep)}"
    )


def seed_sweep_command(
    passages: Annotated[
        list[str] | None,
        typer.Option(help="passage setting MAX_WORDS:OVERLAP:title|notitle (repeatable; default: a grid)"),
    ] = None,
    folds: FoldsOption = 5,
    seed: SeedOption = 0,
    out: Annotated[Path, typer.Option(help="Markdown report to write")] = Path("var/eval/seed-sweep.md"),
    corpus: Annotated[
        Path | None, typer.Option(help="documents folder (default: the default corpus)")
    ] = None,
    model: ModelOption = None,
    index_root: Annotated[Path, typer.Option(help="where the sweep's indexes are kept")] = Path(
        "var/eval/indexes/seed"
    ),
    cache_dir: CacheDirOption = None,
) -> None:
    """Cross-validate passage size, overlap and the fusion weight on the seed set; print the tables."""
    from corpus.sources import load_corpus
    from eval.seed_set import load_eval_set
    from eval.seed_sweep import SEED_PASSAGE_GRID, run_seed_sweep, write_seed_sweep
    from indexer.embedding import SentenceTransformerEncoder
    from indexer.embedding_cache import EmbeddingCache
    from service.wiring import build_query_adapter, build_question_encoder

    settings = settings_with(corpus_path=corpus, model=model)

    def run(grid: list[PassageSetting]) -> Sweep:
        documents, questions = load_corpus(settings.corpus_path), load_eval_set()
        encoder = SentenceTransformerEncoder(settings.model)
        cache = EmbeddingCache(cache_dir or settings.embedding_cache_path)
        # The service's adapter and question tower, so the sweep scores as it does.
        adapter = build_query_adapter(settings, encoder.dimension)
        asking = build_question_encoder(settings.model_copy(update={"question_batch_size": 1}), encoder)
        return run_seed_sweep(
            documents,
            questions,
            encoder,
            grid,
            folds,
            seed,
            index_root,
            cache,
            log=log,
            query_adapter=adapter,
            question_encoder=asking,
        )

    def write(sweep: Sweep, command: str, seconds: float) -> Choice:
        return write_seed_sweep(sweep, out, command, seconds)

    _, choice = run_sweep_command("seed-sweep", passages, SEED_PASSAGE_GRID, run, write, out)
    typer.echo(f"chosen: passages {choice.setting.label}, fusion {choice.fusion.label()}; report: {out}")


def run_sweep_command(
    name: str,
    passages: list[str] | None,
    default_grid: Sequence[PassageSetting],
    run: Callable[[list[PassageSetting]], Sweep],
    write: Callable[[Sweep, str, float], Choice],
    out: Path,
    files: Sequence[tuple[str, Path]] = (),
) -> tuple[Sweep, Choice]:
    """What both sweeps do: parse the passage settings (the default grid when none is given), run the
    sweep, write its report (with the command that made it and the seconds it took) and print it. An error
    of any step fails the command."""
    import time

    from eval.cv import PassageSetting

    started = time.perf_counter()
    try:
        for option, path in [("--out", out), *files]:
            check_output_file(option, path)
        grid = [PassageSetting.parse(p) for p in passages] if passages else list(default_grid)
        sweep = run(grid)
        choice = write(sweep, command_line(name), time.perf_counter() - started)
    except (CiteqaError, ValueError) as err:
        fail(err)
    typer.echo(out.read_text(encoding="utf-8"))
    return sweep, choice


def check_output_file(option: str, path: Path, example: str = "sweep.md") -> None:
    """A file the command writes at the end (a sweep's report, `citeqa eval --calibrate`'s calibration) can
    be written there: a folder at ``path`` (or a file above it) failed with a traceback once the whole
    sweep had run (the questions had been answered and the decision fitted). ``example`` is the file name
    suggested in a folder named instead."""
    from indexer.index_folder import nearest_existing

    if path.is_dir():
        raise ValueError(f"{option} {path} is a folder: pass the file to write, e.g. {path / example}")
    existing = nearest_existing(path.parent)
    if not existing.is_dir():
        raise ValueError(f"{option} {path} is under the file {existing}: pass a path in a folder")
    check_can_write_in(option, path, existing)


def check_can_write_in(option: str, path: Path, folder: Path) -> None:
    """``folder``, where ``path`` will be written, takes a file: one this user may not write (a read-only
    mount, another user's folder) failed once every question had been scored (or the sweep had run),
    naming --index."""
    from indexer.commit_point import try_writing_in

    try:
        try_writing_in(folder)
    except OSError as err:
        raise ValueError(
            f"{option} {path}: cannot write in {folder} ({err.strerror or err}): pass a path in a folder "
            "this user can write"
        ) from None


def command_line(name: str) -> str:
    """The command as typed, for the report: ``citeqa NAME`` and the arguments after the command name."""
    import shlex
    import sys

    return shlex.join(["citeqa", name, *sys.argv[2:]])
