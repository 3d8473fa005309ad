"""The hand-written evaluation set: questions labelled with exact quotes from the documents.

Quotes, not passage ids, are the labels, so they survive any re-chunking: a passage is relevant to
a question when it contains one of the question's gold quotes (by character span). When no passage
holds a quote whole (it straddles a passage boundary), the passages that hold at least half of it
count instead, so a label never silently drops out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from corpus.errors import CorpusError
from corpus.types import Document
from eval.metrics import Qrels
from indexer.types import Passage

DEFAULT_SEED_SET = Path(__file__).resolve().parent / "sets" / "seed.jsonl"


@dataclass(frozen=True)
class EvalQuestion:
    qid: str
    question: str
    answerable: bool
    doc_id: str | None
    section: str | None
    gold: tuple[str, ...]
    kind: str | None = None


def load_eval_set(path: Path = DEFAULT_SEED_SET) -> list[EvalQuestion]:
    questions = []
    with Path(path).open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                questions.append(
                    EvalQuestion(
                        qid=record["id"],
                        question=record["question"],
                        answerable=bool(record["answerable"]),
                        doc_id=record.get("doc_id"),
                        section=record.get("section"),
                        gold=tuple(record.get("gold", ())),
                        kind=record.get("kind"),
                    )
                )
            except (json.JSONDecodeError, KeyError, TypeError) as err:
                raise CorpusError(f"{path}: line {number}: bad evaluation record ({err!r})") from None
    return questions


def gold_spans(question: EvalQuestion, documents: dict[str, Document]) -> list[tuple[str, int, int]]:
    """(doc_id, start, end) of every gold quote; a quote missing from its document is an error."""
    if not question.answerable:
        return []
    document = documents.get(question.doc_id or "")
    if document is None:
        raise CorpusError(f"question {question.qid}: doc_id {question.doc_id!r} is not in the corpus")
    spans = []
    for quote in question.gold:
        start = document.text.find(quote)
        if start < 0:
            raise CorpusError(
                f"question {question.qid}: gold quote not found in {document.doc_id}: {quote!r}"
            )
        spans.append((document.doc_id, start, start + len(quote)))
    return spans


def relevant_passages(spans: list[tuple[str, int, int]], passages: list[Passage]) -> set[int]:
    relevant: set[int] = set()
    for doc_id, start, end in spans:
        same_doc = [p for p in passages if p.doc_id == doc_id]
        whole = {p.passage_id for p in same_doc if p.start <= start and end <= p.end}
        if not whole:
            half = (end - start) / 2
            whole = {p.passage_id for p in same_doc if min(end, p.end) - max(start, p.start) >= half}
        relevant |= whole
    return relevant


def seed_qrels(
    questions: list[EvalQuestion], documents: dict[str, Document], passages: list[Passage]
) -> Qrels:
    """Passage-level qrels of the answerable questions (passage ids as strings)."""
    return {
        q.qid: {str(pid): 1 for pid in relevant_passages(gold_spans(q, documents), passages)}
        for q in questions
        if q.answerable
    }
