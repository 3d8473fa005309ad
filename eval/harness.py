"""Score retrieval of the seed evaluation set in every mode and write the report."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from citeqa.answers import Answerer, Result
from citeqa.dedup import DEFAULT_DEDUP_RULE, DedupRule
from citeqa.search import Searcher
from citeqa.types import SEARCH_MODES, SearchMode
from eval.metrics import Qrels, Run, bootstrap_ci, evaluate
from eval.seed_set import EvalQuestion, seed_qrels

SEED_METRICS = ("hit@1", "hit@5", "mrr@10", "ndcg@10")
RUN_DEPTH = 10


@dataclass(frozen=True)
class ModeScores:
    mode: SearchMode
    metrics: dict[str, float]
    intervals: dict[str, tuple[float, float]]
    per_query: dict[str, dict[str, float]]
    ms_per_query: float


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
    best passage; a result trimmed to part of a passage (see citeqa.dedup) is keyed ``trimmed:<id>`` and
    so never counts as relevant (conservative). Results never share a passage, so keys are unique; nDCG
    credits a merged result once even when it holds two relevant passages.
    """
    answerer = Answerer(searcher, dedup=dedup)
    run: Run = {}
    for q in questions:
        relevant = (qrels or {}).get(q.qid, {})
        results = answerer.results(q.question, depth, mode)
        run[q.qid] = {result_key(r, searcher, relevant): float(depth - pos) for pos, r in enumerate(results)}
    return run


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
        scores.append(ModeScores(mode, means, intervals, per_query, elapsed))
    return scores


def markdown_table(scores: list[ModeScores], metrics: tuple[str, ...]) -> str:
    header = "| mode | " + " | ".join(metrics) + " | ms/query |"
    rule = "|---" * (len(metrics) + 2) + "|"
    rows = [
        f"| {s.mode} | " + " | ".join(f"{s.metrics[m]:.3f}" for m in metrics) + f" | {s.ms_per_query:.1f} |"
        for s in scores
    ]
    return "\n".join([header, rule, *rows])


def write_report(
    out_dir: Path, title: str, scores: list[ModeScores], metrics: tuple[str, ...], context: dict[str, Any]
) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = [f"# {title}", "", markdown_table(scores, metrics), ""]
    summary += [f"- {key}: {value}" for key, value in context.items()]
    summary += ["", "95% bootstrap confidence intervals (1,000 resamples over questions):", ""]
    for s in scores:
        cis = ", ".join(f"{m} [{lo:.3f}, {hi:.3f}]" for m, (lo, hi) in s.intervals.items())
        summary.append(f"- {s.mode}: {cis}")
    (out_dir / "summary.md").write_text("\n".join(summary) + "\n", encoding="utf-8")
    results = {
        "title": title,
        "context": context,
        "modes": {
            s.mode: {
                "metrics": s.metrics,
                "ci95": {m: list(ci) for m, ci in s.intervals.items()},
                "ms_per_query": s.ms_per_query,
                "per_query": s.per_query,
            }
            for s in scores
        },
    }
    (out_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return out_dir
