"""Load a BEIR dataset folder (corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv) into citeqa types.

Every malformed input raises ``CorpusError`` naming the file, the line and the field, and saying what to fix.
Files are read as bytes and decoded one line at a time, so a large corpus is streamed and a bad byte is
reported with its line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from corpus.beir import (
    CORPUS_FILE,
    as_strings,
    beir_error,
    load_beir_corpus,
    metadata_field,
    read_lines,
    read_records,
    record_id,
    required_text,
    resolve_file,
)
from corpus.types import Document
from eval.metrics import Qrels

QUERIES_FILE = "queries.jsonl"
QRELS_HEADER = ("query-id", "corpus-id", "score")
_INTEGER = re.compile(r"[+-]?[0-9]+")


@dataclass(frozen=True)
class Query:
    qid: str
    text: str
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BeirDataset:
    """A BEIR dataset; ``queries`` holds only the queries judged in ``qrels``."""

    name: str
    corpus: list[Document]
    queries: dict[str, Query]
    qrels: Qrels


def _tsv_bad_field(text: str) -> str | None:
    return next(
        (name for name, cell in zip(QRELS_HEADER, text.split("\t"), strict=False) if "\ufffd" in cell), None
    )


def load_queries(path: Path | str) -> dict[str, Query]:
    """Queries of a queries.jsonl file, or of the queries.jsonl in folder ``path``, by id, in file order."""
    file = resolve_file(Path(path), QUERIES_FILE)
    seen: dict[str, int] = {}
    queries: dict[str, Query] = {}
    for number, record in read_records(file):
        qid = record_id(file, number, record, seen)
        text = required_text(file, number, record)
        queries[qid] = Query(qid=qid, text=text, metadata=as_strings(metadata_field(file, number, record)))
    if not queries:
        raise beir_error(file, None, None, "holds no queries", "write one JSON object per query")
    return queries


# Qrels.


def _check_header(path: Path, line: tuple[int, str] | None) -> None:
    expected = "\t".join(QRELS_HEADER)
    fix = f"start the file with the tab-separated header {expected!r}"
    if line is None:
        raise beir_error(path, None, "header", "the file is empty", fix)
    number, text = line
    if tuple(cell.strip() for cell in text.split("\t")) != QRELS_HEADER:
        raise beir_error(path, number, "header", f"expected {expected!r}, found {text[:80]!r}", fix)


def _qrels_row(path: Path, number: int, text: str) -> tuple[str, str, int]:
    cells = [cell.strip() for cell in text.split("\t")]
    if len(cells) != len(QRELS_HEADER):
        hint = " (columns must be separated by tabs, not spaces)" if len(cells) == 1 and " " in text else ""
        problem = f"expected 3 tab-separated columns (query-id, corpus-id, score), found {len(cells)}{hint}"
        raise beir_error(path, number, "columns", problem, "write one judgment per line")
    qid, doc_id, score = cells
    for name, value in (("query-id", qid), ("corpus-id", doc_id)):
        if not value:
            raise beir_error(path, number, name, "is empty", "write the id")
    if not _INTEGER.fullmatch(score):
        raise beir_error(
            path, number, "score", f"must be an integer, found {score!r}", "write a whole number grade"
        )
    return qid, doc_id, int(score)


def _check_known(path: Path, number: int, name: str, value: str, known: set[str] | None, where: str) -> None:
    if known is not None and value not in known:
        fix = f"fix the id or add it to {where}"
        raise beir_error(path, number, name, f"{value!r} is not in {where}", fix)


def load_qrels(
    path: Path | str, corpus_ids: set[str] | None = None, query_ids: set[str] | None = None
) -> Qrels:
    """Graded judgments of a qrels .tsv file; ids are checked against corpus_ids/query_ids if given."""
    file = Path(path)
    if file.is_dir():
        fix = f"pass the qrels file itself, e.g. {file / 'test.tsv'}"
        raise beir_error(file, None, None, "is a folder", fix)
    if not file.is_file():
        raise beir_error(file, None, None, "file not found", "expected a tab-separated qrels file here")
    lines = read_lines(file, _tsv_bad_field)
    _check_header(file, next(lines, None))
    qrels: Qrels = {}
    seen: dict[tuple[str, str], int] = {}
    for number, text in lines:
        qid, doc_id, score = _qrels_row(file, number, text)
        _check_known(file, number, "query-id", qid, query_ids, "the queries")
        _check_known(file, number, "corpus-id", doc_id, corpus_ids, "the corpus")
        if (qid, doc_id) in seen:
            problem = f"duplicate judgment of ({qid!r}, {doc_id!r}), first on line {seen[qid, doc_id]}"
            raise beir_error(file, number, "corpus-id", problem, "keep one line per query and document")
        seen[qid, doc_id] = number
        qrels.setdefault(qid, {})[doc_id] = score
    if not qrels:
        raise beir_error(
            file, None, None, "holds no judgments", "write one 'query-id, corpus-id, score' line each"
        )
    if not any(score > 0 for judged in qrels.values() for score in judged.values()):
        # Every metric would read 0.000 for every mode, as if retrieval had failed, with no query scored.
        raise beir_error(
            file,
            None,
            "score",
            "no judgment is relevant (every score is 0 or below), so no query can be scored",
            "give each relevant document a score of 1 or more (0 marks a judged, non-relevant one)",
        )
    return qrels


def load_beir_dataset(folder: Path | str, split: str = "test") -> BeirDataset:
    """Corpus, queries and qrels/SPLIT.tsv of a BEIR folder, cross-checked; keeps only the judged queries."""
    root = Path(folder)
    if not root.is_dir():
        expected = f"{CORPUS_FILE}, {QUERIES_FILE} and qrels/{split}.tsv"
        problem = "is a file, not a dataset folder" if root.exists() else "dataset folder not found"
        hint = f"pass its folder, {root.parent}," if root.name == CORPUS_FILE else "pass a folder"
        raise beir_error(root, None, None, problem, f"{hint} holding {expected}")
    corpus = load_beir_corpus(root)
    all_queries = load_queries(root)
    qrels_file = root / "qrels" / f"{split}.tsv"
    others = sorted(path.name for path in (root / "qrels").glob("*.tsv")) if (root / "qrels").is_dir() else []
    if not qrels_file.is_file() and others:
        fix = (
            f"the folder's qrels are {', '.join(others)}: the {split} split is scored; copy the folder and "
            f"name the split to score qrels/{split}.tsv"
        )
        raise beir_error(qrels_file, None, None, "file not found", fix)
    qrels = load_qrels(qrels_file, {document.doc_id for document in corpus}, set(all_queries))
    queries = {qid: query for qid, query in all_queries.items() if qid in qrels}
    return BeirDataset(name=root.resolve().name, corpus=corpus, queries=queries, qrels=qrels)
