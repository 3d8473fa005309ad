"""The seed harness credits exactly the results that hold gold text: a result trimmed by near-duplicate
merging (citeqa.dedup) counts when its cited span holds a gold quote whole, and not otherwise."""

from __future__ import annotations

from citeqa.answers import Answerer
from citeqa.search import Searcher
from eval.harness import passage_run
from eval.metrics import rank_items
from eval.seed_set import DEFAULT_SEED_SET, gold_spans, load_eval_set, relevant_passages, seed_qrels


def test_results_are_credited_when_and_only_when_they_hold_gold_text(searcher: Searcher) -> None:
    index = searcher.index
    answerer = Answerer(searcher)
    questions = [q for q in load_eval_set(DEFAULT_SEED_SET) if q.answerable]
    qrels = seed_qrels(questions, index.documents, index.passages)
    credited_for_a_quote_alone = 0
    for mode in ("hybrid", "dense"):
        run = passage_run(searcher, questions, mode, 10, qrels)
        for q in questions:
            spans = gold_spans(q, index.documents)
            relevant = relevant_passages(spans, index.passages)
            results = answerer.results(q.question, mode)[:10]
            keys = rank_items(run[q.qid])
            assert len(keys) == len(results), f"{q.qid}: two results share a key"
            for result, key in zip(results, keys, strict=True):
                c = result.citation
                holds_quote = any(d == c.doc_id and c.start <= s and e <= c.end for d, s, e in spans)
                holds_relevant = any(
                    p.passage_id in relevant
                    and p.doc_id == c.doc_id
                    and c.start <= p.start
                    and p.end <= c.end
                    for p in index.passages
                )
                credited = qrels[q.qid].get(key, 0) > 0
                where = f"{q.qid} {mode} {c.doc_id} {c.start}:{c.end}"
                if holds_quote or holds_relevant:
                    assert credited or key.startswith("again:"), f"{where} holds gold text, not credited"
                else:
                    assert not credited, f"{where} credited without gold text"
                credited_for_a_quote_alone += credited and not holds_relevant
    assert credited_for_a_quote_alone > 0, "no trimmed result held a gold quote: the guarded case is gone"
