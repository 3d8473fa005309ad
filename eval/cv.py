"""K-fold cross-validation of fusion methods and passage settings on a BEIR dataset.

Per passage setting: build or reuse the index (through the embedding cache), compute every question's
Candidates once (Searcher.candidates: the very lists and scores that Searcher.rank fuses), then score each
fusion setting of the grid offline with citeqa.fusion.fuse_ranking (pure functions), so a grid of ~70
settings costs seconds, not re-retrievals.

Folds are deterministic (seeded) and grouped: questions about the same source page (qid up to "_Q<n>") share
a fold, as the held-out benchmarks use other pages. For each fold, a method's parameters (and, for the full
procedure, the passage setting too) are chosen on the other folds by the selection metric and scored on the
held-out fold; tables give mean ± sample std over the held-out folds, never a single best fold.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from citeqa.fusion import Candidates, FusionSettings, fuse_ranking
from citeqa.search import Searcher
from eval.beir import BeirDataset, Query, load_beir_dataset
from eval.beir_eval import DEFAULT_INDEX_ROOT, EVAL_METRICS, MIN_DOCUMENTS, prepare_index
from eval.metrics import Qrels, Run, collapse_to_documents, evaluate
from indexer.build import IndexSettings
from indexer.chunking import ChunkerSettings
from indexer.embedding import Encoder
from indexer.embedding_cache import EmbeddingCache

SELECT_METRIC = "ndcg@10"
DEFAULT_FOLDS = 5
DEFAULT_SEED = 0
WEIGHTS = (0.3, 0.4, 0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.825, 0.85, 0.875, 0.9, 0.925, 0.95, 0.975, 0.99)
RRF_KS = (10.0, 30.0, 60.0, 100.0)
SENTENCE_DENSE_WEIGHTS = (0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0)
SENTENCE_WEIGHTS = (0.25, 0.5, 0.75, 1.0)
SINGLE_MODES = ("dense", "bm25")
Log = Callable[[str], None]


@dataclass(frozen=True)
class PassageSetting:
    """Passage size and overlap in words, and whether the title goes into the embedded and BM25 texts."""

    max_words: int
    overlap_words: int
    embed_title: bool
    bm25_title: bool = True

    @classmethod
    def parse(cls, text: str) -> PassageSetting:
        """``"120:30:title"``, ``"120:30:notitle"``, optionally ``":bm25title"`` or ``":bm25text"`` after."""
        parts = text.strip().split(":")
        fix = "write MAX_WORDS:OVERLAP:title|notitle[:bm25title|bm25text], e.g. 120:30:title:bm25title"
        if not 3 <= len(parts) <= 4 or parts[2] not in ("title", "notitle"):
            raise ValueError(f"passage setting {text!r}: {fix}")
        if len(parts) == 4 and parts[3] not in ("bm25title", "bm25text"):
            raise ValueError(f"passage setting {text!r}: {fix}")
        bm25_title = parts[3] == "bm25title" if len(parts) == 4 else IndexSettings().bm25_title
        return cls(int(parts[0]), int(parts[1]), parts[2] == "title", bm25_title)

    def index_settings(self) -> IndexSettings:
        chunker = ChunkerSettings(self.max_words, self.overlap_words)
        return IndexSettings(chunker, embed_title=self.embed_title, bm25_title=self.bm25_title)

    @property
    def label(self) -> str:
        title = "title" if self.embed_title else "notitle"
        return (
            f"{self.max_words}:{self.overlap_words}:{title}:{'bm25title' if self.bm25_title else 'bm25text'}"
        )


# Ordered so the embedding cache pays off early (settings sharing passages follow each other).
DEFAULT_PASSAGE_GRID = (
    PassageSetting(120, 30, True, True),
    PassageSetting(120, 30, True, False),
    PassageSetting(120, 0, True, True),
    PassageSetting(200, 50, True, True),
    PassageSetting(200, 0, True, True),
    PassageSetting(80, 20, True, True),
    PassageSetting(120, 30, False, True),
)


def fusion_grid(
    weights: Sequence[float] = WEIGHTS, ks: Sequence[float] = RRF_KS
) -> dict[str, list[FusionSettings]]:
    """The fusion settings tried, by method family."""
    return {
        "rrf": [FusionSettings("rrf", rrf_k=k) for k in ks],
        "weighted_rrf": [
            FusionSettings("weighted_rrf", rrf_k=k, dense_weight=w) for k in ks for w in weights if w >= 0.5
        ],
        "convex": [FusionSettings("convex", dense_weight=w) for w in weights],
        "convex_minmax": [FusionSettings("convex_minmax", dense_weight=w) for w in weights],
        # Sentence-level evidence: part of the dense term from each passage's best stored sentence.
        "convex_minmax+sentences": [
            FusionSettings("convex_minmax", dense_weight=w, sentence_weight=s)
            for w in SENTENCE_DENSE_WEIGHTS
            for s in SENTENCE_WEIGHTS
        ],
    }


FIXED_REFERENCES = {
    "rrf k=60 (previous default)": FusionSettings("rrf", rrf_k=60.0),
    "convex w=0.9 (issue's row)": FusionSettings("convex", dense_weight=0.9),
}


# Folds.


def page_group(qid: str) -> str:
    """Questions of one source page share a group: the qid without its "_Q<n>" suffix."""
    return re.sub(r"_Q\d+$", "", qid)


def make_folds(
    qids: Sequence[str],
    k: int = DEFAULT_FOLDS,
    seed: int = DEFAULT_SEED,
    group: Callable[[str], str] = page_group,
) -> list[np.ndarray]:
    """k disjoint folds of positions into ``qids``, covering all, each group within one fold.

    Groups are shuffled with ``seed``, then each goes to the fold with the fewest questions so far (lowest
    index on ties): deterministic, and balanced to within one group's size.
    """
    if not 2 <= k <= len(qids):
        raise ValueError(f"need 2 <= folds <= {len(qids)} questions, got {k}")
    members: dict[str, list[int]] = {}
    for position, qid in enumerate(qids):
        members.setdefault(group(qid), []).append(position)
    names = sorted(members)
    if len(names) < k:
        # Each group stays within one fold, so fewer groups than folds left folds empty ("15 questions in 3
        # folds (15, 0, 0 questions)"), and a choice made on no training question was reported as CV.
        how = ' (the qid without its "_Q<n>" suffix)' if group is page_group else ""
        shown = ", ".join(repr(name) for name in names[:5]) + (", ..." if len(names) > 5 else "")
        fix = (
            f"use --folds {len(names)} or fewer"
            if len(names) >= 2
            else "cross-validation needs questions of two groups or more"
            + (': give the qids of other pages other prefixes before "_Q<n>"' if how else "")
        )
        raise ValueError(
            f"need at least {k} groups of questions for {k} folds (a group{how} stays within one fold), "
            f"found {len(names)}: {shown}; {fix}"
        )
    order = np.random.default_rng(seed).permutation(len(names))
    folds: list[list[int]] = [[] for _ in range(k)]
    for index in order:
        smallest = min(range(k), key=lambda f: (len(folds[f]), f))
        folds[smallest].extend(members[names[index]])
    return [np.asarray(sorted(fold), dtype=np.int64) for fold in folds]


# Per-query scores, computed offline from candidates.

Scores = dict[str, np.ndarray]  # metric -> per-query values, aligned with the scored qids


def collect_candidates(
    searcher: Searcher, queries: Sequence[Query], min_documents: int = MIN_DOCUMENTS
) -> dict[str, Candidates]:
    """Each question's Candidates, deep enough for its dense list to cover ``min_documents`` documents."""
    passages = searcher.index.passages
    total = len(passages)
    out: dict[str, Candidates] = {}
    for query in queries:
        depth = min(total, 3 * min_documents)
        while True:
            candidates = searcher.candidates(
                query.text.strip(), max(depth, searcher.fusion.candidates), sentences=True
            )
            documents = {passages[int(i)].doc_id for i in candidates.dense_ids}
            if len(documents) >= min_documents or depth >= total:
                break
            depth = min(total, 2 * depth)
        out[query.qid] = candidates
    return out


def document_run(rankings: dict[str, np.ndarray], passage_doc: Sequence[str], min_documents: int) -> Run:
    """Collapse passage id rankings to the first ``min_documents`` documents of each query."""
    run: Run = {}
    for qid, ids in rankings.items():
        order = list(collapse_to_documents([(passage_doc[int(i)], 0.0) for i in ids]))[:min_documents]
        run[qid] = {doc_id: float(len(order) - position) for position, doc_id in enumerate(order)}
    return run


def rankings_for(candidates: dict[str, Candidates], config: FusionSettings | str) -> dict[str, np.ndarray]:
    """Passage rankings of every query: a single list ("dense", "bm25") or a fusion setting."""
    if config == "dense":
        return {qid: c.dense_ids for qid, c in candidates.items()}
    if config == "bm25":
        return {qid: c.bm25_ids for qid, c in candidates.items()}
    assert isinstance(config, FusionSettings)
    return {qid: fuse_ranking(c, config, len(c.ids))[0] for qid, c in candidates.items()}


def per_query_scores(
    qrels: Qrels, run: Run, qids: Sequence[str], metrics: Sequence[str] = EVAL_METRICS
) -> Scores:
    results = evaluate(qrels, run, list(metrics))
    return {name: np.asarray([r.per_query[qid] for qid in qids]) for name, r in results.items()}


def config_label(config: FusionSettings | str) -> str:
    return config if isinstance(config, str) else config.label()


# Cross-validation.


@dataclass(frozen=True)
class FoldResult:
    chosen: str
    heldout: dict[str, float]
    delta: dict[str, float]  # held-out difference to the reference (dense of the chosen setting)


@dataclass(frozen=True)
class CvRow:
    name: str
    folds: list[FoldResult]

    def mean(self, metric: str) -> float:
        return float(np.mean([f.heldout[metric] for f in self.folds]))

    def std(self, metric: str) -> float:
        return float(np.std([f.heldout[metric] for f in self.folds], ddof=1))

    def delta_mean(self, metric: str) -> float:
        return float(np.mean([f.delta[metric] for f in self.folds]))

    def delta_std(self, metric: str) -> float:
        return float(np.std([f.delta[metric] for f in self.folds], ddof=1))


def cross_validate(
    table: dict[str, Scores],
    keys: Sequence[str],
    folds: Sequence[np.ndarray],
    reference: Callable[[str], str],
    select: str = SELECT_METRIC,
) -> list[FoldResult]:
    """Per fold: the key of ``keys`` with the best mean ``select`` on the other folds (first in ``keys`` on
    ties), scored on the fold, with its difference to ``table[reference(key)]`` on the same fold."""
    everyone = np.concatenate(list(folds))
    results = []
    for test in folds:
        train = np.setdiff1d(everyone, test)
        best = max(keys, key=lambda k: (float(table[k][select][train].mean()), -keys.index(k)))
        heldout = {m: float(values[test].mean()) for m, values in table[best].items()}
        base = table[reference(best)]
        delta = {m: heldout[m] - float(base[m][test].mean()) for m in heldout}
        results.append(FoldResult(best, heldout, delta))
    return results


def table_key(setting: PassageSetting, config: FusionSettings | str) -> str:
    return f"{setting.label} | {config_label(config)}"


def dense_of(name: str) -> str:
    return name.split(" | ")[0] + " | dense"


# The sweep.


@dataclass
class Sweep:
    dataset: str
    qids: list[str]
    folds: list[np.ndarray]
    settings: list[PassageSetting]
    grid: dict[str, list[FusionSettings]]
    seed: int = DEFAULT_SEED
    table: dict[str, Scores] = field(default_factory=dict)
    passages: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def family_row(self, setting: PassageSetting, family: str) -> CvRow:
        keys = [table_key(setting, c) for c in self.grid[family]]
        return CvRow(family, cross_validate(self.table, keys, self.folds, dense_of))

    def fixed_row(self, setting: PassageSetting, name: str, config: FusionSettings | str) -> CvRow:
        return CvRow(name, cross_validate(self.table, [table_key(setting, config)], self.folds, dense_of))

    def full_procedure(self, families: Sequence[str] | None = None) -> CvRow:
        """Passage setting, method and parameters all chosen on the training folds."""
        families = families or list(self.grid)
        keys = [table_key(s, c) for s in self.settings for f in families for c in self.grid[f]]
        return CvRow("full procedure", cross_validate(self.table, keys, self.folds, dense_of))

    def mean_on_all(self, table_key: str, metric: str = SELECT_METRIC) -> float:
        return float(self.table[table_key][metric].mean())


def score_setting(
    sweep: Sweep,
    setting: PassageSetting,
    dataset: BeirDataset,
    encoder: Encoder,
    index_root: Path,
    cache: EmbeddingCache | None,
    min_documents: int,
    say: Log,
) -> None:
    """Fill ``sweep.table`` with per-query scores of dense, bm25 and every grid fusion for one setting."""
    started = time.perf_counter()
    prepared = prepare_index(dataset, encoder, setting.index_settings(), index_root, cache)
    state = (
        f"built, {prepared.embedded} embedded, {prepared.from_cache} cached" if prepared.built else "reused"
    )
    say(f"[{setting.label}] index {prepared.index.path} ({state})")
    # Questions by the model, not the question tower: the packaged tower was fitted on medquad-dev's
    # questions, so folds scored with it would be in-sample (eval.query_tower_fit fits one per fold).
    searcher = Searcher(prepared.index, encoder)
    queries = [dataset.queries[qid] for qid in sweep.qids]
    candidates = collect_candidates(searcher, queries, min_documents)
    passage_doc = [p.doc_id for p in prepared.index.passages]
    configs: list[FusionSettings | str] = [*SINGLE_MODES, *(c for cs in sweep.grid.values() for c in cs)]
    configs += [c for c in FIXED_REFERENCES.values() if c not in configs]
    for config in configs:
        run = document_run(rankings_for(candidates, config), passage_doc, min_documents)
        sweep.table[table_key(setting, config)] = per_query_scores(dataset.qrels, run, sweep.qids)
    sweep.passages[setting.label] = len(prepared.index.passages)
    sweep.seconds[setting.label] = time.perf_counter() - started
    dense = sweep.mean_on_all(table_key(setting, "dense"))
    say(
        f"[{setting.label}] {len(configs)} configurations scored in {sweep.seconds[setting.label]:.0f} s "
        f"(dense nDCG@10 {dense:.3f} on all questions)"
    )


def run_sweep(
    dataset_dir: Path,
    encoder: Encoder,
    settings: Sequence[PassageSetting] = DEFAULT_PASSAGE_GRID,
    folds: int = DEFAULT_FOLDS,
    seed: int = DEFAULT_SEED,
    index_root: Path = DEFAULT_INDEX_ROOT,
    cache: EmbeddingCache | None = None,
    min_documents: int = MIN_DOCUMENTS,
    grid: dict[str, list[FusionSettings]] | None = None,
    log: Log | None = None,
) -> Sweep:
    say = log or (lambda _message: None)
    dataset = load_beir_dataset(dataset_dir)
    qids = [qid for qid, grades in dataset.qrels.items() if any(g > 0 for g in grades.values())]
    sweep = Sweep(
        dataset.name, qids, make_folds(qids, folds, seed), list(settings), grid or fusion_grid(), seed
    )
    for setting in settings:
        score_setting(sweep, setting, dataset, encoder, index_root, cache, min_documents, say)
    return sweep


# Choice and report.


@dataclass(frozen=True)
class Choice:
    setting: PassageSetting
    family: str
    fusion: FusionSettings
    cv: CvRow
    best_mean: tuple[str, CvRow]  # the (setting · family) with the highest CV mean, and its row
    gap: tuple[float, float]  # paired per-fold difference of the choice to it: mean, standard error
    rule_setting: PassageSetting | None = None  # what the one-standard-error rule picked, when pinned


def paired_gap(row: CvRow, reference: CvRow, metric: str = SELECT_METRIC) -> tuple[float, float]:
    """Mean and standard error of the per-fold held-out difference ``row - reference``."""
    differences = np.asarray(
        [a.heldout[metric] - b.heldout[metric] for a, b in zip(row.folds, reference.folds, strict=True)]
    )
    return float(differences.mean()), float(differences.std(ddof=1) / np.sqrt(len(differences)))


def best_family(sweep: Sweep, setting: PassageSetting) -> str:
    return max(sweep.grid, key=lambda f: sweep.family_row(setting, f).mean(SELECT_METRIC))


def choose(sweep: Sweep, pinned: PassageSetting | None = None) -> Choice:
    """The passage setting and fusion method by the one-standard-error rule, the parameters on all questions.

    Each setting's method is its family with the best CV mean. The chosen setting is the first of the grid
    (the current default comes first) whose method is within one standard error of the best CV mean (paired
    per-fold differences): a change of passages must beat the fold noise. ``pinned`` overrides the setting
    (a check outside this dataset, such as the seed set, can veto the rule's pick); the rule's pick is kept
    in ``rule_setting`` so the report shows both. The parameters are then chosen on all questions (the
    procedure each fold ran, applied to the whole set).
    """
    rows = {(s, f): sweep.family_row(s, f) for s in sweep.settings for f in sweep.grid}
    top_setting, top_family = max(rows, key=lambda k: rows[k].mean(SELECT_METRIC))
    top = rows[top_setting, top_family]
    for setting in sweep.settings:
        family = best_family(sweep, setting)
        mean, error = paired_gap(rows[setting, family], top)
        if mean >= -error:
            break
    rule_setting = None
    if pinned is not None and pinned != setting:
        if pinned not in sweep.settings:
            raise ValueError(f"pinned passage setting {pinned.label} is not in the sweep's grid")
        rule_setting, setting = setting, pinned
        family = best_family(sweep, setting)
    configs = sweep.grid[family]
    best = max(configs, key=lambda c: (sweep.mean_on_all(table_key(setting, c)), -configs.index(c)))
    label = f"{top_setting.label} · {top_family}"
    gap = paired_gap(rows[setting, family], top)
    return Choice(setting, family, best, rows[setting, family], (label, top), gap, rule_setting)


def cv_table(rows: Sequence[CvRow], metrics: Sequence[str] = EVAL_METRICS) -> str:
    header = (
        "| method | "
        + " | ".join(metrics)
        + " | Δ ndcg@10 vs dense | Δ mrr@10 vs dense | chosen on train folds (fold 1..k) |"
    )
    rule = "|---" * (len(metrics) + 4) + "|"
    lines = [header, rule]
    for row in rows:
        cells = [f"{row.mean(m):.3f} ± {row.std(m):.3f}" for m in metrics]
        deltas = [f"{row.delta_mean(m):+.4f} ± {row.delta_std(m):.4f}" for m in ("ndcg@10", "mrr@10")]
        lines.append(
            f"| {row.name} | " + " | ".join(cells) + " | " + " | ".join(deltas) + f" | {fold_choices(row)} |"
        )
    return "\n".join(lines)


def fold_choices(row: CvRow) -> str:
    """What each fold chose; the passage setting is shown only when it was chosen too."""
    full = row.name.startswith("full procedure")
    chosen = [f.chosen.replace(" | ", " · ") if full else f.chosen.split(" | ")[-1] for f in row.folds]
    return chosen[0] + " (every fold)" if len(set(chosen)) == 1 else "; ".join(chosen)


def setting_rows(sweep: Sweep, setting: PassageSetting) -> list[CvRow]:
    rows = [sweep.fixed_row(setting, mode, mode) for mode in SINGLE_MODES]
    rows += [sweep.family_row(setting, family) for family in sweep.grid]
    rows += [sweep.fixed_row(setting, name, config) for name, config in FIXED_REFERENCES.items()]
    return rows


def grid_table(sweep: Sweep, setting: PassageSetting, metrics: Sequence[str] = EVAL_METRICS) -> str:
    header = "| configuration | " + " | ".join(metrics) + " |"
    lines = [header, "|---" * (len(metrics) + 1) + "|"]
    configs: list[FusionSettings | str] = [*SINGLE_MODES, *(c for cs in sweep.grid.values() for c in cs)]
    for config in configs:
        scores = sweep.table[table_key(setting, config)]
        lines.append(
            f"| {config_label(config)} | " + " | ".join(f"{scores[m].mean():.3f}" for m in metrics) + " |"
        )
    return "\n".join(lines)


def sweep_markdown(sweep: Sweep, choice: Choice, command: str, seconds: float) -> str:
    lines = [
        f"# Fusion and passage-settings sweep: {sweep.dataset}",
        "",
        f"Produced by `{command}` ({seconds / 60:.1f} min on this machine).",
        "",
        *method_notes(sweep),
        "",
        "## Choice",
        "",
        *choice_lines(choice),
        "",
        "## Whole procedure (passage setting, method and parameters all chosen on the training folds)",
        "",
        cv_table([sweep.full_procedure()]),
        "",
        "## Passage settings (dense and best fusion per setting, CV)",
        "",
        settings_summary(sweep),
    ]
    for setting in sweep.settings:
        lines += ["", f"## Passages `{setting.label}` ({sweep.passages[setting.label]} passages)", ""]
        lines.append(cv_table(setting_rows(sweep, setting)))
    lines += [
        "",
        f"## Every configuration on all questions, passages `{choice.setting.label}` "
        "(for reference: not used to choose)",
        "",
        grid_table(sweep, choice.setting),
    ]
    return "\n".join(lines) + "\n"


def method_notes(sweep: Sweep) -> list[str]:
    sizes = ", ".join(str(len(f)) for f in sweep.folds)
    return [
        f"- {len(sweep.qids)} questions in {len(sweep.folds)} folds ({sizes} questions), grouped by "
        f"source page (qid without `_Q<n>`), seeded shuffle (seed {sweep.seed}).",
        f"- Per fold, each method's parameters are chosen on the other folds by {SELECT_METRIC}, then "
        "scored on the held-out fold. Values: mean ± sample std over the held-out folds. Δ: held-out "
        "difference to dense mode on the same passages, per fold.",
        "- Document level: passage rankings collapsed by first occurrence, 100 documents per question. "
        "Hybrid fuses the top 100 passages of each list (as the service does).",
        "- Passage settings are written MAX_WORDS:OVERLAP_WORDS:title|notitle:bm25title|bm25text (the "
        "document title embedded with each passage or not; indexed by BM25 with it or not).",
    ]


def choice_lines(choice: Choice) -> list[str]:
    cv = choice.cv
    label, top = choice.best_mean
    mean, error = choice.gap
    return [
        f"- passages `{choice.setting.label}`, method `{choice.family}`; parameters chosen on all "
        f"questions: **{choice.fusion.label()}**",
        f"- its CV estimate: {SELECT_METRIC} {fmt(cv, SELECT_METRIC)}, mrr@10 {fmt(cv, 'mrr@10')}; vs dense: "
        f"Δ ndcg@10 {cv.delta_mean('ndcg@10'):+.4f} ± {cv.delta_std('ndcg@10'):.4f}, "
        f"Δ mrr@10 {cv.delta_mean('mrr@10'):+.4f} ± {cv.delta_std('mrr@10'):.4f}",
        f"- rule: the first passage setting of the grid whose best method is within one standard error of "
        f"the best CV mean ({label}: {SELECT_METRIC} {fmt(top, SELECT_METRIC)}); paired per-fold "
        f"difference of the choice to it {mean:+.4f} (standard error {error:.4f})",
        *(
            [
                f"- passage setting pinned to `{choice.setting.label}` (--keep-passages); "
                f"the rule alone would pick `{choice.rule_setting.label}`"
            ]
            if choice.rule_setting
            else []
        ),
    ]


def settings_summary(sweep: Sweep) -> str:
    columns = (
        "passages | count | dense ndcg@10 | dense mrr@10 | bm25 ndcg@10 | best fusion (CV) | ndcg@10 | mrr@10"
    )
    lines = [f"| {columns} |", "|---" * 8 + "|"]
    for setting in sweep.settings:
        dense = sweep.fixed_row(setting, "dense", "dense")
        bm25 = sweep.fixed_row(setting, "bm25", "bm25")
        best = max((sweep.family_row(setting, f) for f in sweep.grid), key=lambda r: r.mean(SELECT_METRIC))
        cells = [
            setting.label,
            str(sweep.passages[setting.label]),
            fmt(dense, "ndcg@10"),
            fmt(dense, "mrr@10"),
            fmt(bm25, "ndcg@10"),
            best.name,
            fmt(best, "ndcg@10"),
            fmt(best, "mrr@10"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def fmt(row: CvRow, metric: str) -> str:
    return f"{row.mean(metric):.3f} ± {row.std(metric):.3f}"


def sweep_json(sweep: Sweep, choice: Choice) -> dict[str, Any]:
    """Per-query-free summary: every configuration's mean on all questions and every CV row."""
    rows = {
        s.label: {r.name: [asdict(f) for f in r.folds] for r in setting_rows(sweep, s)}
        for s in sweep.settings
    }
    return {
        "dataset": sweep.dataset,
        "folds": [[sweep.qids[int(i)] for i in fold] for fold in sweep.folds],
        "choice": {
            "passages": asdict(choice.setting),
            "fusion": asdict(choice.fusion),
            "family": choice.family,
        },
        "means_on_all": {k: {m: float(v.mean()) for m, v in sc.items()} for k, sc in sweep.table.items()},
        "cv": rows,
        "full_procedure": [asdict(f) for f in sweep.full_procedure().folds],
    }


def write_sweep(
    sweep: Sweep,
    markdown_path: Path,
    json_path: Path,
    command: str,
    seconds: float,
    pinned: PassageSetting | None = None,
) -> Choice:
    choice = choose(sweep, pinned)
    markdown_path.parent.mkdir(parents=True, exist_ok=True)
    markdown_path.write_text(sweep_markdown(sweep, choice, command, seconds), encoding="utf-8")
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(sweep_json(sweep, choice), indent=2) + "\n", encoding="utf-8")
    return choice
