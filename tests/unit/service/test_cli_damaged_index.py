"""`citeqa index --if-stale` (what `make run` does) over a damaged index: it said "up to date" for a
manifest whose dimension no longer matched its segments, and `citeqa serve` then refused the folder, so
`make run` neither served nor rebuilt; an index it did rebuild for damage was rebuilt without a word of
why. Now the staleness check opens the folder as the service does, and the rebuild names the damage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from corpus import DEFAULT_CORPUS_DIR
from indexer.embedding import DEFAULT_MODEL
from indexer.errors import IndexMismatchError
from indexer.load import load_index
from service.cli.app import app


def said(output: str) -> str:
    return " ".join(output.split())


def wrong_dimension(index: Path) -> str:
    path = index / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["model"]["dimension"] = 768
    path.write_text(json.dumps(manifest), encoding="utf-8")
    return "FAISS dimension 384 differs from the manifest"


def truncated_faiss(index: Path) -> str:
    (faiss_file,) = index.glob("segments/*/dense.faiss")
    faiss_file.write_bytes(faiss_file.read_bytes()[:100])
    return f"index file {faiss_file} does not match its checksum in manifest.json"


@pytest.mark.parametrize("damage", [wrong_dimension, truncated_faiss])
def test_index_if_stale_rebuilds_a_damaged_index_and_says_why(index_copy: Path, damage) -> None:
    why = damage(index_copy)
    with pytest.raises(IndexMismatchError):
        load_index(index_copy, expected_model=DEFAULT_MODEL)
    command = ["index", "--corpus", str(DEFAULT_CORPUS_DIR), "--index", str(index_copy), "--if-stale"]
    done = CliRunner().invoke(app, command, env={"COLUMNS": "400"})  # long paths on one line
    assert done.exit_code == 0, done.output
    assert "is up to date" not in said(done.output)
    assert f"{why}: rebuilding it from the corpus at {DEFAULT_CORPUS_DIR}" in said(done.output), done.output
    load_index(index_copy, expected_model=DEFAULT_MODEL)  # what `citeqa serve` opens next

