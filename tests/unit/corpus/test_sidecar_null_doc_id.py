"""A NAME.json whose "doc_id" is null: the README's rule is "doc_id: the sidecar's, else the file name", and
a null title or author already falls back to the file's own. A null doc_id gave the document a content hash
("doc-32ef99fe77423a08") that nobody could guess or cite; it is now the file name, as when the key is left
out."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from indexer.load import load_index
from service.cli.app import app


def test_a_null_doc_id_in_a_sidecar_is_the_file_name(tmp_path: Path) -> None:
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "Arctic terns.txt").write_text("Arctic terns migrate from pole to pole.\n", encoding="utf-8")
    (corpus / "Arctic terns.json").write_text(json.dumps({"doc_id": None, "author": "Ann"}), encoding="utf-8")
    index = tmp_path / "index"
    result = CliRunner().invoke(app, ["index", "--corpus", str(corpus), "--index", str(index)])
    assert result.exit_code == 0, result.output
    [document] = load_index(index).documents.values()
    assert document.doc_id == "Arctic-terns"
    assert document.author == "Ann"
