"""`citeqa eval` on the folders it is given."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from corpus.types import Document
from indexer.build import IndexSettings
from indexer.embedding import SentenceTransformerEncoder
from indexer.shards import build_sharded_index
from service.cli.app import app


def test_eval_of_a_sharded_index_says_what_to_score_instead_of_a_traceback(
    tmp_path: Path, default_documents: list[Document], encoder: SentenceTransformerEncoder
) -> None:
    """`citeqa eval --index SHARDED` failed with a traceback ending in "TypeError: the passages of a sharded
    index are read through a search" (the seed set's qrels are one index's passage ids). It now fails with
    exit status 2 and says what to evaluate instead."""
    folder = tmp_path / "three"
    build_sharded_index(default_documents, encoder, folder, 3, IndexSettings())
    result = CliRunner().invoke(app, ["eval", "--index", str(folder), "--out", str(tmp_path / "report")])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output and "TypeError" not in result.output
    text = " ".join(result.output.split())
    assert "is sharded (shards.json)" in text
    assert "built without --shards" in text and "shard-000" in text
    assert not (tmp_path / "report").exists()
