"""Reading a corpus on Ray Data, the first stage of ``citeqa index --engine ray``.

The driver lists the work and reads no document: the files of a documents folder (listed as
corpus.ingest lists them, sorted, with the same skips), or byte ranges of a BEIR corpus.jsonl cut at line
ends. Ray tasks read and parse every part with the readers of a local build
(``corpus.ingest.read_document_file``, ``corpus.beir.documents_in_range``), so the documents are the
same. A document's place in the corpus is (part, position in the part), which sorts as a local read does.

``scan_corpus`` is a first pass that carries a few small fields per document (its shard, place, doc_id
and content hash): it checks the corpus (files that cannot be read, doc_ids used twice) and fingerprints
it, so that ``--if-stale`` can skip the build, without the corpus being held anywhere. The build then
reads the parts again, streaming, into chunking and embedding (``indexer.ray_build``).

On a cluster, the corpus must be on a filesystem every node sees, as the destination must.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from corpus.beir import corpus_file, documents_in_range, line_ranges
from corpus.errors import CorpusError, DuplicateDocumentIdError
from corpus.ingest import document_files, read_document_file, skip_beside
from corpus.loader import DUPLICATE_ID_FIX
from corpus.report import IngestReport, ReportBuilder
from corpus.sources import is_beir_corpus
from corpus.types import Document
from indexer.index_folder import content_hash, document_record
from indexer.shards import shard_fingerprint, shard_of, sharded_fingerprint

JSONL_PART_BYTES = 4 * 2**20  # the largest part of a corpus.jsonl
MIN_PART_BYTES = 16 * 2**10
PARTS_PER_CPU = 4  # a small corpus.jsonl is still cut into this many parts a CPU, so every embedder works
PLACE_BITS = 32  # a place is part << PLACE_BITS | position in the part
LIGHT_TASK_CPUS = 0.1


@dataclass(frozen=True)
class CorpusPart:
    """One unit of reading: a file of a documents folder, or the lines of a corpus.jsonl that begin in
    bytes [start, end). ``path`` is absolute (a Ray worker's working folder is not the driver's);
    ``shown`` is the path as the owner gave it."""

    number: int
    path: str
    shown: str
    lines: bool = False
    start: int = 0
    end: int = 0


def place(part: int, position: int) -> int:
    return (part << PLACE_BITS) | position


def part_size(size: int, cpus: int) -> int:
    """The byte size of a corpus.jsonl's parts: at most JSONL_PART_BYTES, and small enough that a small
    file still gives PARTS_PER_CPU parts a CPU (a part's rows travel as one block, embedded by one actor)."""
    return max(MIN_PART_BYTES, min(JSONL_PART_BYTES, -(-size // (PARTS_PER_CPU * max(1, cpus)))))


def corpus_parts(
    path: Path, report: ReportBuilder, part_bytes: int | None = None, cpus: int = 1
) -> tuple[list[CorpusPart], bool]:
    """The parts of the corpus at ``path`` and whether it is a BEIR corpus.jsonl (cut into parts of
    ``part_bytes``, by default ``part_size`` for ``cpus``); a folder's files that are not documents are
    skipped into ``report`` (as a local read does)."""
    path = Path(path)
    if not path.exists():
        raise CorpusError(f"{path}: no such file or folder; pass a documents folder or a BEIR corpus.jsonl")
    if is_beir_corpus(path):
        file = corpus_file(path)
        if path.is_dir():
            skip_beside(file, report)
        ranges = line_ranges(file, part_bytes or part_size(file.stat().st_size, cpus))
        absolute = str(file.resolve())
        parts = [CorpusPart(n, absolute, str(file), True, s, e) for n, (s, e) in enumerate(ranges)]
        return parts, True
    files = document_files(path, report)
    return [CorpusPart(n, str(f.resolve()), str(f)) for n, f in enumerate(files)], False


def part_documents(part: CorpusPart) -> list[Document]:
    if part.lines:
        return list(documents_in_range(Path(part.path), part.start, part.end, Path(part.shown)))
    return read_document_file(Path(part.path))


def scan_rows(item: dict[str, Any], *, shards: int) -> list[dict[str, Any]]:
    """A part's documents as small rows (a Ray Data ``flat_map``); a part that cannot be read gives one
    row with its error instead."""
    part = CorpusPart(**item)
    try:
        documents = part_documents(part)
    except CorpusError as err:
        return [{"part": part.number, "place": -1, "shard": -1, "doc_id": "", "hash": "", "error": str(err)}]
    return [
        {
            "part": part.number,
            "place": place(part.number, k),
            "shard": shard_of(d.doc_id, shards),
            "doc_id": d.doc_id,
            "hash": content_hash(d),
            "error": "",
        }
        for k, d in enumerate(documents)
    ]


def record_rows(item: dict[str, Any]) -> list[dict[str, Any]]:
    """A part's documents as JSON records in their corpus place (a Ray Data ``flat_map``)."""
    part = CorpusPart(**item)
    return [
        {"order": place(part.number, k), "document": json.dumps(document_record(d), ensure_ascii=False)}
        for k, d in enumerate(part_documents(part))
    ]


def shard_summary(rows: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """One shard's scan rows -> its fingerprint (documents in corpus order), its count, and a doc_id used
    twice if any (a doc_id always hashes to one shard, so a shard sees all its copies)."""
    order = np.argsort(rows["place"], kind="stable")
    ids = rows["doc_id"][order]
    unique, first, counts = np.unique(ids, return_index=True, return_counts=True)
    twice = [(int(first[i]), str(unique[i])) for i in np.flatnonzero(counts > 1)]
    duplicate = min(twice)[1] if twice else ""
    places = rows["part"][order][ids == duplicate][:2] if duplicate else np.array([], dtype=np.int64)
    return {
        "shard": np.array([int(rows["shard"][0])]),
        "fingerprint": np.array([shard_fingerprint(str(h) for h in rows["hash"][order])]),
        "documents": np.array([len(ids)]),
        "duplicate": np.array([duplicate]),
        "duplicate_parts": np.array([json.dumps([int(p) for p in places])]),
    }


@dataclass(frozen=True)
class CorpusScan:
    """What the first pass found: the parts to build from (a part that could not be read, with
    ``skip_bad``, is left out), the ingest report, and the sharded fingerprint."""

    parts: list[CorpusPart]
    report: IngestReport
    documents: int
    fingerprint: str
    shards: int

    def items(self) -> list[dict[str, Any]]:
        return [asdict(part) for part in self.parts]


def scan_corpus(
    path: Path, shards: int, *, skip_bad: bool = False, part_bytes: int | None = None
) -> CorpusScan:
    """Read the corpus at ``path`` on Ray (connected by the caller) into a ``CorpusScan``. A part that
    cannot be read raises its ``CorpusError`` (a folder's file is skipped and reported with ``skip_bad``;
    a corpus.jsonl is read whole or not at all, as locally); so does a doc_id used twice, or no
    documents."""
    import ray
    from ray.data.expressions import col

    report = ReportBuilder()
    cpus = int(ray.cluster_resources().get("CPU", 1))
    parts, beir = corpus_parts(Path(path), report, part_bytes, cpus)
    items = [asdict(part) for part in parts]
    rows = (
        ray.data.from_items(items, override_num_blocks=max(1, len(items)))
        .flat_map(scan_rows, fn_kwargs={"shards": shards}, num_cpus=LIGHT_TASK_CPUS)
        .materialize()
    )
    failed = {int(r["part"]): str(r["error"]) for r in rows.filter(expr=col("error") != "").take_all()}
    if failed and (beir or not skip_bad):
        raise CorpusError(failed[min(failed)])
    good = [part for part in parts if part.number not in failed]
    for part in parts:
        if part.number in failed:
            report.skip(Path(part.shown), failed[part.number])
        elif not beir:
            report.take(Path(part.shown))
    if beir:
        report.take(Path(parts[0].shown))
    documents = rows.filter(expr=col("error") == "")
    summaries = {}
    if documents.count():
        grouped = documents.groupby("shard", num_partitions=max(1, min(shards, 16)))
        summaries = {
            int(s["shard"]): s
            for s in grouped.map_groups(
                shard_summary, batch_format="numpy", num_cpus=LIGHT_TASK_CPUS
            ).take_all()
        }
    duplicated = [s for s in summaries.values() if s["duplicate"]]
    if duplicated:
        first = min(duplicated, key=lambda s: json.loads(s["duplicate_parts"]))
        doc_id, numbers = str(first["duplicate"]), json.loads(first["duplicate_parts"])
        one, other = parts[numbers[0]].shown, parts[numbers[-1]].shown
        if beir:
            raise CorpusError(
                f'{one}: duplicate id {doc_id!r}; give every line a unique, non-empty string "_id"'
            )
        raise DuplicateDocumentIdError(
            f"{other}: field 'doc_id' duplicates {doc_id!r} of {one}; {DUPLICATE_ID_FIX}"
        )
    count = sum(int(s["documents"]) for s in summaries.values())
    if not count:
        raise CorpusError(
            f"no documents could be read from {path}: {len(report.skips)} file(s) skipped"
            + (f"; the first that failed: {failed[min(failed)]}" if failed else "")
        )
    empty = shard_fingerprint([])
    fingerprint = sharded_fingerprint(
        [str(summaries[b]["fingerprint"]) if b in summaries else empty for b in range(shards)]
    )
    return CorpusScan(good, report.build(count), count, fingerprint, shards)
