"""The functions Ray Data runs to read a corpus (indexer/ray_corpus.py), run here without Ray: the parts of
a corpus hold its documents in corpus order, and the per-shard summaries give the fingerprint of a local
sharded build and find a doc_id used twice."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from corpus.report import ReportBuilder
from corpus.sources import load_corpus
from corpus.types import Document
from indexer.index_folder import document_from_record
from indexer.ray_corpus import (
    JSONL_PART_BYTES,
    MIN_PART_BYTES,
    PARTS_PER_CPU,
    corpus_parts,
    part_size,
    record_rows,
    scan_rows,
    shard_summary,
)
from indexer.shards import corpus_sharded_fingerprint, shard_fingerprint, sharded_fingerprint

SHARDS = 3


def beir_corpus(documents: list[Document], folder: Path) -> Path:
    """The documents cut into one-line documents, as a corpus.jsonl."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "corpus.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for document in documents:
            for n, paragraph in enumerate(p for p in document.text.split("\n") if p.strip()):
                out.write(
                    json.dumps({"_id": f"{document.doc_id}-{n}", "title": document.title, "text": paragraph})
                )
                out.write("\n")
    return path


def summaries(rows: list[dict]) -> dict[int, dict]:
    """What the scan's groupby-shard + map_groups gives, computed here."""
    found = {}
    for bucket in sorted({r["shard"] for r in rows}):
        mine = [r for r in rows if r["shard"] == bucket]
        batch = {key: np.array([r[key] for r in mine]) for key in mine[0]}
        found[bucket] = {key: value[0] for key, value in shard_summary(batch).items()}
    return found


def scanned_fingerprint(rows: list[dict]) -> str:
    found = summaries(rows)
    return sharded_fingerprint(
        [str(found[b]["fingerprint"]) if b in found else shard_fingerprint([]) for b in range(SHARDS)]
    )


@pytest.mark.parametrize("part_bytes", [200, 2_000, 10**7])
def test_parts_of_a_beir_corpus_give_its_documents_and_fingerprint(
    tmp_path: Path, default_documents: list[Document], part_bytes: int
) -> None:
    path = beir_corpus(default_documents, tmp_path)
    parts, beir = corpus_parts(path.parent, ReportBuilder(), part_bytes)
    assert beir and (len(parts) > 3 or part_bytes > 2_000)
    read = [row for part in parts for row in record_rows(asdict(part))]
    assert [row["order"] for row in read] == sorted(row["order"] for row in read)
    local = load_corpus(path.parent)
    assert [document_from_record(json.loads(row["document"])) for row in read] == local
    rows = [row for part in parts for row in scan_rows(asdict(part), shards=SHARDS)]
    assert scanned_fingerprint(rows) == corpus_sharded_fingerprint(local, SHARDS)


def test_parts_of_a_folder_are_its_document_files(tmp_path: Path, default_documents: list[Document]) -> None:
    from corpus import loader

    folder = Path(loader.__file__).parent / "documents"
    report = ReportBuilder()
    parts, beir = corpus_parts(folder, report)
    assert not beir and [Path(p.shown).suffix for p in parts] == [".txt", ".txt"]
    rows = [row for part in parts for row in scan_rows(asdict(part), shards=SHARDS)]
    assert scanned_fingerprint(rows) == corpus_sharded_fingerprint(load_corpus(folder), SHARDS)


def test_a_part_that_cannot_be_read_gives_its_error(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("A good document about bread.\n", encoding="utf-8")
    (tmp_path / "empty.md").write_text("   \n", encoding="utf-8")
    parts, _ = corpus_parts(tmp_path, ReportBuilder())
    errors = {Path(p.shown).name: scan_rows(asdict(p), shards=SHARDS)[0]["error"] for p in parts}
    assert errors["good.txt"] == "" and "empty" in errors["empty.md"]


def test_a_shard_summary_finds_a_doc_id_used_twice(tmp_path: Path) -> None:
    rows = [
        {"part": 0, "place": 0, "shard": 1, "doc_id": "a", "hash": "h1", "error": ""},
        {"part": 2, "place": 2 << 32, "shard": 1, "doc_id": "b", "hash": "h2", "error": ""},
        {"part": 1, "place": 1 << 32, "shard": 1, "doc_id": "a", "hash": "h3", "error": ""},
    ]
    found = summaries(rows)[1]
    assert found["duplicate"] == "a" and json.loads(found["duplicate_parts"]) == [0, 1]
    assert int(found["documents"]) == 3
    assert found["fingerprint"] == shard_fingerprint(["h1", "h3", "h2"])  # in corpus order
    assert summaries(rows[:2])[1]["duplicate"] == ""


def test_a_small_corpus_jsonl_still_gives_every_cpu_parts(tmp_path: Path) -> None:
    """A part's rows are embedded by one actor: a small file is cut into PARTS_PER_CPU parts a CPU."""
    path = tmp_path / "corpus.jsonl"
    line = json.dumps({"_id": "x", "title": "t", "text": "word " * 200}) + "\n"
    path.write_text("".join(line.replace('"x"', f'"d{n}"') for n in range(400)), encoding="utf-8")
    size = path.stat().st_size
    assert part_size(size, 2) < size // 7
    parts, _ = corpus_parts(tmp_path, ReportBuilder(), cpus=2)
    assert PARTS_PER_CPU * 2 <= len(parts) <= PARTS_PER_CPU * 2 + 1
    assert part_size(10**12, 2) == JSONL_PART_BYTES and part_size(10, 64) == MIN_PART_BYTES
