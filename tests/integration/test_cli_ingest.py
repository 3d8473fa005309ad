"""`citeqa index` and `citeqa add` on a folder of mixed file types (PDF and Word made by the tests): the
per-type table of files taken and skipped with the reason of every skip, a bad file failing the command
unless --skip-bad, and PDF pages kept in the index. The venv's console script in subprocesses."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from document_files import docx_bytes, pdf_bytes
from support import one_line, run_cli

from indexer.load import load_index

PDF_PAGES = [
    "Milia are tiny white bumps on a newborn's nose and cheeks. They are harmless keratin cysts.",
    "Milia clear up on their own within a few weeks; there is no need to squeeze or treat them.",
]
EXPECTED_ROWS = {
    ".docx": (1, 0),
    ".html": (1, 0),
    ".json": (0, 1),
    ".md": (1, 0),
    ".pdf": (1, 1),
    ".png": (0, 1),
    ".txt": (1, 0),
    "total": (5, 3),
}


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of every type: one good file of each, a scanned PDF, an image and a stray NAME.json."""
    folder = tmp_path_factory.mktemp("mixed") / "docs"
    (folder / "pdfs").mkdir(parents=True)
    (folder / "pdfs" / "milia-guide.pdf").write_bytes(pdf_bytes(PDF_PAGES, title="Milia, a guide"))
    (folder / "pdfs" / "scan.pdf").write_bytes(pdf_bytes(["", ""]))
    (folder / "cradle-cap.docx").write_bytes(
        docx_bytes([("Heading 1", "Cradle cap"), ("p", "Cradle cap is greasy, yellow scaling on the scalp.")])
    )
    (folder / "rash.html").write_text(
        "<html><head><title>Heat rash</title></head><body><article><h1>Heat rash</h1><p>Heat rash "
        "shows as tiny red spots where a baby sweats, and fades once the skin cools.</p></article></body>"
        "</html>",
        encoding="utf-8",
    )
    (folder / "bath.md").write_text("# Bath time\n\nA bath two or three times a week is enough.\n")
    (folder / "soap.txt").write_text("Use a mild, fragrance-free soap.\n", encoding="utf-8")
    (folder / "soap.json").write_text('{"title": "Soap for babies", "author": "A. Nurse"}', encoding="utf-8")
    (folder / "orphan.json").write_text('{"title": "No document"}', encoding="utf-8")
    (folder / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    return folder


def table_rows(output: str) -> dict[str, tuple[int, int]]:
    """The rows of the per-type table: type -> (taken, skipped)."""
    rows = {}
    for line in output.splitlines():
        match = re.fullmatch(r"\s*(\S+)\s+(\d+)\s+(\d+)\s*", line)
        if match:
            rows[match[1]] = (int(match[2]), int(match[3]))
    return rows


def test_index_reports_every_file_by_type(mixed: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    failed = run_cli(["index", "--corpus", str(mixed), "--index", str(index)], cwd=tmp_path)
    assert failed.returncode == 2, failed.stdout + failed.stderr
    message = one_line(failed.stderr)
    assert "scan.pdf" in message and "no text layer" in message and "--skip-bad" in message
    assert "Traceback" not in failed.stderr and not index.exists()

    done = run_cli(["index", "--corpus", str(mixed), "--index", str(index), "--skip-bad"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Files read, by type" in done.stdout
    assert table_rows(done.stdout) == EXPECTED_ROWS
    skipped = [line for line in done.stdout.splitlines() if line.startswith("skipped ")]
    assert len(skipped) == 3
    assert any("scan.pdf: no text layer" in line for line in skipped)
    assert any("photo.png: unsupported file type '.png'" in line for line in skipped)
    assert any("orphan.json: metadata without a document" in line for line in skipped)
    assert "5 document(s) from 5 file(s); 1 NAME.json metadata file(s) used" in done.stdout
    assert "indexed 5 documents into" in done.stdout

    loaded = load_index(index)
    guide = loaded.documents["milia-guide"]
    assert guide.title == "Milia, a guide" and len(guide.page_starts) == 2
    assert loaded.documents["soap"].title == "Soap for babies"
    asked = run_cli(["ask", "do milia go away on their own", "--json", "--index", str(index)], cwd=tmp_path)
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)["answer"]
    assert answer["citation"]["doc_id"] == "milia-guide" and answer["citation"]["page"] == 2
    assert guide.text[answer["citation"]["start"] : answer["citation"]["end"]] == answer["text"]


def test_add_reads_files_as_index_does(mixed: Path, index_copy: Path, tmp_path: Path) -> None:
    failed = run_cli(["add", str(mixed), "--index", str(index_copy)], cwd=tmp_path)
    assert failed.returncode == 2 and "--skip-bad" in one_line(failed.stderr)
    assert load_index(index_copy).version == 1  # nothing was added

    added = run_cli(["add", str(mixed), "--index", str(index_copy), "--skip-bad"], cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    assert table_rows(added.stdout) == EXPECTED_ROWS
    assert "added 5 documents; index version 2" in added.stdout
    assert load_index(index_copy).documents["milia-guide"].page_starts[0] == 0
