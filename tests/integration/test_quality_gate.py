"""Quality gate: hybrid retrieval of the seed set over the default corpus index, as the service runs it
(the results it returns, near-duplicates merged: see citeqa.dedup and eval.harness.passage_run).

hit@5 (the share of answerable questions with a relevant passage in the first five results; "Recall@5" in
the project's issue) must be at least 0.90.
"""

from __future__ import annotations

from citeqa.search import Searcher
from eval.harness import evaluate_seed
from eval.seed_set import load_eval_set

MIN_HYBRID_HIT_AT_5 = 0.90


def test_hybrid_hit_at_5_on_the_seed_set(searcher: Searcher) -> None:
    questions = load_eval_set()
    [hybrid] = evaluate_seed(searcher, questions, modes=("hybrid",))
    hit_at_5 = hybrid.metrics["hit@5"]
    misses = sorted(qid for qid, value in hybrid.per_query["hit@5"].items() if value == 0)
    assert len(hybrid.per_query["hit@5"]) == sum(q.answerable for q in questions)
    assert hit_at_5 >= MIN_HYBRID_HIT_AT_5, (
        f"hybrid hit@5 is {hit_at_5:.3f} (< {MIN_HYBRID_HIT_AT_5}) with fusion {searcher.fusion}; "
        f"missed: {', '.join(misses)}"
    )
