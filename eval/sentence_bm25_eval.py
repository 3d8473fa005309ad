"""Does BM25 over sentences help sentence-level retrieval? Recall@k of a gold sentence among the sentences
found by dense retrieval alone (citeqa.sentence_search.top_sentences) and by its fusion with BM25 over the
sentences (citeqa.sentence_bm25.fused_sentences), on the labelled answer sets (eval.answer_fit's
ANSWER_SETS: the seed and answers sets over the default corpus, medquad_answers over medquad-dev).

A question's hit: one of its first k sentences overlaps a gold quote (eval.answer_report.on_gold). The BM25
weight is chosen on the questions outside the held-out part (eval.held_out) by recall@10 (ties: the
smaller weight), then dense and the chosen weight are compared on the held-out questions (the paired
difference with a 95% bootstrap interval over questions).

    python -m eval.sentence_bm25_eval [--out eval/sentence_bm25.md]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from citeqa.answers import Answerer
from citeqa.sentence_bm25 import fused_sentences
from eval.answer_fit import ANSWER_SETS
from eval.answer_report import on_gold
from eval.held_out import bootstrap_interval, is_held_out
from eval.seed_set import load_eval_set

WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 1.0)
KS = (5, 10, 20)


def hits(answerer: Answerer, set_name: str, path: Path) -> list[tuple[str, bool, np.ndarray]]:
    """Per answerable question: (qid, held out, hit[weight, k] as bool)."""
    index = answerer.searcher.index
    documents = index.documents
    rows = []
    for q in load_eval_set(path):
        if not q.answerable:
            continue
        query = answerer.searcher.encode_question(q.question)
        table = np.zeros((len(WEIGHTS), len(KS)), dtype=bool)
        for w, weight in enumerate(WEIGHTS):
            found = fused_sentences(index, q.question, query, max(KS), weight)
            gold = [on_gold(q, documents, index.passages[h.passage_id].doc_id, h.start, h.end) for h in found]
            for j, k in enumerate(KS):
                table[w, j] = any(gold[:k])
        rows.append((q.qid, is_held_out(set_name, q.qid), table))
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    from eval.answer_corpora import answerers

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="write the report (Markdown) here too")
    args = parser.parse_args(argv)
    built = answerers(corpus for _, corpus in ANSWER_SETS.values())
    by_set: dict[str, list[tuple[str, bool, np.ndarray]]] = {}
    for set_name, (path, corpus) in ANSWER_SETS.items():
        by_set[set_name] = hits(built[corpus], set_name, path)
    everything = [row for rows in by_set.values() for row in rows]
    train = np.stack([t for _, held, t in everything if not held])
    k10 = KS.index(10)
    train_recall = train[:, :, k10].mean(axis=0)
    chosen = int(np.flatnonzero(train_recall == train_recall.max())[0])
    lines = [
        "# BM25 over sentences: recall of a gold sentence, dense vs fused",
        "",
        "Produced by `python -m eval.sentence_bm25_eval`. A question's hit: one of its first k sentences "
        "(index-wide sentence retrieval) overlaps a gold quote. Fusion: convex min-max of the sentence's "
        "cosine and its BM25 over the sentences, both lists 100 deep; w = the BM25 share (0: dense alone).",
        "",
        f"Weight chosen on the {len(train)} questions outside the held-out parts by recall@10: "
        f"**w = {WEIGHTS[chosen]:g}** (training recall@10 by w: "
        + ", ".join(f"{w:g}: {r:.3f}" for w, r in zip(WEIGHTS, train_recall, strict=True))
        + ").",
        "",
        "## Held out",
        "",
        "| set | questions | k | dense | fused (w chosen) | Δ [95% CI] |",
        "|---|---|---|---|---|---|",
    ]
    for set_name in [*by_set, "all"]:
        rows = everything if set_name == "all" else by_set[set_name]
        held = [t for _, h, t in rows if h]
        if not held:
            continue
        tables = np.stack(held)
        for j, k in enumerate(KS):
            dense = tables[:, 0, j].astype(float)
            fused = tables[:, chosen, j].astype(float)
            low, high = bootstrap_interval(fused - dense)
            lines.append(
                f"| {set_name} | {len(held)} | {k} | {dense.mean():.3f} | {fused.mean():.3f} | "
                f"{(fused - dense).mean():+.3f} [{low:+.3f}, {high:+.3f}] |"
            )
    lines += ["", "## Every weight, recall@10 (for reference: not used to choose)", ""]
    lines.append("| part | questions | " + " | ".join(f"w={w:g}" for w in WEIGHTS) + " |")
    lines.append("|---|---|" + "---|" * len(WEIGHTS))
    for set_name, rows in [*by_set.items(), ("all", everything)]:
        for part, keep in (("train", False), ("held out", True)):
            chosen_rows = [t for _, h, t in rows if h == keep]
            if chosen_rows:
                recall = np.stack(chosen_rows)[:, :, k10].mean(axis=0)
                lines.append(
                    f"| {set_name} {part} | {len(chosen_rows)} | "
                    + " | ".join(f"{r:.3f}" for r in recall)
                    + " |"
                )
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out is not None:
        args.out.write_text(report, encoding="utf-8")


if __name__ == "__main__":
    main()
