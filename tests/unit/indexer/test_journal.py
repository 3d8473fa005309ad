"""The format-1 write-ahead journal, read once by the upgrade to format 2: intact entries in order, a torn
or bad-checksum last line was never acknowledged (ignored, cut off with ``repair``), damage before the
last line or versions that do not increase refuse with a clear message."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.journal import JournalEntry, JournalError, encode_entry, journal_path, read_journal


def delete(version: int, doc_id: str) -> JournalEntry:
    return JournalEntry(version, ({"op": "delete", "doc_id": doc_id},))


def write_journal(path: Path, *entries: JournalEntry) -> bytes:
    data = b"".join(encode_entry(entry) for entry in entries)
    path.write_bytes(data)
    return data


def test_journal_sits_beside_the_index_folder(tmp_path: Path) -> None:
    assert journal_path(tmp_path / "index") == tmp_path / "index.journal.jsonl"


def test_reads_every_entry_in_order(tmp_path: Path) -> None:
    path = tmp_path / "index.journal.jsonl"
    put = JournalEntry(3, ({"op": "put", "document": {"doc_id": "b", "title": "Bé", "text": "ü"}},))
    write_journal(path, delete(2, "a"), put)
    entries = read_journal(path)
    assert entries == [delete(2, "a"), put]
    assert [(e.version, e.ops[0]["op"]) for e in entries] == [(2, "delete"), (3, "put")]


def test_a_missing_or_empty_journal_holds_nothing(tmp_path: Path) -> None:
    assert read_journal(tmp_path / "none.journal.jsonl") == []
    empty = tmp_path / "empty.journal.jsonl"
    empty.write_bytes(b"")
    assert read_journal(empty, repair=True) == []
    assert empty.read_bytes() == b""


def test_torn_last_line_is_ignored_and_cut_off(tmp_path: Path) -> None:
    path = tmp_path / "index.journal.jsonl"
    intact = write_journal(path, delete(2, "a"))
    torn = intact + b'{"version": 3, "ops": [{"op": "put", "docu'
    path.write_bytes(torn)
    assert [e.version for e in read_journal(path)] == [2]
    assert path.read_bytes() == torn  # not repaired without repair=True
    assert [e.version for e in read_journal(path, repair=True)] == [2]
    assert path.read_bytes() == intact


def test_bad_checksum_on_last_line_is_not_acknowledged(tmp_path: Path) -> None:
    path = tmp_path / "index.journal.jsonl"
    intact = write_journal(path, delete(2, "a"), delete(3, "b"))
    edited = intact.replace(b'"doc_id": "b"', b'"doc_id": "c"')
    assert edited != intact
    path.write_bytes(edited)
    assert [e.version for e in read_journal(path)] == [2]
    assert [e.version for e in read_journal(path, repair=True)] == [2]
    assert path.read_bytes() == encode_entry(delete(2, "a"))


def test_bad_middle_line_refuses_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "index.journal.jsonl"
    intact = write_journal(path, delete(2, "d2"), delete(3, "d3"), delete(4, "d4"))
    path.write_bytes(intact.replace(b'"d3"', b'"x3"'))
    with pytest.raises(JournalError, match="line 2 is damaged") as caught:
        read_journal(path, repair=True)
    assert str(path) in str(caught.value)
    assert "backup" in str(caught.value)
    assert path.read_bytes() == intact.replace(b'"d3"', b'"x3"')  # refused: nothing cut off


def test_torn_middle_line_refuses(tmp_path: Path) -> None:
    path = tmp_path / "index.journal.jsonl"
    first, second = encode_entry(delete(2, "a")), encode_entry(delete(3, "b"))
    path.write_bytes(first + first[:20] + b"\n" + second)
    with pytest.raises(JournalError, match="line 2 is damaged"):
        read_journal(path)


@pytest.mark.parametrize("versions", [(2, 2), (3, 2)], ids=["repeated", "decreasing"])
def test_versions_must_increase(tmp_path: Path, versions: tuple[int, int]) -> None:
    path = tmp_path / "index.journal.jsonl"
    write_journal(path, delete(versions[0], "a"), delete(versions[1], "b"), delete(9, "c"))
    with pytest.raises(JournalError, match=f"line 2 has version {versions[1]}, not above the line before"):
        read_journal(path)
