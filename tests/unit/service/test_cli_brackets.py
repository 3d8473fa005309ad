"""The CLI prints paths and messages as they are: rich read "[b]" in "a[b].txt" as markup, so the error
named a file that does not exist ("a.txt"), and "index at var/[x] is up to date" lost its "[x]" (found by
a probe)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from service.cli.app import app


def said(output: str) -> str:
    return " ".join(output.split())


def test_an_error_names_a_bracketed_file_as_it_is(tmp_path: Path) -> None:
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "a[b].txt").write_text("", encoding="utf-8")
    (corpus / "ok.txt").write_text("Swans mate for life.", encoding="utf-8")
    done = CliRunner().invoke(app, ["index", "--corpus", str(corpus), "--index", str(tmp_path / "index")])
    assert done.exit_code == 2, done.output
    assert f"error: {corpus / 'a[b].txt'}: field 'text' is empty" in said(done.output)


def test_a_progress_line_keeps_a_bracketed_index_path(tmp_path: Path) -> None:
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "ok.txt").write_text("Swans mate for life.", encoding="utf-8")
    index = tmp_path / "index[v2]"
    command = ["index", "--corpus", str(corpus), "--index", str(index), "--if-stale"]
    assert CliRunner().invoke(app, command).exit_code == 0
    again = CliRunner().invoke(app, command)
    assert again.exit_code == 0, again.output
    assert f"index at {index} is up to date (1 documents)" in said(again.output)


def test_index_help_shows_the_passage_defaults() -> None:
    """The help of `citeqa index` names the defaults of the options whose default comes from the index
    settings: written as "[default: 120]", rich read each as markup and printed nothing (found by an
    audit of the --help texts)."""
    done = CliRunner().invoke(app, ["index", "--help"], env={"COLUMNS": "250", "NO_COLOR": "1"})
    assert done.exit_code == 0, done.output
    shown = said(done.output)
    for text in (
        "target passage size in words (default: 120)",
        "overlap between passages in words (default: 30)",
        "embed the document title with each passage (default: on)",
        "index the document title with each passage in BM25 (default: on)",
        "FAISS index: auto (by size), flat, hnsw or ivf (default: auto)",
    ):
        assert text in shown, text


def test_upgrade_help_says_the_sentences_are_embedded() -> None:
    """`citeqa upgrade --help` said the upgrade embeds "only the documents its write journal changed",
    while it embeds every sentence (format 1 stored no sentence vectors), as its progress line and the
    README say (found by the docs audit)."""
    for command in (["upgrade", "--help"], ["--help"]):
        done = CliRunner().invoke(app, command, env={"COLUMNS": "250", "NO_COLOR": "1"})
        assert done.exit_code == 0, done.output
        shown = said(done.output.replace("│", " "))  # the command table's cell wraps between borders
        assert "embedding only the documents its write journal changed" not in shown
        assert "keeping its passage vectors and embedding its sentences" in shown
