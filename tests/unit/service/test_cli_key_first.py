"""`citeqa add --url` without an API key says so before reading any file (found by a probe: it read and
reported every file, drew an empty progress bar, then said the key was missing)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from service.cli.app import app


def test_add_through_a_service_without_a_key_fails_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CITEQA_API_KEY", raising=False)
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Swans mate for life.", encoding="utf-8")
    (corpus / "bad.txt").write_bytes(b"\xff\xfe not UTF-8")  # reading it would fail the command
    done = CliRunner().invoke(app, ["add", str(corpus), "--url", "http://127.0.0.1:9"])
    assert done.exit_code == 2, done.output
    said = " ".join(done.output.split())
    assert "--url needs an API key: pass --key or set CITEQA_API_KEY" in said
    assert "bad.txt" not in said and "file" not in said  # no file was read or reported
