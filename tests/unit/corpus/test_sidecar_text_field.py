"""A NAME.json holding "text": the README takes a sidecar "as written" and puts any other key into metadata,
but "text" was neither used nor stored: dropped silently, so an owner who meant it to replace the file's text
(or a .txt beside a record exported with its text) got no word of it. It is now refused with the file."""

from __future__ import annotations

import json
from pathlib import Path

from support import squeeze
from typer.testing import CliRunner

from service.cli.app import app


def test_a_sidecar_text_field_is_refused_not_dropped(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "terns.txt").write_text("Arctic terns migrate from pole to pole.\n", encoding="utf-8")
    (docs / "terns.json").write_text(json.dumps({"title": "Terns", "text": "Other text."}), encoding="utf-8")
    index = tmp_path / "index"
    result = CliRunner().invoke(app, ["index", "--corpus", str(docs), "--index", str(index)])
    assert result.exit_code == 2, result.output
    output = squeeze(result.output)
    assert squeeze("terns.json: field 'text' is not read from a NAME.json") in output
    assert squeeze("(the document's text is terns.txt's); remove the field") in output
    assert not index.exists()
