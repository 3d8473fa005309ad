"""What `citeqa index` and `citeqa add` say about the files they read: a table of the files taken and
skipped by file type, then every skipped file with the reason (nothing is left out silently)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from corpus.errors import CorpusError, DuplicateDocumentIdError, NoDocumentsError
from corpus.sources import is_beir_corpus

if TYPE_CHECKING:
    from corpus.report import IngestReport

SkipBadOption = Annotated[
    bool,
    typer.Option(
        "--skip-bad",
        help="leave out files that cannot be read (a scanned PDF, an empty or broken file, a bad NAME.json) "
        "and report them, instead of failing [default: fail]",
    ),
]
SKIP_BAD_HINT = "(--skip-bad leaves such files out and reports them)"


def with_skip_bad_hint(err: CorpusError, path: Path, skip_bad: bool) -> CorpusError:
    """``err`` with the hint of --skip-bad when that would have helped: a file that could not be read. Not for
    a BEIR corpus: its one corpus.jsonl is the whole corpus, so a bad line is fixed in the file; nor for two
    files of one doc_id, which --skip-bad does not leave out."""
    if skip_bad or isinstance(err, NoDocumentsError | DuplicateDocumentIdError):
        return err
    if not path.exists() or is_beir_corpus(path):
        return err
    return CorpusError(f"{err} {SKIP_BAD_HINT}")


def ingest_table(report: IngestReport) -> Table:
    """Files by type: taken, skipped, and a total row."""
    table = Table(title="Files read, by type", box=box.SIMPLE_HEAD, title_justify="left")
    table.add_column("type")
    table.add_column("taken", justify="right")
    table.add_column("skipped", justify="right")
    rows = report.rows()
    for suffix, taken, skipped in rows:
        table.add_row(suffix or "(none)", str(taken), str(skipped))
    table.add_section()
    table.add_row("total", str(sum(r[1] for r in rows)), str(sum(r[2] for r in rows)))
    return table


def print_ingest_report(report: IngestReport, out: Console | None = None) -> None:
    """The table, each skipped file with its reason, and the number of documents, on stdout."""
    out = out or Console(highlight=False, soft_wrap=True)
    out.print(ingest_table(report))
    for skip in report.skips:
        reason = skip.reason.removeprefix(f"{skip.path}: ")  # a CorpusError names its file itself
        out.print(escape(f"skipped {skip.path}: {reason}"))
    sidecars = f"; {report.sidecars} NAME.json metadata file(s) used" if report.sidecars else ""
    out.print(escape(f"{report.documents} document(s) from {sum(report.taken.values())} file(s){sidecars}"))
