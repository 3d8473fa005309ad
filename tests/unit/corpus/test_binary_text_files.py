"""A file with a text suffix that holds NUL characters is not text: a block of zero bytes, or English saved
as UTF-16 without a byte-order mark (a NUL after every letter), decodes as UTF-8 all the same. `citeqa index`
took both as documents of NULs (the UTF-16 one titled 'S\\x00w\\x00a\\x00...'), and an upload stored them;
now each is refused with the file and what to do, through the one ingestion path (CLI and HTTP)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from support import squeeze, writable_client
from typer.testing import CliRunner

from service.cli.app import app

SWANS = "Swans mate for life and build large nests of reeds by the water."
KEY = "binary-key"


def test_index_refuses_a_text_file_of_nul_bytes_or_utf16_and_skip_bad_leaves_them_out(tmp_path: Path) -> None:
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "swans.txt").write_text(SWANS, encoding="utf-8")
    (corpus / "zeros.txt").write_bytes(bytes(4096))
    (corpus / "swans16.md").write_bytes(SWANS.encode("utf-16-le"))
    index = tmp_path / "index"
    result = CliRunner().invoke(app, ["index", "--corpus", str(corpus), "--index", str(index)])
    assert result.exit_code == 2, result.output
    text = squeeze(result.output)
    assert squeeze("swans16.md: field 'text' holds NUL characters (the first at character 1)") in text
    assert squeeze("a binary file, or text saved as UTF-16? save the file as UTF-8 text") in text
    assert not index.exists()
    result = CliRunner().invoke(app, ["index", "--corpus", str(corpus), "--index", str(index), "--skip-bad"])
    assert result.exit_code == 0, result.output
    text = squeeze(result.output)
    assert squeeze("skipped") in text
    assert squeeze("zeros.txt: field 'text' holds NUL characters (the first at character 0)") in text
    assert squeeze("1 document(s) from 1 file(s)") in text


def test_an_upload_of_utf16_text_is_refused_unless_its_charset_says_so(
    index_copy: Path, encoder: Any
) -> None:
    auth = {"Authorization": f"Bearer {KEY}"}
    with writable_client(index_copy, encoder, api_keys=[KEY]) as client:
        utf16 = SWANS.encode("utf-16-le")
        files = [("file", ("swans.txt", utf16, "text/plain"))]
        refused = client.post("/documents", headers=auth, files=files)
        assert refused.status_code == 422, refused.text
        assert "swans.txt: field 'text' holds NUL characters" in refused.json()["message"]
        assert client.get("/documents/swans").status_code == 404
        raw = client.post(
            "/documents/upload?doc_id=swans", headers={**auth, "Content-Type": "text/plain"}, content=utf16
        )
        assert raw.status_code == 422, raw.text
        declared = client.post(
            "/documents/upload?doc_id=swans",
            headers={**auth, "Content-Type": "text/plain; charset=utf-16-le"},
            content=utf16,
        )
        assert declared.status_code == 200, declared.text
        assert client.get("/documents/swans").json()["text"] == SWANS
