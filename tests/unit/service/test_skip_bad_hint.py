"""The CLI offers --skip-bad only where it helps: for a file that cannot be read, not for a folder without
any document (found by an exploratory probe at stop 25)."""

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
