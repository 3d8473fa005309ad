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
    """The questions of a JSONL file, one ``{"id", "question", "answerable"}`` object a line (``doc_id``,
    ``gold``, ``section`` and ``kind`` optional). A file that is missing or holds no question, a line whose
    fields have the wrong type (``"answerable": "false"`` would read as true, a ``"gold"`` string as one
    quote per character) and an ``id`` used twice (one question's scores would replace the other's) are
    refused with the line and what to write."""
    try:
        # utf-8-sig: a file saved with a byte-order mark (Windows editors) reads as its questions, as a BEIR
        # queries.jsonl does.
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise CorpusError(f"{path}: file not found; pass a JSONL file of questions") from None
    except UnicodeDecodeError as err:
        raise CorpusError(f"{path}: not valid UTF-8 (byte {err.start}); save the file as UTF-8") from None
    except OSError as err:
        raise CorpusError(f"{path}: cannot be read ({err.strerror}); pass a JSONL file of questions") from err
    questions = []
    first_line: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}: line {number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise CorpusError(f"{where}: invalid JSON ({err.msg}); write one JSON object a line") from None
        question = eval_question(record, where)
        if question.qid in first_line:
            raise CorpusError(
                f"{where}: id {question.qid!r} is already used on line {first_line[question.qid]}; "
                "give every question its own id"
            )
        first_line[question.qid] = number
        questions.append(question)
    if not questions:
        raise CorpusError(
            f'{path}: holds no questions; write one {{"id", "question", "answerable"}} JSON object a line'
        )
    return questions


def eval_question(record: object, where: str) -> EvalQuestion:
    """One line's question, its fields checked (``where`` names the file and line in the error)."""
    if not isinstance(record, dict):
        raise CorpusError(f"{where}: expected a JSON object, found {type(record).__name__}")
    qid = record.get("id")
    if isinstance(qid, int) and not isinstance(qid, bool):
        qid = str(qid)  # a number is its string, as a BEIR `_id` is
    question = record.get("question")
    for field, value in (("id", qid), ("question", question)):
        if not isinstance(value, str) or not value.strip():
            raise CorpusError(f"{where}: field {field!r} must be a non-empty string, found {value!r}")
    answerable = record.get("answerable")
    if not isinstance(answerable, bool):
        raise CorpusError(f"{where}: field 'answerable' must be true or false, found {answerable!r}")
    for field in ("doc_id", "section", "kind"):
        value = record.get(field)
        if value is not None and not isinstance(value, str):
            raise CorpusError(f"{where}: field {field!r} must be a string, found {value!r}")
    gold = record.get("gold", [])
    if not isinstance(gold, list) or not all(isinstance(q, str) and q for q in gold):
        raise CorpusError(
            f"{where}: field 'gold' must be a list of non-empty quotes, found {gold!r}; "
            'write "gold": ["..."]'
        )
    return EvalQuestion(
        qid=qid,
        question=question,
        answerable=answerable,
        doc_id=record.get("doc_id"),
        section=record.get("section"),
        gold=tuple(gold),
        kind=record.get("kind"),
    )


def gold_spans(question: EvalQuestion, documents: dict[str, Document]) -> list[tuple[str, int, int]]:
    """(doc_id, start, end) of every occurrence of every gold quote; a quote missing from its document is an
    error."""
    if not question.answerable:
        return []
    if question.doc_id is None or not question.gold:
        missing = "doc_id" if question.doc_id is None else "gold quotes"
        raise CorpusError(
            f"question {question.qid}: answerable, but gives no {missing}; scoring retrieval needs both: add "
            '"doc_id" and "gold": ["a quote from the document"], or mark it "answerable": false'
        )
    document = documents.get(question.doc_id)
    if document is None:
        raise CorpusError(f"question {question.qid}: doc_id {question.doc_id!r} is not in the corpus")
    spans = []
    for quote in question.gold:
        start = document.text.find(quote)
        if start < 0:
            raise CorpusError(
                f"question {question.qid}: gold quote not found in {document.doc_id}: {quote!r}"
            )
        # Every occurrence: a passage quoting the same text further on answers as well (only the first
        # counted, so a hit on a later occurrence was scored as a miss).
        while start >= 0:
            spans.append((document.doc_id, start, start + len(quote)))
            start = document.text.find(quote, start + 1)
    return spans


def check_labels(
    questions: list[EvalQuestion], documents: dict[str, Document], path: Path, index: Path, default: bool
) -> None:
    """Every labelled answerable question's doc_id and gold quotes are in the index's documents; else one
    error naming the question file, the question and the index (and, for the packaged seed set, that it is
    about the default corpus only), before anything is scored."""
    for question in questions:
        if not (question.answerable and question.doc_id is not None and question.gold):
            continue
        try:
            gold_spans(question, documents)
        except CorpusError as err:
            hint = (
                f"the seed set {path} labels the default corpus's articles: score your index with your own "
                "questions, --questions MY.jsonl"
                if default
                else "copy the doc_id and each gold quote exactly from the index's documents"
            )
            raise CorpusError(f"{path}: {err} (the index at {index}); {hint}") from None


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
