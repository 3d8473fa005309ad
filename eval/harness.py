"""Score retrieval of the seed evaluation set in every mode (the report is written by eval.seed_report)."""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass, field

from citeqa.answers import Answerer, Result
from citeqa.dedup import DEFAULT_DEDUP_RULE, DedupRule
from citeqa.search import Searcher
from citeqa.types import SEARCH_MODES, SearchMode
from eval.metrics import Qrels, Run, bootstrap_ci, evaluate, rank_items
from eval.seed_set import EvalQuestion, gold_spans, relevant_passages, seed_qrels
from indexer.types import Passage

SEED_METRICS = ("hit@1", "hit@3", "hit@5", "hit@10", "mrr@10", "ndcg@10")
RUN_DEPTH = 10


@dataclass(frozen=True)
class ModeScores:
    mode: SearchMode
    metrics: dict[str, float]
    intervals: dict[str, tuple[float, float]]
    per_query: dict[str, dict[str, float]]
    ms_per_query: float
    # Rank (1-based) of the first relevant passage in the top RUN_DEPTH, None when none is there.
    first_gold_rank: dict[str, int | None] = field(default_factory=dict)


def passage_run(
    searcher: Searcher,
    questions: list[EvalQuestion],
    mode: SearchMode,
    depth: int,
    qrels: Qrels | None = None,
    dedup: DedupRule = DEFAULT_DEDUP_RULE,
) -> Run:
    """Rank-preserving run of the results the service returns (deduplicated): score = depth - position,
    so metric tie-breaks cannot reorder it.

    A result is keyed by a passage it holds whole: a relevant one when there is one (by ``qrels``), else its
    best passage. A result trimmed to part of a passage (see citeqa.dedup) is relevant when its span holds
    a gold quote whole, and is then keyed by a relevant passage of that quote that no earlier result took;
    otherwise it is keyed ``trimmed:<id>`` and never counts. Results never share a passage, so keys are
    unique; nDCG credits a merged result once even when it holds two relevant passages.
    """
    answerer = Answerer(searcher, dedup=dedup)
    documents, passages = searcher.index.documents, searcher.index.passages
    run: Run = {}
    for q in questions:
        relevant = (qrels or {}).get(q.qid, {})
        spans = gold_spans(q, documents) if relevant else []
        results = answerer.results(q.question, mode)[:depth]
        keys: dict[str, float] = {}
        for pos, r in enumerate(results):
            key = result_key(r, searcher, relevant)
            if key.startswith("trimmed:"):
                key = gold_quote_key(r, spans, passages, taken=keys.keys()) or key
            if key in keys:  # a passage keyed to an earlier result's gold quote: credit it once
                key = f"again:{pos}"
            keys[key] = float(depth - pos)
        run[q.qid] = keys
    return run


def gold_quote_key(
    result: Result,
    spans: list[tuple[str, int, int]],
    passages: list[Passage],
    taken: Collection[str],
) -> str | None:
    """A relevant passage id for a (trimmed) result whose cited span holds a gold quote whole, or None."""
    c = result.citation
    for span in spans:
        doc_id, start, end = span
        if doc_id == c.doc_id and c.start <= start and end <= c.end:
            free = sorted(str(pid) for pid in relevant_passages([span], passages) if str(pid) not in taken)
            if free:
                return free[0]
    return None


def first_relevant_ranks(qrels: Qrels, run: Run) -> dict[str, int | None]:
    """Per query of ``qrels``: the rank of its first relevant item in ``run`` (metrics' ordering), or None."""
    ranks: dict[str, int | None] = {}
    for qid, grades in qrels.items():
        ranked = rank_items(run.get(qid, {}))
        ranks[qid] = next((r for r, item in enumerate(ranked, 1) if grades.get(item, 0) > 0), None)
    return ranks


def result_key(result: Result, searcher: Searcher, relevant: dict[str, int]) -> str:
    c = result.citation
    held = [
        p.passage_id
        for p in searcher.index.passages
        if p.doc_id == c.doc_id and c.start <= p.start and p.end <= c.end
    ]
    hits = [pid for pid in held if relevant.get(str(pid), 0) > 0]
    if hits:
        return str(hits[0])
    head = result.passage_ids[0]
    return str(head) if head in held else f"trimmed:{head}"


def score_mode(qrels: Qrels, run: Run, metrics: tuple[str, ...]) -> tuple[dict, dict, dict]:
    results = evaluate(qrels, run, metrics)
    means = {name: r.mean for name, r in results.items()}
    intervals = {name: bootstrap_ci(list(r.per_query.values())) for name, r in results.items() if r.per_query}
    per_query = {name: r.per_query for name, r in results.items()}
    return means, intervals, per_query


def evaluate_seed(
    searcher: Searcher,
    questions: list[EvalQuestion],
    modes: tuple[SearchMode, ...] = SEARCH_MODES,
    dedup: DedupRule = DEFAULT_DEDUP_RULE,
) -> list[ModeScores]:
    qrels = seed_qrels(questions, searcher.index.documents, searcher.index.passages)
    answerable = [q for q in questions if q.answerable]
    scores = []
    for mode in modes:
        started = time.perf_counter()
        run = passage_run(searcher, answerable, mode, RUN_DEPTH, qrels, dedup)
        elapsed = (time.perf_counter() - started) * 1000 / max(len(answerable), 1)
        means, intervals, per_query = score_mode(qrels, run, SEED_METRICS)
        ranks = first_relevant_ranks(qrels, run)
        scores.append(ModeScores(mode, means, intervals, per_query, elapsed, ranks))
    return scores


def markdown_table(scores: list[ModeScores], metrics: tuple[str, ...]) -> str:
    header = "| mode | " + " | ".join(metrics) + " | ms/query |"
    rule = "|---" * (len(metrics) + 2) + "|"
    rows = [
        f"| {s.mode} | " + " | ".join(f"{s.metrics[m]:.3f}" for m in metrics) + f" | {s.ms_per_query:.1f} |"
        for s in scores
    ]
    return "\n".join([header, rule, *rows])
