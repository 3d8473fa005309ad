"""A corpus.jsonl read in parts (as Ray tasks read it, indexer/ray_corpus.py) gives exactly the documents
of reading it whole, whatever the cuts; errors in a part name the line by its byte offset."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from corpus.beir import documents_in_range, iter_beir_corpus, line_ranges
from corpus.errors import CorpusError

RECORDS = [
    {
        "_id": "a",
        "title": "Milia",
        "text": "Milia are tiny white bumps. 🍞 They go away.",
        "metadata": {"url": "u"},
    },
    {"_id": 7, "title": "", "text": "An id that is a number, and no title."},
    {"_id": "c", "title": "Café", "text": "Ünïcödé text, right-to-left: שלום.", "metadata": {"n": 3}},
    {"_id": "d", "title": "Last", "text": "The last line has no newline at its end."},
]


def write_corpus(folder: Path, records: list[dict], *, bom: bool = False, crlf: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    end = "\r\n" if crlf else "\n"
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    text = lines[0] + end + end + end.join(lines[1:])  # a blank line after the first
    path = folder / "corpus.jsonl"
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode("utf-8"))
    return path


def read_in_parts(path: Path, part_bytes: int) -> list:
    return [d for s, e in line_ranges(path, part_bytes) for d in documents_in_range(path, s, e)]


@pytest.mark.parametrize("part_bytes", [1, 10, 60, 100, 150, 10_000])
@pytest.mark.parametrize(("bom", "crlf"), [(False, False), (True, False), (False, True)])
def test_parts_give_the_documents_of_one_read(tmp_path: Path, part_bytes: int, bom: bool, crlf: bool) -> None:
    path = write_corpus(tmp_path, RECORDS, bom=bom, crlf=crlf)
    assert read_in_parts(path, part_bytes) == list(iter_beir_corpus(path))


def test_ranges_cover_the_file_once_and_start_at_lines(tmp_path: Path) -> None:
    path = write_corpus(tmp_path, RECORDS * 20)
    data = path.read_bytes()
    ranges = line_ranges(path, 100)
    assert len(ranges) > 5
    assert ranges[0][0] == 0 and ranges[-1][1] == len(data)
    for (_, end), (start, _) in itertools.pairwise(ranges):
        assert end == start and data[start - 1 : start] == b"\n"


def test_provenance_names_the_path_as_given(tmp_path: Path) -> None:
    path = write_corpus(tmp_path, RECORDS)
    shown = Path("corpus") / "corpus.jsonl"
    (document,) = list(documents_in_range(path, 0, 1, shown))
    assert document.provenance == f"BEIR corpus {shown}"


def test_an_error_names_the_line_by_its_byte_offset(tmp_path: Path) -> None:
    path = write_corpus(tmp_path, [*RECORDS[:2], {"_id": "x", "title": "no text"}])
    offset = path.read_bytes().rindex(b"\n") + 1
    with pytest.raises(CorpusError, match=rf"the line at byte {offset}, field 'text': missing"):
        list(documents_in_range(path, 0, path.stat().st_size))


def test_an_id_twice_in_one_part_names_both_lines(tmp_path: Path) -> None:
    path = write_corpus(tmp_path, [RECORDS[0], RECORDS[0]])
    with pytest.raises(CorpusError, match="duplicate id 'a', first used on the line at byte 0"):
        list(documents_in_range(path, 0, path.stat().st_size))


def test_bad_utf8_in_a_part_names_the_line_and_the_field(tmp_path: Path) -> None:
    path = write_corpus(tmp_path, RECORDS[:1])
    path.write_bytes(path.read_bytes() + b'{"_id": "z", "title": "t", "text": "caf\xe9"}\n')
    offset = path.read_bytes().index(b'{"_id": "z"')
    with pytest.raises(CorpusError, match=rf"the line at byte {offset}, field 'text': invalid UTF-8"):
        list(documents_in_range(path, 0, path.stat().st_size))
