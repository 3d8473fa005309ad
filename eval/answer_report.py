"""The answer measures of `citeqa eval` (seed set or any labelled set): how often the served answer
sentence is on a gold quote, and how long the snippets are, with 95% bootstrap intervals, over all
answerable questions and over the held-out part apart (eval.held_out: never used in any fitting)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from citeqa.answers import Answerer
from corpus.types import Document
from eval.held_out import bootstrap_interval, is_held_out
from eval.seed_set import EvalQuestion, gold_spans

SNIPPET_DEPTH = 5  # snippets measured over each question's first five results


@dataclass(frozen=True)
class AnswerView:
    set_name: str
    hits: dict[str, bool]  # answerable question -> its answer (as served, top 5, hybrid) is on a gold quote
    snippet_chars: dict[str, float]  # question -> mean snippet length of its first results
    result_chars: dict[str, float]  # question -> mean length of those results' full text

    def held_out(self, qid: str) -> bool:
        return is_held_out(self.set_name, qid)

    def parts(self) -> list[tuple[str, list[str]]]:
        every = list(self.hits)
        held = [q for q in every if self.held_out(q)]
        rest = [q for q in every if not self.held_out(q)]
        return [("all answerable", every), ("held out", held), ("the rest", rest)]


def on_gold(
    question: EvalQuestion, documents: Mapping[str, Document], doc_id: str, start: int, end: int
) -> bool:
    return any(
        d == doc_id and min(e, end) > max(s, start) for d, s, e in gold_spans(question, dict(documents))
    )


def answer_view(answerer: Answerer, questions: Sequence[EvalQuestion], set_name: str) -> AnswerView:
    documents = answerer.searcher.index.documents
    hits: dict[str, bool] = {}
    snippets: dict[str, float] = {}
    results: dict[str, float] = {}
    for q in questions:
        response = answerer.respond(q.question, SNIPPET_DEPTH, "hybrid")
        if response.results:
            snippets[q.qid] = float(np.mean([len(r.snippet.text) for r in response.results if r.snippet]))
            results[q.qid] = float(np.mean([len(r.text) for r in response.results]))
        if q.answerable:
            a = response.answer
            hits[q.qid] = a is not None and on_gold(
                q, documents, a.citation.doc_id, a.citation.start, a.citation.end
            )
    return AnswerView(set_name, hits, snippets, results)


def _measure(values: Sequence[float]) -> dict[str, Any]:
    array = np.asarray(values, dtype=np.float64)
    low, high = bootstrap_interval(array)
    return {"n": len(array), "mean": float(array.mean()) if len(array) else 0.0, "ci95": [low, high]}


def answer_json(view: AnswerView) -> dict[str, Any]:
    return {
        "set": view.set_name,
        "answer_on_gold": {name: _measure([view.hits[q] for q in qids]) for name, qids in view.parts()},
        "snippet_chars": _measure(list(view.snippet_chars.values())),
        "result_chars": _measure(list(view.result_chars.values())),
        "rule": "answer as served (hybrid, top 5) overlaps a gold quote; snippet and result lengths are "
        "means over each question's first five results; ci95: 95% bootstrap over questions",
    }


def answer_lines(view: AnswerView) -> list[str]:
    measures = answer_json(view)
    lines = [
        "## The answer sentence and the snippets",
        "",
        "| part | questions | answer on a gold quote | 95% interval |",
        "|---|---|---|---|",
    ]
    for name, m in measures["answer_on_gold"].items():
        lines.append(f"| {name} | {m['n']} | {m['mean']:.3f} | [{m['ci95'][0]:.3f}, {m['ci95'][1]:.3f}] |")
    s, r = measures["snippet_chars"], measures["result_chars"]
    lines += [
        "",
        f"Snippet length: {s['mean']:.0f} characters [{s['ci95'][0]:.0f}, {s['ci95'][1]:.0f}] on average "
        f"over the first five results, against {r['mean']:.0f} [{r['ci95'][0]:.0f}, {r['ci95'][1]:.0f}] "
        "for the full result text. Held out: a quarter of the set by a hash of its id (eval.held_out), "
        "never used to fit the answer choice (python -m eval.answer_fit).",
        "",
    ]
    return lines
