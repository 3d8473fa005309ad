"""The CLI offers --skip-bad only where it helps: for a file that cannot be read, not for a folder without
any document (found by an exploratory probe at stop 25), nor for a bad line of a BEIR corpus.jsonl, whose
one file is the whole corpus (found by a probe: the hint was given, and --skip-bad failed the same way)."""

from __future__ import annotations

from pathlib import Path

import pytest

from corpus.errors import CorpusError, NoDocumentsError
from corpus.sources import ingest_corpus
from service.cli.report import SKIP_BAD_HINT, with_skip_bad_hint


def test_an_empty_folder_gets_no_skip_bad_hint(tmp_path: Path) -> None:
    (tmp_path / "notes.odt").write_bytes(b"PK")
    with pytest.raises(NoDocumentsError) as raised:
        ingest_corpus(tmp_path, errors="raise")
    message = str(with_skip_bad_hint(raised.value, tmp_path, skip_bad=False))
    assert "no .txt" in message and "--skip-bad" not in message


def test_an_unreadable_file_gets_the_skip_bad_hint(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    with pytest.raises(CorpusError) as raised:
        ingest_corpus(tmp_path, errors="raise")
    assert str(with_skip_bad_hint(raised.value, tmp_path, skip_bad=False)).endswith(SKIP_BAD_HINT)
    assert SKIP_BAD_HINT not in str(with_skip_bad_hint(raised.value, tmp_path, skip_bad=True))


@pytest.mark.parametrize("named", ["folder", "file"])
def test_a_bad_beir_line_gets_no_skip_bad_hint(tmp_path: Path, named: str) -> None:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(
        '{"_id": "d1", "title": "T", "text": "ok"}\n{"_id": "d2", "text": " "}\n', encoding="utf-8"
    )
    path = tmp_path if named == "folder" else corpus
    for skip_bad in (False, True):
        with pytest.raises(CorpusError) as raised:
            ingest_corpus(path, errors="skip" if skip_bad else "raise")
        message = str(with_skip_bad_hint(raised.value, path, skip_bad=skip_bad))
        assert "line 2, field 'text'" in message and "--skip-bad" not in message


def test_two_files_of_one_name_say_how_to_tell_them_apart(tmp_path: Path) -> None:
    """Found by a probe: a/notes.txt and b/notes.txt both get doc_id 'notes', and the build failed with
    "doc_ids must be unique" alone (--skip-bad too), without saying how to give one another id."""
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "notes.txt").write_text(f"Notes of {folder}.", encoding="utf-8")
    for errors in ("raise", "skip"):
        with pytest.raises(CorpusError) as raised:
            ingest_corpus(tmp_path, errors=errors)  # type: ignore[arg-type]
        message = str(raised.value)
        assert f"{tmp_path / 'b' / 'notes.txt'}: field 'doc_id' duplicates 'notes'" in message
        assert 'its own doc_id in a NAME.json beside it ({"doc_id": "..."}), or rename the file' in message
