"""A benchmark outside medicine, in the BEIR layout, made from the Perl FAQ (perlfaq1-9, Debian's perl-doc).

    apt-get download perl-doc && dpkg-deb -x perl-doc_*.deb var/perl-doc
    python -m eval.perlfaq --pods var/perl-doc/usr/share/perl/5.36.0/pod --out var/bench/perlfaq
    citeqa eval --dataset var/bench/perlfaq                   # retrieval, document level
    citeqa eval --questions var/bench/perlfaq/questions.jsonl --index var/eval/indexes/perlfaq-...

Every ``=head2`` of a perlfaq page is a question people asked ("How do I sort a hash by value?"); the
text under it, up to the next heading, is its answer. The answers are the corpus (titled by their page's
topic, e.g. "Data Manipulation", never by the question), the questions the queries, and each question is
judged relevant to its own answer alone. POD markup is reduced to plain text (formatting codes to their
text, list and heading commands to their text, verbatim code kept). It measures what the project's
question tower (fitted on medquad-dev's medical questions) does to questions of another field, written
by other people.

``--pages-out`` (default: beside ``--out``, ``var/bench/perlfaq-pages``) gets the same questions over the
FAQ as its pages are written: one document per page, each question on its own line followed by its answer
(``write_pages``): the check that the answer choice answers an FAQ with the sentences after the question
asked.

``questions.jsonl`` beside them is the same questions as an evaluation set (citeqa eval --questions):
answerable, each with its answer's first sentence as the gold quote (the first of at least five words that
is not a "(contributed by ...)" line), followed by the on-topic questions the FAQ does not answer, written
for this check (``eval/sets/perlfaq_unanswerable.jsonl``): how often the service says so on a corpus no
calibration was fitted on.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from indexer.chunking import sentence_spans

UNANSWERABLE = Path(__file__).with_name("sets") / "perlfaq_unanswerable.jsonl"
PAGES = tuple(f"perlfaq{n}" for n in range(1, 10))
_NAME = re.compile(r"^=head1 NAME\s*\n\s*\n\s*perlfaq\d+\s+-\s+(.+?)\s*$", re.MULTILINE)
_QUESTION = re.compile(r"^=head2\s+(.+?)\s*$", re.MULTILINE)
# Formatting codes: X<< text >> with two to four brackets (spaces inside, POD's rule), then X<text>
# innermost first; E<name> is an escape.
_ESCAPES = {"lt": "<", "gt": ">", "verbar": "|", "sol": "/", "quot": '"', "amp": "&"}
_CODES = (
    *(re.compile(rf"([A-Z])<{{{n}}}\s+(.*?)\s+>{{{n}}}", re.DOTALL) for n in (4, 3, 2)),
    re.compile(r"([A-Z])<([^<>]*)>"),
)


@dataclass(frozen=True)
class FaqEntry:
    page: str
    number: int
    topic: str
    question: str
    answer: str

    @property
    def doc_id(self) -> str:
        return f"{self.page}-{self.number:03d}"

    def gold(self) -> str:
        """The answer's first sentence of five words or more that is not a credit line (or its start)."""
        for span in sentence_spans(self.answer):
            text = self.answer[span.start : span.end]
            if len(text.split()) >= 5 and not text.startswith("(contributed by"):
                return text
        return self.answer


def plain(pod: str) -> str:
    """POD text as plain text: formatting codes replaced by their text (a link by its text, or its target
    when it has none), command paragraphs by their words, ``=begin``/``=for`` blocks dropped."""
    lines, skipping = [], False
    for line in pod.splitlines():
        if line.startswith("=begin"):
            skipping = True
            continue
        if line.startswith("=end"):
            skipping = False
            continue
        if skipping or line.startswith(("=for", "=over", "=back", "=cut", "=pod", "=encoding")):
            continue
        if line.startswith("=item"):
            line = line[len("=item") :].strip()
            line = "" if line in ("*", "") else line
        elif line.startswith("=head"):
            line = line.split(maxsplit=1)[1] if " " in line else ""
        lines.append(line)
    text = "\n".join(lines)
    for code in _CODES[:-1]:
        text = code.sub(_replace_code, text)
    while (replaced := _CODES[-1].sub(_replace_code, text)) != text:
        text = replaced
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _replace_code(match: re.Match[str]) -> str:
    code, body = match.group(1), match.group(2)
    if code == "E":
        return _ESCAPES.get(body, body)
    if code in ("X", "Z"):
        return ""
    if code == "L":
        text, _, target = body.partition("|")
        return text if target else body.replace('/"', ' "')
    return body


def entries(pod_dir: Path) -> Iterator[FaqEntry]:
    """Every question of perlfaq1-9 with its answer, in page order."""
    for page in PAGES:
        source = (pod_dir / f"{page}.pod").read_text(encoding="utf-8")
        name = _NAME.search(source)
        topic = name.group(1) if name else page
        heads = list(_QUESTION.finditer(source))
        for number, head in enumerate(heads, start=1):
            end = heads[number].start() if number < len(heads) else len(source)
            body = source[head.end() : end]
            body = body.split("\n=head1", 1)[0]  # AUTHOR AND COPYRIGHT after the last question
            answer = plain(body)
            if len(answer.split()) >= 5:
                yield FaqEntry(page, number, topic, plain(head.group(1)), answer)


def write_beir(found: Sequence[FaqEntry], out: Path, unanswerable: Path = UNANSWERABLE) -> None:
    """corpus.jsonl, queries.jsonl and qrels/test.tsv in ``out``, and questions.jsonl: the evaluation set
    of ``found`` (answerable) followed by the questions of ``unanswerable``."""
    (out / "qrels").mkdir(parents=True, exist_ok=True)
    with (out / "corpus.jsonl").open("w", encoding="utf-8") as corpus:
        for e in found:
            record = {"_id": e.doc_id, "title": e.topic, "text": e.answer, "metadata": {"page": e.page}}
            corpus.write(json.dumps(record, ensure_ascii=False) + "\n")
    write_questions(found, out, unanswerable, lambda e: e.doc_id)


def write_pages(found: Sequence[FaqEntry], out: Path, unanswerable: Path = UNANSWERABLE) -> None:
    """The same questions over the FAQ as its pages are written: one document per perlfaq page, each entry
    its question on a line of its own, then its answer. The answer is the sentences after the question,
    which the answer choice must see (its questions are the FAQ's own, so retrieval is easy here)."""
    (out / "qrels").mkdir(parents=True, exist_ok=True)
    pages = {e.page: e.topic for e in found}
    with (out / "corpus.jsonl").open("w", encoding="utf-8") as corpus:
        for page, topic in pages.items():
            text = "\n\n".join(f"{e.question}\n\n{e.answer}" for e in found if e.page == page)
            corpus.write(json.dumps({"_id": page, "title": topic, "text": text}, ensure_ascii=False) + "\n")
    write_questions(found, out, unanswerable, lambda e: e.page)


def write_questions(
    found: Sequence[FaqEntry], out: Path, unanswerable: Path, document_of: Callable[[FaqEntry], str]
) -> None:
    """queries.jsonl and qrels/test.tsv in ``out`` (each question judged against the document
    ``document_of`` names), and questions.jsonl: the same questions, answerable, with their answer's first
    sentence as the gold quote, followed by the questions of ``unanswerable``."""
    with (out / "queries.jsonl").open("w", encoding="utf-8") as queries:
        for e in found:
            record = {"_id": f"{e.doc_id}-q", "text": e.question, "metadata": {"page": e.page}}
            queries.write(json.dumps(record, ensure_ascii=False) + "\n")
    rows = ["query-id\tcorpus-id\tscore", *(f"{e.doc_id}-q\t{document_of(e)}\t1" for e in found)]
    (out / "qrels" / "test.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    with (out / "questions.jsonl").open("w", encoding="utf-8") as questions:
        for e in found:
            record = {
                "id": f"{e.doc_id}-q",
                "question": e.question,
                "answerable": True,
                "doc_id": document_of(e),
                "gold": [e.gold()],
            }
            questions.write(json.dumps(record, ensure_ascii=False) + "\n")
        questions.write(unanswerable.read_text(encoding="utf-8"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.perlfaq", description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=Path, required=True, help="folder of perlfaq1.pod .. perlfaq9.pod")
    parser.add_argument("--out", type=Path, default=Path("var/bench/perlfaq"))
    parser.add_argument(
        "--pages-out",
        type=Path,
        default=None,
        help="where the same questions go over the FAQ as pages (each question, then its answer; "
        "default: beside --out, its name and -pages)",
    )
    parser.add_argument(
        "--unanswerable", type=Path, default=UNANSWERABLE, help="JSONL of questions the FAQ does not answer"
    )
    args = parser.parse_args(argv)
    found = list(entries(args.pods))
    write_beir(found, args.out, args.unanswerable)
    pages_out = args.pages_out or args.out.with_name(f"{args.out.name}-pages")
    write_pages(found, pages_out, args.unanswerable)
    written = f"{args.out} and {pages_out}"
    print(f"{len(found)} questions and answers of {len(PAGES)} pages written to {written}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
