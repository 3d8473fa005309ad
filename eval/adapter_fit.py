"""A linear query adapter for the question vector, fitted and measured by grouped cross-validation.

The adapter maps a question vector q to normalize(W q) (W starts at the identity); passage and sentence
vectors are unchanged, so no index is rebuilt. W is fitted with PyTorch on (question vector, relevant
passage vectors) by a contrastive loss over passages:

- candidates of each question: every training question's relevant documents (the in-batch negatives, the
  batch being the whole training set) plus the other documents of the question's own source page (the hard
  negatives: same disease, other question types);
- loss: -log of the softmax mass of the relevant documents' passages among the candidates' passages
  (temperature 0.05), plus ``penalty`` * ||W - I||^2 (Frobenius), which pulls W toward the identity.

Measurement (``python -m eval.adapter_fit --dataset DIR``): 5 folds grouped by source page (eval.cv), per
outer fold the penalty (or no adapter at all) is chosen by an inner grouped CV on the training folds by
hybrid nDCG@10, W is fitted on all training folds, and the held-out fold is scored for dense and for hybrid
(the adapted dense list fused with BM25 by the configured fusion, through Searcher.candidates and
citeqa.fusion, as the service does), against the unadapted baseline on the same fold. ``--out`` then
writes W fitted on every question (with the penalty the outer folds chose most often), with a JSON sidecar
(model, dimension, command, data, CV numbers, sha256; see citeqa.query_adapter); ``--seed-check`` scores
the seed set over the configured index without and with it. Results: eval/adapter_sweep.md.

Deterministic: full-batch Adam from the identity, seeded torch, seeded folds.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from citeqa.fusion import FusionSettings
from citeqa.search import Searcher
from eval.beir import BeirDataset
from eval.cv import (
    DEFAULT_FOLDS,
    DEFAULT_SEED,
    document_run,
    make_folds,
    page_group,
    per_query_scores,
    rankings_for,
)
from service.settings import Settings

METRICS = ("ndcg@10", "mrr@10")
SELECT = "ndcg@10"
PENALTIES = (0.01, 0.1)
INNER_FOLDS = 3
CANDIDATE_DEPTH = 300  # as eval.cv.collect_candidates: 3 x 100 documents
MIN_DOCUMENTS = 100
NO_ADAPTER = float("inf")  # the grid's "no adapter" entry
Log = Callable[[str], None]


@dataclass(frozen=True)
class FitSettings:
    """How W is fitted: the L2 pull toward the identity, full-batch Adam steps, softmax temperature."""

    penalty: float = 0.01
    steps: int = 150
    learning_rate: float = 2e-3
    temperature: float = 0.05
    seed: int = 0


@dataclass(frozen=True)
class AdapterProblem:
    """The training data of the adapter, over a fixed set of documents.

    ``passages`` [m, d] unit vectors; ``passage_doc`` [m] the document (0..n_docs-1) of each passage;
    per question, ``positives`` its relevant documents and ``hard_negatives`` other documents of its page.
    """

    questions: np.ndarray
    passages: np.ndarray
    passage_doc: np.ndarray
    positives: list[np.ndarray]
    hard_negatives: list[np.ndarray]


def doc_page(doc_id: str) -> str:
    """The source page of a MedQuAD answer document: its id without the "_Sec<n>" suffix."""
    return re.sub(r"_Sec\d+$", "", doc_id)


def adapt(matrix: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """normalize(W q) for each row q of ``vectors`` (one vector or a matrix of them), float32."""
    vectors = np.asarray(vectors, dtype=np.float32)
    adapted = vectors @ np.asarray(matrix, dtype=np.float32).T
    norms = np.linalg.norm(adapted, axis=-1, keepdims=True)
    return (adapted / np.maximum(norms, 1e-12)).astype(np.float32)


def subset(problem: AdapterProblem, positions: np.ndarray) -> AdapterProblem:
    """The problem restricted to the questions at ``positions`` (documents unchanged)."""
    return AdapterProblem(
        problem.questions[positions],
        problem.passages,
        problem.passage_doc,
        [problem.positives[int(p)] for p in positions],
        [problem.hard_negatives[int(p)] for p in positions],
    )


def fit_adapter(problem: AdapterProblem, settings: FitSettings = FitSettings()) -> np.ndarray:
    """W [d, d] (float32) fitted on every question of ``problem``; the identity when it has none.

    The loss is at the passage level: each question's candidates are the passages of every question's
    relevant documents (the pool: in-batch negatives, the batch being all questions) and the passages of its
    own hard-negative documents; its positives, the passages of its relevant documents."""
    import torch

    dimension = problem.questions.shape[1]
    if not len(problem.questions) or settings.penalty == NO_ADAPTER:
        return np.eye(dimension, dtype=np.float32)
    torch.manual_seed(settings.seed)
    loss_of = ContrastiveLoss(problem, settings.temperature)
    questions = torch.from_numpy(np.ascontiguousarray(problem.questions, dtype=np.float32))
    identity = torch.eye(dimension)
    weights = identity.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([weights], lr=settings.learning_rate)
    for _ in range(settings.steps):
        optimizer.zero_grad()
        adapted = torch.nn.functional.normalize(questions @ weights.T, dim=1)
        loss = loss_of(adapted) + settings.penalty * ((weights - identity) ** 2).sum()
        loss.backward()
        optimizer.step()
    return weights.detach().numpy().astype(np.float32)


class ContrastiveLoss:
    """The passage-level contrastive loss of a problem's questions (eval.adapter_fit's and the question
    tower's): per question, -log of the softmax mass of its relevant documents' passages among the pool
    (the passages of every question's relevant documents: in-batch negatives) and its own hard-negative
    documents' passages, at ``temperature``; the mean over the questions asked."""

    def __init__(self, problem: AdapterProblem, temperature: float) -> None:
        import torch

        pool_docs = np.unique(np.concatenate(problem.positives))
        pool = np.flatnonzero(np.isin(problem.passage_doc, pool_docs))
        positive = np.stack([np.isin(problem.passage_doc[pool], docs) for docs in problem.positives])
        hard = [
            np.flatnonzero(np.isin(problem.passage_doc, np.setdiff1d(docs, pool_docs)))
            for docs in problem.hard_negatives
        ]
        hard_ids, hard_missing = padded_rows(hard)
        passages = np.asarray(problem.passages, dtype=np.float32)
        self.pool_vectors = torch.from_numpy(np.ascontiguousarray(passages[pool]))
        self.hard_vectors = torch.from_numpy(np.ascontiguousarray(passages[hard_ids]))  # [n, h, d]
        self.hard_off = torch.from_numpy(hard_missing)
        self.not_positive = torch.from_numpy(~positive)
        self.temperature = temperature

    def __call__(self, questions: Any, rows: np.ndarray | None = None) -> Any:
        """The loss of ``questions`` (unit vectors, a torch tensor), the problem's questions at ``rows``
        (all of them when None)."""
        import torch

        picked = slice(None) if rows is None else torch.from_numpy(np.asarray(rows, dtype=np.int64))
        in_pool = questions @ self.pool_vectors.T / self.temperature
        in_hard = torch.einsum("nd,nhd->nh", questions, self.hard_vectors[picked]) / self.temperature
        hard = in_hard.masked_fill(self.hard_off[picked], float("-inf"))
        everything = torch.logsumexp(torch.cat([in_pool, hard], 1), 1)
        relevant = torch.logsumexp(in_pool.masked_fill(self.not_positive[picked], float("-inf")), dim=1)
        return (everything - relevant).mean()


def padded_rows(rows: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """[n, longest] ids of each row, right-padded with 0, and [n, longest] True where padded."""
    width = max([len(row) for row in rows] + [1])
    ids = np.zeros((len(rows), width), dtype=np.int64)
    missing = np.ones((len(rows), width), dtype=bool)
    for number, row in enumerate(rows):
        ids[number, : len(row)] = row
        missing[number, : len(row)] = False
    return ids, missing


# The problem of a BEIR dataset over its index.


def build_problem(
    dataset: BeirDataset, searcher: Searcher, qids: Sequence[str], vectors: np.ndarray
) -> AdapterProblem:
    """Positives from the qrels, hard negatives the other documents of each question's page (those in the
    index), passages and their documents from the index."""
    index = searcher.index
    doc_ids = sorted({p.doc_id for p in index.passages})
    position = {doc_id: i for i, doc_id in enumerate(doc_ids)}
    passage_doc = np.asarray([position[p.doc_id] for p in index.passages], dtype=np.int64)
    passages = index.dense.vectors(np.arange(len(index.passages), dtype=np.int64))
    by_page: dict[str, list[int]] = {}
    for doc_id, i in position.items():
        by_page.setdefault(doc_page(doc_id), []).append(i)
    positives, negatives = [], []
    for qid in qids:
        relevant = sorted(
            position[d] for d, grade in dataset.qrels[qid].items() if grade > 0 and d in position
        )
        page = by_page.get(page_group(qid), [])
        positives.append(np.asarray(relevant, dtype=np.int64))
        negatives.append(np.asarray(sorted(set(page) - set(relevant)), dtype=np.int64))
    return AdapterProblem(np.asarray(vectors, np.float32), passages, passage_doc, positives, negatives)


@dataclass(frozen=True)
class Retrieval:
    """What scoring needs of each question: text, raw vector, and the searcher with its fusion."""

    searcher: Searcher
    qids: list[str]
    texts: list[str]
    vectors: np.ndarray
    qrels: dict[str, dict[str, int]]
    fusion: FusionSettings


def score_positions(
    retrieval: Retrieval, positions: np.ndarray, matrix: np.ndarray | None
) -> dict[str, dict[str, np.ndarray]]:
    """Per-query nDCG@10 and MRR@10 of dense and hybrid at ``positions``, questions adapted by ``matrix``
    (None: raw), through Searcher.candidates and the fusion exactly as the CV sweep scores them."""
    searcher = retrieval.searcher
    passage_doc = [p.doc_id for p in searcher.index.passages]
    qids = [retrieval.qids[int(p)] for p in positions]
    vectors = retrieval.vectors[positions]
    if matrix is not None:
        vectors = adapt(matrix, vectors)
    candidates = {
        qid: searcher.candidates(retrieval.texts[int(p)], CANDIDATE_DEPTH, query=vector, sentences=False)
        for qid, p, vector in zip(qids, positions, vectors, strict=True)
    }
    out = {}
    for label, config in (("dense", "dense"), ("hybrid", retrieval.fusion)):
        run = document_run(rankings_for(candidates, config), passage_doc, MIN_DOCUMENTS)
        out[label] = per_query_scores(retrieval.qrels, run, qids, METRICS)
    return out


def choose_penalty(
    problem: AdapterProblem,
    retrieval: Retrieval,
    positions: np.ndarray,
    penalties: Sequence[float],
    settings: FitSettings,
    inner_folds: int,
) -> tuple[float, dict[float, float]]:
    """The penalty (NO_ADAPTER included) with the best inner-CV hybrid nDCG@10 over ``positions``, and every
    candidate's inner mean; ties go to the first (NO_ADAPTER is listed first)."""
    inner = make_folds([retrieval.qids[int(p)] for p in positions], inner_folds, settings.seed)
    means: dict[float, float] = {}
    for penalty in (NO_ADAPTER, *penalties):
        values = []
        for test in inner:
            train = np.setdiff1d(np.arange(len(positions)), test)
            matrix = fit_adapter(subset(problem, positions[train]), replace_penalty(settings, penalty))
            values.append(score_positions(retrieval, positions[test], matrix)["hybrid"][SELECT])
        means[penalty] = float(np.concatenate(values).mean())
    best = max(means, key=lambda p: (means[p], -list(means).index(p)))
    return best, means


def replace_penalty(settings: FitSettings, penalty: float) -> FitSettings:
    return FitSettings(**{**asdict(settings), "penalty": penalty})


@dataclass(frozen=True)
class FoldOutcome:
    penalty: float
    inner: dict[float, float]
    baseline: dict[str, dict[str, float]]  # mode -> metric -> held-out mean
    adapted: dict[str, dict[str, float]]


def cross_validate(
    problem: AdapterProblem,
    retrieval: Retrieval,
    folds: Sequence[np.ndarray],
    penalties: Sequence[float],
    settings: FitSettings,
    inner_folds: int = INNER_FOLDS,
    log: Log | None = None,
) -> list[FoldOutcome]:
    """Per outer fold: penalty by inner CV on the other folds, W fitted on them, held-out fold scored."""
    say = log or (lambda _m: None)
    everyone = np.concatenate(list(folds))
    outcomes = []
    for number, test in enumerate(folds, 1):
        train = np.setdiff1d(everyone, test)
        penalty, inner = choose_penalty(problem, retrieval, train, penalties, settings, inner_folds)
        matrix = fit_adapter(subset(problem, train), replace_penalty(settings, penalty))
        base = means(score_positions(retrieval, test, None))
        adapted = means(score_positions(retrieval, test, matrix))
        outcomes.append(FoldOutcome(penalty, inner, base, adapted))
        say(
            f"fold {number}: penalty {penalty:g} (inner {inner_text(inner)}); "
            f"hybrid nDCG@10 {base['hybrid']['ndcg@10']:.4f} -> {adapted['hybrid']['ndcg@10']:.4f}, "
            f"dense {base['dense']['ndcg@10']:.4f} -> {adapted['dense']['ndcg@10']:.4f}"
        )
    return outcomes


def cv_summary(outcomes: Sequence[FoldOutcome]) -> dict[str, dict[str, object]]:
    """Held-out means and stds over folds, baseline and adapter, and the paired per-fold differences."""
    out: dict[str, dict[str, object]] = {}
    if not outcomes:
        return out
    for mode in ("dense", "hybrid"):
        for metric in METRICS:
            base = np.asarray([o.baseline[mode][metric] for o in outcomes])
            new = np.asarray([o.adapted[mode][metric] for o in outcomes])
            out[f"{mode} {metric}"] = {
                "baseline": [round(float(base.mean()), 4), round(float(base.std(ddof=1)), 4)],
                "adapter": [round(float(new.mean()), 4), round(float(new.std(ddof=1)), 4)],
                "paired_difference_per_fold": [round(float(d), 4) for d in new - base],
            }
    return out


def final_penalty(outcomes: Sequence[FoldOutcome]) -> float:
    """The penalty the outer folds chose most often (ties: the largest, the closest to the identity)."""
    chosen = [o.penalty for o in outcomes]
    return max(set(chosen), key=lambda p: (chosen.count(p), p))


def inner_text(inner: dict[float, float]) -> str:
    return ", ".join(f"{penalty:g}: {value:.4f}" for penalty, value in inner.items())


def means(scores: dict[str, dict[str, np.ndarray]]) -> dict[str, dict[str, float]]:
    return {mode: {m: float(v.mean()) for m, v in values.items()} for mode, values in scores.items()}


def cv_table(outcomes: Sequence[FoldOutcome]) -> str:
    """Markdown: per mode and metric, baseline and adapter mean ± std over held-out folds, and the paired
    per-fold difference (mean ± std, and each fold's)."""
    lines = [
        "| mode | metric | baseline | adapter | paired Δ (mean ± std) | Δ per fold |",
        "|---|---|---|---|---|---|",
    ]
    for mode in ("dense", "hybrid"):
        for metric in METRICS:
            base = np.asarray([o.baseline[mode][metric] for o in outcomes])
            new = np.asarray([o.adapted[mode][metric] for o in outcomes])
            delta = new - base
            lines.append(
                f"| {mode} | {metric} | {base.mean():.3f} ± {base.std(ddof=1):.3f} | "
                f"{new.mean():.3f} ± {new.std(ddof=1):.3f} | {delta.mean():+.4f} ± {delta.std(ddof=1):.4f} | "
                + ", ".join(f"{d:+.4f}" for d in delta)
                + " |"
            )
    return "\n".join(lines)


# Files.


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write_adapter(path: Path, matrix: np.ndarray, meta: dict[str, object]) -> Path:
    """W as ``path`` (.npy, float32) and ``path`` with .json: ``meta`` plus dimension and checksum."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, np.asarray(matrix, dtype=np.float32), allow_pickle=False)
    sidecar = {**meta, "dimension": int(matrix.shape[0]), "sha256": file_sha256(path)}
    path.with_suffix(".json").write_text(json.dumps(sidecar, indent=2) + "\n", encoding="utf-8")
    return path


# The command.


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.adapter_fit", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, required=True, help="BEIR folder (medquad-dev)")
    parser.add_argument("--index-root", type=Path, default=Path("var/eval/indexes"))
    parser.add_argument("--cache-dir", type=Path, default=None, help="embedding cache (default: settings')")
    parser.add_argument("--folds", type=int, default=DEFAULT_FOLDS)
    parser.add_argument("--inner-folds", type=int, default=INNER_FOLDS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--penalties", default=",".join(f"{p:g}" for p in PENALTIES))
    parser.add_argument("--steps", type=int, default=FitSettings.steps)
    parser.add_argument("--learning-rate", type=float, default=FitSettings.learning_rate)
    parser.add_argument("--temperature", type=float, default=FitSettings.temperature)
    parser.add_argument("--no-cv", action="store_true", help="skip the CV (with --out: fit only)")
    parser.add_argument("--final-penalty", type=float, default=0.01, help="with --no-cv: the penalty")
    parser.add_argument("--out", type=Path, default=None, help="write W fitted on every question here (.npy)")
    parser.add_argument("--report", type=Path, default=None, help="write the CV table and log here (.md)")
    parser.add_argument("--seed-check", action="store_true", help="score the seed set with and without --out")
    args = parser.parse_args(argv)
    return run(args)


@dataclass(frozen=True)
class BenchmarkSetup:
    """A BEIR dataset over its default index, its judged questions encoded by the model (PyTorch), the
    retrieval scored as the service ranks, and the fitting problem."""

    encoder: Any
    dataset: BeirDataset
    prepared: Any
    retrieval: Retrieval
    problem: AdapterProblem


def benchmark_setup(
    settings: Settings, dataset_path: Path, index_root: Path, cache_dir: Path | None = None
) -> BenchmarkSetup:
    """The dataset's index (built on first use, default settings), searched with the configured fusion."""
    from eval.beir import load_beir_dataset
    from eval.beir_eval import prepare_index
    from indexer.build import IndexSettings
    from indexer.embedding import SentenceTransformerEncoder
    from indexer.embedding_cache import DEFAULT_CACHE_DIR, EmbeddingCache
    from service.wiring import fusion_settings

    encoder = SentenceTransformerEncoder(settings.model)
    dataset = load_beir_dataset(dataset_path)
    cache = EmbeddingCache(cache_dir or DEFAULT_CACHE_DIR)
    prepared = prepare_index(dataset, encoder, IndexSettings(), index_root, cache)
    fusion = fusion_settings(settings)
    searcher = Searcher(prepared.index, encoder, fusion)
    qids = [qid for qid, grades in dataset.qrels.items() if any(g > 0 for g in grades.values())]
    texts = [dataset.queries[qid].text.strip() for qid in qids]
    vectors = encoder.encode(texts)
    retrieval = Retrieval(searcher, qids, texts, vectors, dataset.qrels, fusion)
    problem = build_problem(dataset, searcher, qids, vectors)
    return BenchmarkSetup(encoder, dataset, prepared, retrieval, problem)


class ReportLog:
    """Prints each line as it comes and keeps them, for a report file (``--report``) at the end."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, message: str) -> None:
        print(message, flush=True)
        self.lines.append(message)

    def write(self, path: Path | None) -> None:
        """The lines so far into ``path`` (nothing when None)."""
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("\n".join(self.lines) + "\n", encoding="utf-8")


def run(args: argparse.Namespace) -> int:
    say = ReportLog()
    started = time.perf_counter()
    settings = Settings()
    setup = benchmark_setup(settings, args.dataset, args.index_root, args.cache_dir)
    dataset, prepared, retrieval, problem = setup.dataset, setup.prepared, setup.retrieval, setup.problem
    qids = retrieval.qids
    fit = FitSettings(0.0, args.steps, args.learning_rate, args.temperature, args.seed)
    penalties = [float(p) for p in args.penalties.split(",") if p.strip()]
    folds = make_folds(qids, args.folds, args.seed)
    say(f"{dataset.name}: {len(qids)} questions, {len(prepared.index.passages)} passages; fit {asdict(fit)}")
    outcomes: list[FoldOutcome] = []
    if not args.no_cv:
        outcomes = cross_validate(problem, retrieval, folds, penalties, fit, args.inner_folds, say)
        say("")
        say(cv_table(outcomes))
    if args.out is not None:
        penalty = final_penalty(outcomes) if not args.no_cv else float(args.final_penalty)
        say(
            f"penalty of the final fit on every question (the outer folds' most frequent choice): {penalty:g}"
        )
        matrix = fit_adapter(problem, replace_penalty(fit, penalty))
        command = "python -m eval.adapter_fit " + " ".join(sys.argv[1:])
        meta = {
            "model": settings.model,
            "command": command,
            "data": f"{args.dataset} ({len(qids)} questions, qrels/test.tsv), index {prepared.index.path}",
            "fit": asdict(replace_penalty(fit, penalty)),
            "cv": cv_summary(outcomes),
        }
        write_adapter(args.out, matrix, meta)
        say(f"wrote {args.out} and {args.out.with_suffix('.json')}")
        if args.seed_check:
            seed_check(settings, matrix, args.out, say)
    say(f"done in {time.perf_counter() - started:.0f} s")
    say.write(args.report)
    return 0


def seed_check(settings: Settings, matrix: np.ndarray, path: Path, say: Log) -> None:
    """hit@1/hit@5/MRR@10/nDCG@10 of the seed set over the configured index, without and with W."""
    from citeqa.query_adapter import QueryAdapter
    from eval.harness import SEED_METRICS, evaluate_seed, markdown_table
    from eval.seed_set import DEFAULT_SEED_SET, load_eval_set
    from service.wiring import build_searcher

    # Questions encoded by the model itself: the adapter maps the model's vectors.
    off = {"query_adapter_path": None, "question_tower_path": None}
    plain = build_searcher(settings.model_copy(update=off))
    adapter = QueryAdapter(np.asarray(matrix, dtype=np.float32), settings.model, path)
    adapted = Searcher(plain.index, plain.encoder, plain.fusion, plain.reranker, adapter)
    questions = load_eval_set(DEFAULT_SEED_SET)
    for label, which in (("without adapter", plain), ("with adapter", adapted)):
        say(f"\nseed set, {label}:\n")
        say(markdown_table(evaluate_seed(which, questions), SEED_METRICS))


if __name__ == "__main__":
    raise SystemExit(main())
