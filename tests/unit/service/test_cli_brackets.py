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
