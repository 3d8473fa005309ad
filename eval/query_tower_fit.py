"""The question tower (citeqa.question_tower): the question side of the encoder fine-tuned, passages fixed,
fitted and measured by grouped cross-validation.

Same data, loss and grouped folds as eval.adapter_fit (a passage-level contrastive loss: each question's
candidates are the passages of every training question's relevant documents plus the other documents of
its own source page, the hard negatives; temperature 0.05), but instead of a linear map on the question
vector, the top ``layers`` transformer layers of a copy of the model are trained (AdamW, mini-batches of
questions, a few epochs, dropout as in training). Passage and sentence vectors stay the model's own, so no
index is rebuilt: the trained copy only encodes questions.

``python -m eval.query_tower_fit --dataset DIR`` scores each held-out fold (5 folds grouped by source page,
eval.cv) for dense and hybrid, as the service ranks (Searcher.candidates and the configured fusion),
against no tower and against the linear adapter fitted on the same training folds. ``--out FOLDER``
then fits on every question and writes the tower (delta.safetensors: the trained layers minus the
model's, float16; tower.json: model, sha256 of the model's weights and of the delta, command, data,
settings and the CV numbers). ``--seed-check`` scores the seed set over the configured index with the
packaged adapter and with the new tower. ``--extra-queries FILE`` (queries.jsonl lines whose
metadata names a ``source_qid`` and a ``style``: rewrites of judged questions, e.g.
eval/sets/medquad_consumer.jsonl) also scores each rewrite in the CV, with the adapter and tower of the
fold that holds its source (never one trained on its source) against its source's qrels, beside the sources
on the same folds: per-question paired Δ over none with a 95% bootstrap interval, and per style.
Deterministic: seeded torch and batch order, CPU.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from eval.adapter_fit import (
    AdapterProblem,
    ContrastiveLoss,
    FitSettings,
    ReportLog,
    Retrieval,
    benchmark_setup,
    fit_adapter,
    means,
    score_positions,
    subset,
)
from eval.beir import load_queries
from eval.cv import DEFAULT_FOLDS, DEFAULT_SEED, make_folds
from eval.metrics import bootstrap_ci

METRICS = ("ndcg@10", "mrr@10")
ADAPTER_PENALTY = 0.1  # the packaged adapter's (eval/adapter_sweep.md)
Log = Callable[[str], None]
PerQuestion = dict[str, dict[str, dict[str, dict[str, float]]]]  # variant -> mode -> metric -> qid -> value


@dataclass(frozen=True)
class TowerSettings:
    """Which layers are trained (the top ``layers`` of the transformer), for how long, how fast."""

    layers: int = 6
    epochs: int = 4
    learning_rate: float = 2e-5
    batch_size: int = 32
    temperature: float = 0.05
    seed: int = 0


def encode_with(model: Any, texts: Sequence[str], grad: bool) -> Any:
    """L2-normalized sentence embeddings of ``texts`` by a SentenceTransformer (a torch tensor)."""
    import torch

    features = model.preprocess(list(texts))
    with torch.set_grad_enabled(grad):
        out = model(features)["sentence_embedding"]
    return torch.nn.functional.normalize(out, dim=1)


def trainable_layers(model: Any, layers: int) -> list[Any]:
    """Freeze everything of ``model`` but its top ``layers`` transformer layers; their parameters."""
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    stack = model[0].auto_model.encoder.layer
    chosen = [p for layer in stack[len(stack) - layers :] for p in layer.parameters()] if layers else []
    for parameter in chosen:
        parameter.requires_grad_(True)
    return chosen


def fit_tower(base_model: Any, texts: Sequence[str], problem: AdapterProblem, settings: TowerSettings) -> Any:
    """A copy of ``base_model`` (a SentenceTransformer) with its top layers trained on ``problem``, whose
    question i is ``texts[i]``; in eval mode."""
    import torch

    torch.manual_seed(settings.seed)
    model = copy.deepcopy(base_model)
    trainable = trainable_layers(model, settings.layers)
    if not trainable or not len(texts):
        return model.eval()
    model.train()
    loss_of = ContrastiveLoss(problem, settings.temperature)
    optimizer = torch.optim.AdamW(trainable, lr=settings.learning_rate, weight_decay=0.0)
    order_generator = np.random.default_rng(settings.seed)
    for _ in range(settings.epochs):
        order = order_generator.permutation(len(texts))
        for start in range(0, len(texts), settings.batch_size):
            batch = order[start : start + settings.batch_size]
            optimizer.zero_grad()
            questions = encode_with(model, [texts[i] for i in batch], grad=True)
            loss_of(questions, batch).backward()
            optimizer.step()
    return model.eval()


def tower_delta(base_model: Any, tower: Any, layers: int) -> dict[str, np.ndarray]:
    """The trained layers' parameters minus the model's, float16, by safetensors name."""
    first = len(base_model[0].auto_model.encoder.layer) - layers
    base = base_model[0].auto_model.state_dict()
    tuned = tower[0].auto_model.state_dict()
    return {
        name: (tuned[name].float() - base[name].float()).numpy().astype(np.float16)
        for name in tuned
        if name.startswith("encoder.layer.") and int(name.split(".")[2]) >= first
    }


def with_vectors(retrieval: Retrieval, vectors: np.ndarray) -> Retrieval:
    return Retrieval(
        retrieval.searcher, retrieval.qids, retrieval.texts, vectors, retrieval.qrels, retrieval.fusion
    )


@dataclass
class Rewrites:
    """Rewritten questions scored in the CV beside their sources (--extra-queries): ``retrieval`` holds the
    rewrites, each judged by its source's qrels, with the model's vectors; ``sources`` each one's source's
    position in the benchmark's questions, ``source_qids`` its id. ``scores`` collects per-question
    held-out values of the rewrites (by their own id) and of their sources (by the source's id)."""

    retrieval: Retrieval
    sources: np.ndarray
    source_qids: list[str]
    styles: list[str]
    scores: PerQuestion = field(default_factory=dict)

    def held_out(self, test: np.ndarray) -> np.ndarray:
        """Positions of the rewrites whose source is in the fold ``test``."""
        return np.flatnonzero(np.isin(self.sources, test))

    def encoded_by(self, tower: Any, held: np.ndarray) -> Retrieval:
        """The rewrites with those at ``held`` encoded by ``tower``."""
        vectors = self.retrieval.vectors.copy()
        if len(held):
            texts = [self.retrieval.texts[int(i)] for i in held]
            vectors[held] = encode_with(tower, texts, grad=False).numpy()
        return with_vectors(self.retrieval, vectors)

    def record(
        self,
        label: str,
        test: np.ndarray,
        fold: dict[str, dict[str, np.ndarray]],
        held: np.ndarray,
        retrieval: Retrieval,
        matrix: np.ndarray | None = None,
    ) -> None:
        """Keep ``label``'s per-question scores: the rewrites at ``held`` scored over ``retrieval`` (the
        rewrites, their vectors as ``label`` encodes them, adapted by ``matrix``), their sources picked out
        of ``fold``, the fold's scores (aligned with ``test``, sorted)."""
        if not len(held):
            return
        rewritten = score_positions(retrieval, held, matrix)
        at = np.searchsorted(test, self.sources[held])
        sources = [self.source_qids[int(i)] for i in held]
        rewrites = [self.retrieval.qids[int(i)] for i in held]
        for mode, metrics in fold.items():
            for metric, values in metrics.items():
                kept = self.scores.setdefault(label, {}).setdefault(mode, {}).setdefault(metric, {})
                kept.update(zip(sources, values[at].tolist(), strict=True))
                kept.update(zip(rewrites, rewritten[mode][metric].tolist(), strict=True))


def load_rewrites(path: Path, retrieval: Retrieval, encoder: Any) -> Rewrites:
    """The rewrites in ``path`` (queries.jsonl lines whose metadata names ``source_qid`` and ``style``), each
    judged by its source's qrels, encoded by ``encoder`` (the model, as the benchmark's questions)."""
    queries = list(load_queries(path).values())
    position = {qid: i for i, qid in enumerate(retrieval.qids)}
    sources = [q.metadata.get("source_qid", "") for q in queries]
    unknown = sorted(set(sources) - set(position))
    if unknown:
        raise ValueError(f"{path}: source_qid of no judged question: {', '.join(unknown[:5])}")
    clashing = sorted({q.qid for q in queries} & set(position))
    if clashing:
        raise ValueError(f"{path}: ids of the benchmark's own questions: {', '.join(clashing[:5])}")
    qids, texts = [q.qid for q in queries], [q.text.strip() for q in queries]
    qrels = {qid: retrieval.qrels[source] for qid, source in zip(qids, sources, strict=True)}
    rewritten = Retrieval(retrieval.searcher, qids, texts, encoder.encode(texts), qrels, retrieval.fusion)
    at = np.asarray([position[source] for source in sources], dtype=np.int64)
    return Rewrites(rewritten, at, sources, [q.metadata.get("style", "") for q in queries])


@dataclass(frozen=True)
class TrainingRewrites:
    """Rewrites of judged questions to train on beside them (--train-rewrites): ``texts[i]`` rewrites the
    question at ``sources[i]`` and is trained toward its documents."""

    texts: list[str]
    sources: np.ndarray

    def __len__(self) -> int:
        return len(self.texts)


def load_training_rewrites(paths: Sequence[Path], qids: Sequence[str]) -> TrainingRewrites:
    """The rewrites in ``paths`` (queries.jsonl lines whose metadata names ``source_qid``)."""
    position = {qid: i for i, qid in enumerate(qids)}
    texts, sources = [], []
    for path in paths:
        for query in load_queries(path).values():
            source = query.metadata.get("source_qid", "")
            if source not in position:
                raise ValueError(f"{path}: {query.qid}: source_qid {source!r} is no judged question")
            texts.append(query.text.strip())
            sources.append(position[source])
    return TrainingRewrites(texts, np.asarray(sources, dtype=np.int64))


def training_questions(
    texts: Sequence[str], problem: AdapterProblem, train: np.ndarray, extra: TrainingRewrites | None
) -> tuple[list[str], AdapterProblem]:
    """The questions at ``train`` and, with ``extra``, the rewrites of them (never of a question outside
    ``train``, so never of a held-out one): their texts and their problem (a rewrite's relevant and
    hard-negative documents are its source's)."""
    if extra is None:
        return [texts[int(i)] for i in train], subset(problem, train)
    kept = np.flatnonzero(np.isin(extra.sources, train))
    positions = np.concatenate([train, extra.sources[kept]])
    return [texts[int(i)] for i in train] + [extra.texts[int(i)] for i in kept], subset(problem, positions)


def tower_variants(
    configs: Sequence[TowerSettings], extra: TrainingRewrites | None
) -> list[tuple[str, TowerSettings, TrainingRewrites | None]]:
    """(label, settings, training rewrites) of every tower to fit: each setting, and with ``extra`` each
    setting trained on the rewrites too."""
    variants: list[tuple[str, TowerSettings, TrainingRewrites | None]] = []
    for config in configs:
        variants.append((config_label(config), config, None))
        if extra is not None:
            variants.append((f"{config_label(config)} + rewrites", config, extra))
    return variants


def cross_validate(
    base_model: Any,
    problem: AdapterProblem,
    retrieval: Retrieval,
    folds: Sequence[np.ndarray],
    configs: Sequence[TowerSettings],
    say: Log,
    fusion_weights: Sequence[float] = (),
    rewrites: Rewrites | None = None,
    train_rewrites: TrainingRewrites | None = None,
) -> dict[str, list[dict[str, dict[str, float]]]]:
    """Per held-out fold, dense and hybrid means of: no tower, the linear adapter, each tower setting, and
    the first setting's hybrid with each of ``fusion_weights`` on the dense side (the fusion re-checked
    with the tower: each fold's tower is fitted without the fold). With ``rewrites``, the rewrites of the
    fold's questions are scored by the same adapter and towers, into ``rewrites.scores``. With
    ``train_rewrites``, each setting is also fitted on the training folds' rewrites beside their
    questions."""
    rows: dict[str, list[dict[str, dict[str, float]]]] = {"none": [], "adapter": []}
    everyone = np.arange(len(retrieval.qids))
    for number, test in enumerate(folds, 1):
        train = np.setdiff1d(everyone, test)
        held = rewrites.held_out(test) if rewrites is not None else np.zeros(0, dtype=np.int64)
        base = score_positions(retrieval, test, None)
        rows["none"].append(means(base))
        matrix = fit_adapter(subset(problem, train), FitSettings(penalty=ADAPTER_PENALTY))
        adapted = score_positions(retrieval, test, matrix)
        rows["adapter"].append(means(adapted))
        if rewrites is not None:
            rewrites.record("none", test, base, held, rewrites.retrieval)
            rewrites.record("adapter", test, adapted, held, rewrites.retrieval, matrix)
        for name, config, extra in tower_variants(configs, train_rewrites):
            started = time.perf_counter()
            texts, trained_on = training_questions(retrieval.texts, problem, train, extra)
            tower = fit_tower(base_model, texts, trained_on, config)
            tuned = retrieval.vectors.copy()
            tuned[test] = encode_with(tower, [retrieval.texts[i] for i in test], grad=False).numpy()
            fold = score_positions(with_vectors(retrieval, tuned), test, None)
            scores = means(fold)
            rows.setdefault(name, []).append(scores)
            if rewrites is not None:
                rewrites.record(name, test, fold, held, rewrites.encoded_by(tower, held))
            for weight in fusion_weights if (config, extra) == (configs[0], None) else ():
                fusion = replace(retrieval.fusion, dense_weight=weight)
                weighed = with_vectors(replace(retrieval, fusion=fusion), tuned)
                label = f"{config_label(config)}, fusion dense weight {weight:g}"
                rows.setdefault(label, []).append(means(score_positions(weighed, test, None)))
            none, adapter = rows["none"][-1]["hybrid"]["ndcg@10"], rows["adapter"][-1]["hybrid"]["ndcg@10"]
            say(
                f"fold {number}: {name} ({len(texts)} training questions) hybrid nDCG@10 {none:.4f} -> "
                f"{scores['hybrid']['ndcg@10']:.4f} (adapter {adapter:.4f}), "
                f"{time.perf_counter() - started:.0f} s"
            )
    return rows


def config_label(config: TowerSettings) -> str:
    return f"tower {config.layers} layers, {config.epochs} epochs, lr {config.learning_rate:g}"


def cv_table(rows: dict[str, list[dict[str, dict[str, float]]]]) -> str:
    """Markdown: held-out mean ± std over folds per variant and mode, and the paired Δ nDCG@10 over none."""
    lines = [
        "| variant | mode | nDCG@10 | MRR@10 | paired Δ nDCG@10 over none (mean ± std; per fold) |",
        "|---|---|---|---|---|",
    ]
    for label, outcomes in rows.items():
        for mode in ("hybrid", "dense"):
            ndcg = np.asarray([o[mode]["ndcg@10"] for o in outcomes])
            mrr = np.asarray([o[mode]["mrr@10"] for o in outcomes])
            delta = ndcg - np.asarray([o[mode]["ndcg@10"] for o in rows["none"]])
            lines.append(
                f"| {label} | {mode} | {ndcg.mean():.3f} ± {ndcg.std(ddof=1):.3f} | "
                f"{mrr.mean():.3f} ± {mrr.std(ddof=1):.3f} | {delta.mean():+.4f} ± {delta.std(ddof=1):.4f}; "
                + ", ".join(f"{d:+.3f}" for d in delta)
                + " |"
            )
    return "\n".join(lines)


def paired_with_none(
    scores: PerQuestion, label: str, mode: str, metric: str, qids: Sequence[str], base: str = "none"
) -> tuple[float, float, tuple[float, float]]:
    """Mean of ``label`` over ``qids``, the mean per-question difference ``label`` - ``base`` (none by
    default), and its 95% bootstrap interval."""
    values = np.asarray([scores[label][mode][metric][qid] for qid in qids])
    delta = values - np.asarray([scores[base][mode][metric][qid] for qid in qids])
    return float(values.mean()), float(delta.mean()), bootstrap_ci(delta)


def rewrites_gain_table(rewrites: Rewrites) -> str:
    """Markdown: each tower trained with rewrites against the same setting without them, paired per
    question, on the rewrites and on their sources (empty when no tower was trained with rewrites)."""
    scores, suffix = rewrites.scores, " + rewrites"
    pairs = [(label, label[: -len(suffix)]) for label in scores if label.endswith(suffix)]
    if not pairs:
        return ""
    qids, sources = rewrites.retrieval.qids, rewrites.source_qids
    lines = [
        "| tower | mode | metric | rewrites: Δ with - without [95% CI] | their sources: Δ [95% CI] |",
        "|---|---|---|---|---|",
    ]
    for label, base in pairs:
        for mode in ("hybrid", "dense"):
            for metric in METRICS:
                _, delta, interval = paired_with_none(scores, label, mode, metric, qids, base)
                _, source_delta, source_interval = paired_with_none(
                    scores, label, mode, metric, sources, base
                )
                lines.append(
                    f"| {base} | {mode} | {metric} | {delta_text(delta, interval)} | "
                    f"{delta_text(source_delta, source_interval)} |"
                )
    return "\n".join(lines)


def delta_text(delta: float, interval: tuple[float, float]) -> str:
    return f"{delta:+.4f} [{interval[0]:+.4f}, {interval[1]:+.4f}]"


def rewrites_table(rewrites: Rewrites) -> str:
    """Markdown: per variant, mode and metric, the rewrites' held-out mean and their sources' (same folds),
    each with the paired per-question Δ over none and its 95% bootstrap interval."""
    scores = rewrites.scores
    qids, sources = rewrites.retrieval.qids, rewrites.source_qids
    lines = [
        f"| variant | mode | metric | rewrites (n={len(qids)}) | Δ over none [95% CI] | their sources | "
        "Δ over none [95% CI] |",
        "|---|---|---|---|---|---|---|",
    ]
    for label in scores:
        for mode in ("hybrid", "dense"):
            for metric in METRICS:
                mean, delta, interval = paired_with_none(scores, label, mode, metric, qids)
                source_mean, source_delta, source_interval = paired_with_none(
                    scores, label, mode, metric, sources
                )
                lines.append(
                    f"| {label} | {mode} | {metric} | {mean:.3f} | {delta_text(delta, interval)} | "
                    f"{source_mean:.3f} | {delta_text(source_delta, source_interval)} |"
                )
    return "\n".join(lines)


def styles_table(rewrites: Rewrites, metric: str = "ndcg@10") -> str:
    """Markdown: per variant other than none, mode and style, ``metric`` of the style's rewrites with none
    and with the variant, the paired Δ [95% CI], and the same for their sources."""
    scores = rewrites.scores
    lines = [
        f"| variant | mode | style | n | rewrites {metric}: none | variant | Δ [95% CI] | "
        "sources: none | variant | Δ [95% CI] |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label in [label for label in scores if label != "none"]:
        for mode in ("hybrid", "dense"):
            for style in sorted(set(rewrites.styles)):
                picked = [i for i, s in enumerate(rewrites.styles) if s == style]
                cells = [f"| {label} | {mode} | {style} | {len(picked)} |"]
                for qids in (
                    [rewrites.retrieval.qids[i] for i in picked],
                    [rewrites.source_qids[i] for i in picked],
                ):
                    mean, delta, interval = paired_with_none(scores, label, mode, metric, qids)
                    cells.append(f" {mean - delta:.3f} | {mean:.3f} | {delta_text(delta, interval)} |")
                lines.append("".join(cells))
    return "\n".join(lines)


def cv_summary(rows: dict[str, list[dict[str, dict[str, float]]]]) -> dict[str, dict[str, list[float]]]:
    """Per variant and "mode metric": held-out [mean, std] over folds."""
    return {
        label: {
            f"{mode} {metric}": [
                round(float(np.mean([o[mode][metric] for o in outcomes])), 4),
                round(float(np.std([o[mode][metric] for o in outcomes], ddof=1)), 4),
            ]
            for mode in ("hybrid", "dense")
            for metric in METRICS
        }
        for label, outcomes in rows.items()
    }


def write_tower(folder: Path, delta: dict[str, np.ndarray], meta: dict[str, object]) -> Path:
    """delta.safetensors and tower.json (``meta`` plus the delta's sha256) into ``folder``."""
    from safetensors.numpy import save_file

    from citeqa.question_tower import DELTA_FILE, SIDECAR_FILE, file_sha256

    folder.mkdir(parents=True, exist_ok=True)
    save_file(delta, str(folder / DELTA_FILE), metadata={"format": "pt"})
    sidecar = {**meta, "sha256": file_sha256(folder / DELTA_FILE)}
    (folder / SIDECAR_FILE).write_text(json.dumps(sidecar, indent=2) + "\n", encoding="utf-8")
    return folder


def parse_configs(text: str) -> list[TowerSettings]:
    """ "layers:epochs:lr" items, comma-separated."""
    configs = []
    for item in text.split(","):
        layers, epochs, rate = item.split(":")
        configs.append(TowerSettings(int(layers), int(epochs), float(rate)))
    return configs


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m eval.query_tower_fit", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--dataset", type=Path, required=True, help="BEIR folder (medquad-dev)")
    parser.add_argument("--index-root", type=Path, default=Path("var/eval/indexes"))
    parser.add_argument("--folds", type=int, default=DEFAULT_FOLDS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    default = TowerSettings()
    parser.add_argument(
        "--configs",
        default=f"{default.layers}:{default.epochs}:{default.learning_rate:g}",
        help="tower settings to cross-validate, layers:epochs:learning-rate, comma-separated; the first is "
        "the one --out fits",
    )
    parser.add_argument(
        "--fusion-weights",
        default="",
        help="dense weights of the hybrid fusion to score the first setting's towers with, comma-separated",
    )
    parser.add_argument(
        "--no-cv", action="store_true", help="skip the cross-validation (with --out: fit only)"
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="write the tower fitted on every question here"
    )
    parser.add_argument(
        "--extra-queries",
        type=Path,
        default=None,
        help="rewrites of the benchmark's questions (queries.jsonl; metadata source_qid and style) to score "
        "in the CV, each with the fold holding its source, beside their sources",
    )
    parser.add_argument(
        "--train-rewrites",
        type=Path,
        nargs="+",
        default=None,
        help="rewrites of the benchmark's questions (queries.jsonl; metadata source_qid) to train on beside "
        "them: the CV fits each setting with and without them (a fold's towers never see a rewrite of its "
        "questions), and --out is fitted with them",
    )
    parser.add_argument("--report", type=Path, default=None, help="write the CV table and log here (.md)")
    parser.add_argument("--seed-check", action="store_true", help="score the seed set with the --out tower")
    return run(parser.parse_args(argv))


def run(args: argparse.Namespace) -> int:
    from citeqa.question_tower import WEIGHTS_FILE, file_sha256
    from indexer.embedding import resolve_model_path
    from service.settings import Settings

    say = ReportLog()
    started = time.perf_counter()
    settings = Settings()
    setup = benchmark_setup(settings, args.dataset, args.index_root)
    dataset, prepared, retrieval, problem = setup.dataset, setup.prepared, setup.retrieval, setup.problem
    qids, texts = retrieval.qids, retrieval.texts
    configs = parse_configs(args.configs)
    base_model = setup.encoder._model
    say(f"{dataset.name}: {len(qids)} questions, {len(prepared.index.passages)} passages")
    rows: dict[str, list[dict[str, dict[str, float]]]] = {}
    rewrites = None
    if args.extra_queries is not None:
        rewrites = load_rewrites(args.extra_queries, retrieval, setup.encoder)
        say(f"{args.extra_queries}: {len(rewrites.source_qids)} rewrites of judged questions")
    extra = None
    if args.train_rewrites:
        extra = load_training_rewrites(args.train_rewrites, qids)
        say(f"training rewrites: {len(extra)} from {', '.join(map(str, args.train_rewrites))}")
    if not args.no_cv:
        weights = [float(w) for w in args.fusion_weights.split(",") if w.strip()]
        folds = make_folds(qids, args.folds, args.seed)
        rows = cross_validate(base_model, problem, retrieval, folds, configs, say, weights, rewrites, extra)
        say("")
        say(cv_table(rows))
        if rewrites is not None:
            say(f"\nthe rewrites of {args.extra_queries} and their sources, held out alike:\n")
            say(rewrites_table(rewrites))
            gain = rewrites_gain_table(rewrites)
            if gain:
                say("\ntraining on rewrites, paired with the same setting without them:\n")
                say(gain)
            say("\nper style, nDCG@10:\n")
            say(styles_table(rewrites))
    if args.out is not None:
        chosen = configs[0]
        everyone = np.arange(len(qids))
        trained_on = training_questions(texts, problem, everyone, extra)
        tower = fit_tower(base_model, *trained_on, chosen)
        meta = {
            "model": settings.model,
            "base_sha256": file_sha256(Path(resolve_model_path(settings.model)) / WEIGHTS_FILE),
            "command": "python -m eval.query_tower_fit " + " ".join(sys.argv[1:]),
            "data": f"{args.dataset} ({len(qids)} questions, qrels/test.tsv), index {prepared.index.path}"
            + (
                f"; {len(extra)} rewrites of them: {' '.join(map(str, args.train_rewrites))}" if extra else ""
            ),
            "fit": asdict(chosen),
            "cv": cv_summary(rows),
        }
        write_tower(args.out, tower_delta(base_model, tower, chosen.layers), meta)
        say(f"wrote {args.out} ({config_label(chosen)}, fitted on every question)")
        if args.seed_check:
            towers = {config_label(chosen): args.out}
            with tempfile.TemporaryDirectory() as scratch:
                for number, other in enumerate(configs[1:], 1):  # the other settings, fitted alike
                    fitted = fit_tower(base_model, *trained_on, other)
                    folder = write_tower(
                        Path(scratch) / f"tower-{number}", tower_delta(base_model, fitted, other.layers), meta
                    )
                    towers[config_label(other)] = folder
                seed_check(settings, towers, Path(scratch) / "cache", say)
    say(f"done in {time.perf_counter() - started:.0f} s")
    say.write(args.report)
    return 0


def seed_check(settings: Any, towers: dict[str, Path], cache: Path, say: Log) -> None:
    """The seed set's hybrid and dense metrics over the configured index: the model alone, with the
    packaged adapter, and with each tower of ``towers`` (label: folder; loaded as the service loads it,
    the ones not written to --out made in ``cache``)."""
    from citeqa.query_adapter import DEFAULT_QUERY_ADAPTER_PATH
    from eval.harness import SEED_METRICS, evaluate_seed, markdown_table
    from eval.seed_set import DEFAULT_SEED_SET, load_eval_set
    from service.wiring import build_searcher

    questions = load_eval_set(DEFAULT_SEED_SET)
    variants: dict[str, dict[str, object]] = {
        "the model alone": {"query_adapter_path": None, "question_tower_path": None},
        "the linear adapter": {"query_adapter_path": DEFAULT_QUERY_ADAPTER_PATH, "question_tower_path": None},
    }
    for number, (label, folder) in enumerate(towers.items()):
        cached = {} if number == 0 else {"onnx_cache_path": cache}
        variants[label] = {"query_adapter_path": None, "question_tower_path": folder, **cached}
    for label, update in variants.items():
        searcher = build_searcher(settings.model_copy(update=update))
        say(f"\nseed set, {label}:\n")
        say(markdown_table(evaluate_seed(searcher, questions, ("hybrid", "dense")), SEED_METRICS))


if __name__ == "__main__":
    raise SystemExit(main())
