"""The hybrid fusion's dense weight and sentence-level fusion, re-checked with the query adapter.

    python -m eval.fusion_recheck --dataset ../shared/benchmarks/medquad-dev [--out eval/fusion_recheck.md]

The dense weight (convex_minmax w=0.8) and the sentence weight (0: off) were chosen before the query adapter
made the dense side stronger. medquad-dev: 5 folds grouped by source page (eval.cv, seed 0); per outer fold
W is fitted on the training folds (penalty 0.1, as the packaged adapter), the held-out fold's questions are
adapted by it, and their candidates (Searcher.candidates, with each passage's best sentence score) are
fused offline for every configuration of the grid and scored at document level (nDCG@10, MRR@10), as
eval.adapter_fit scores them. Seed set: the service as configured (packaged adapter) with each
configuration, hybrid, results as served (eval.harness.evaluate_seed). Nothing is chosen here: the
tables say whether a change of default would carry to both sets.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from citeqa.fusion import FusionSettings
from citeqa.search import Searcher
from eval.adapter_fit import (
    CANDIDATE_DEPTH,
    METRICS,
    MIN_DOCUMENTS,
    FitSettings,
    adapt,
    build_problem,
    fit_adapter,
    subset,
)
from eval.cv import DEFAULT_FOLDS, DEFAULT_SEED, document_run, make_folds, per_query_scores, rankings_for

DENSE_WEIGHTS = (0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0)
SENTENCE_WEIGHTS = (0.05, 0.1, 0.2)
ADAPTER_PENALTY = 0.1
SEED_METRICS = ("hit@1", "hit@5", "mrr@10", "ndcg@10")


@dataclass(frozen=True)
class Config:
    """One fusion configuration of the grid, named as the tables show it."""

    name: str
    fusion: FusionSettings


def grid(base: FusionSettings) -> list[Config]:
    """The service's fusion first, then its dense weight varied, then sentence-level fusion at its weight."""
    configs = [Config(f"w={base.dense_weight:g} (default)", base)]
    configs += [
        Config(f"w={w:g}", replace(base, dense_weight=w)) for w in DENSE_WEIGHTS if w != base.dense_weight
    ]
    configs += [
        Config(f"w={base.dense_weight:g} s={s:g}", replace(base, sentence_weight=s)) for s in SENTENCE_WEIGHTS
    ]
    return configs


def paired_table(per_fold: dict[str, list[dict[str, float]]], metrics: Sequence[str]) -> str:
    """Markdown: per configuration, the mean ± sample std over folds of each metric, and the paired
    per-fold difference of the first metric to the first configuration (with how many folds it is > 0)."""
    names = list(per_fold)
    base = np.asarray([fold[metrics[0]] for fold in per_fold[names[0]]])
    head = " | ".join(metrics)
    lines = [
        f"| configuration | {head} | paired Δ {metrics[0]} vs {names[0]} | folds better |",
        "|---|" + "---|" * (len(metrics) + 2),
    ]
    for name in names:
        values = {m: np.asarray([fold[m] for fold in per_fold[name]]) for m in metrics}
        delta = values[metrics[0]] - base
        spread = float(delta.std(ddof=1)) if len(delta) > 1 else 0.0
        cells = " | ".join(
            f"{v.mean():.4f} ± {v.std(ddof=1) if len(v) > 1 else 0.0:.4f}" for v in values.values()
        )
        better = f"{int((delta > 0).sum())}/{len(delta)}"
        lines.append(f"| {name} | {cells} | {delta.mean():+.4f} ± {spread:.4f} | {better} |")
    return "\n".join(lines)


def seed_table(rows: dict[str, dict[str, float]], metrics: Sequence[str]) -> str:
    lines = [f"| configuration | {' | '.join(metrics)} |", "|---|" + "---|" * len(metrics)]
    lines += [f"| {name} | {' | '.join(f'{r[m]:.3f}' for m in metrics)} |" for name, r in rows.items()]
    return "\n".join(lines)


def medquad_folds(
    dataset_path: Path, index_root: Path, configs: Sequence[Config]
) -> dict[str, list[dict[str, float]]]:
    """Held-out means per fold of every configuration (see the module's docstring)."""
    from eval.beir import load_beir_dataset
    from eval.beir_eval import prepare_index
    from indexer.build import IndexSettings
    from indexer.embedding import SentenceTransformerEncoder
    from indexer.embedding_cache import DEFAULT_CACHE_DIR, EmbeddingCache
    from service.settings import Settings

    settings = Settings()
    encoder = SentenceTransformerEncoder(settings.model)
    dataset = load_beir_dataset(dataset_path)
    prepared = prepare_index(dataset, encoder, IndexSettings(), index_root, EmbeddingCache(DEFAULT_CACHE_DIR))
    searcher = Searcher(prepared.index, encoder)
    qids = [qid for qid, grades in dataset.qrels.items() if any(g > 0 for g in grades.values())]
    texts = [dataset.queries[qid].text.strip() for qid in qids]
    vectors = encoder.encode(texts)
    problem = build_problem(dataset, searcher, qids, vectors)
    fit = FitSettings(ADAPTER_PENALTY)
    passage_doc = [p.doc_id for p in prepared.index.passages]
    folds = make_folds(qids, DEFAULT_FOLDS, DEFAULT_SEED)
    everyone = np.concatenate(list(folds))
    out: dict[str, list[dict[str, float]]] = {c.name: [] for c in configs}
    for number, test in enumerate(folds, 1):
        matrix = fit_adapter(subset(problem, np.setdiff1d(everyone, test)), fit)
        fold_qids = [qids[int(p)] for p in test]
        candidates = {
            qid: searcher.candidates(texts[int(p)], CANDIDATE_DEPTH, query=vector, sentences=True)
            for qid, p, vector in zip(fold_qids, test, adapt(matrix, vectors[test]), strict=True)
        }
        for config in configs:
            run = document_run(rankings_for(candidates, config.fusion), passage_doc, MIN_DOCUMENTS)
            scores = per_query_scores(dataset.qrels, run, fold_qids, METRICS)
            out[config.name].append({m: float(scores[m].mean()) for m in METRICS})
        print(
            f"fold {number}: " + ", ".join(f"{n} {v[-1]['ndcg@10']:.4f}" for n, v in out.items()), flush=True
        )
    return out


def seed_rows(configs: Sequence[Config]) -> dict[str, dict[str, float]]:
    from eval.harness import evaluate_seed
    from eval.seed_set import DEFAULT_SEED_SET, load_eval_set
    from service.settings import Settings
    from service.wiring import build_searcher

    service = build_searcher(Settings())
    questions = load_eval_set(DEFAULT_SEED_SET)
    rows = {}
    for config in configs:
        searcher = Searcher(
            service.index,
            service.encoder,
            config.fusion,
            service.reranker,
            service.query_adapter,
            service.question_encoder,
        )
        [scores] = evaluate_seed(searcher, questions, ("hybrid",))
        rows[config.name] = {m: scores.metrics[m] for m in SEED_METRICS}
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m eval.fusion_recheck", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--dataset", type=Path, required=True, help="BEIR folder (medquad-dev)")
    parser.add_argument("--index-root", type=Path, default=Path("var/eval/indexes"))
    parser.add_argument("--out", type=Path, default=None, help="write the report here (.md)")
    args = parser.parse_args(argv)
    from service.settings import Settings
    from service.wiring import fusion_settings

    started = time.perf_counter()
    configs = grid(fusion_settings(Settings()))
    seed = seed_table(seed_rows(configs), SEED_METRICS)
    medquad = paired_table(medquad_folds(args.dataset, args.index_root, configs), METRICS)
    report = "\n".join(
        [
            "# Fusion re-checked with the query adapter (python -m eval.fusion_recheck)",
            "",
            __doc__.split("\n\n", 2)[2].strip(),
            "",
            "## medquad-dev, held out (5 folds grouped by source page; adapter fitted per fold)",
            "",
            medquad,
            "",
            "## Seed set, hybrid, results as served (60 answerable questions; the packaged adapter)",
            "",
            seed,
            "",
            f"({time.perf_counter() - started:.0f} s)",
        ]
    )
    print(report)
    if args.out is not None:
        args.out.write_text(report + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
