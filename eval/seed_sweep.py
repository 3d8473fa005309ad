"""Passage size, overlap and fusion weight swept over the SEED set, chosen by cross-validation (eval/cv.py).

Per passage setting: index the default corpus (kept under var/eval/indexes/seed/, rebuilt when stale, through
the embedding cache), re-derive the seed set's passage-level relevance from its gold quotes for that
chunking (eval/seed_set.seed_qrels), compute each answerable question's Candidates once, and score dense,
bm25 and convex_minmax fusion at every weight of eval/cv.WEIGHTS offline (citeqa.fusion is pure). The
choice is eval/cv.choose: per fold, the setting and weight are chosen on the other folds; the passage
setting must beat the current default (listed first) by more than one standard error to be chosen.

Caveat, stated in the report: relevance is passage-level, so bigger passages are bigger targets (fewer,
longer passages each more likely to hold the quote), and the 25-passage corpus is tiny. So the sweep also
scores a size-fair metric, hit@Nw: a gold passage within the first N words a reader gets (passages taken
whole, in rank order, while their running word count stays within N; the first one always), and runs the
whole CV procedure selected by it too. The defaults were
chosen on medquad-dev (eval/fusion_sweep.md); this sweep checks them on the seed set.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from citeqa.fusion import FusionSettings
from citeqa.query_adapter import QueryAdapter
from citeqa.search import Searcher
from corpus.types import Document
from eval.cv import (
    SELECT_METRIC,
    WEIGHTS,
    Choice,
    CvRow,
    PassageSetting,
    Scores,
    Sweep,
    choice_lines,
    choose,
    config_label,
    cross_validate,
    cv_table,
    dense_of,
    grid_table,
    make_folds,
    per_query_scores,
    rankings_for,
    settings_summary,
    table_key,
)
from eval.harness import RUN_DEPTH, SEED_METRICS
from eval.metrics import Qrels, Run
from eval.seed_set import EvalQuestion, seed_qrels
from indexer.build import build_index
from indexer.embedding import Encoder
from indexer.embedding_cache import EmbeddingCache
from indexer.load import load_index
from indexer.staleness import index_is_current

Log = Callable[[str], None]
DEFAULT_ROOT = Path("var/eval/indexes/seed")
# The current default first: eval.cv.choose keeps the first setting within one standard error of the best.
SEED_PASSAGE_GRID = (
    PassageSetting(120, 30, True, True),
    PassageSetting(120, 0, True, True),
    PassageSetting(60, 15, True, True),
    PassageSetting(80, 20, True, True),
    PassageSetting(80, 0, True, True),
    PassageSetting(160, 40, True, True),
    PassageSetting(200, 50, True, True),
    PassageSetting(200, 0, True, True),
)
DEFAULT_FUSION = FusionSettings()
WORD_BUDGETS = (300, 600)
BUDGET_METRIC = "hit@600w"


def seed_grid(weights: Sequence[float] = WEIGHTS) -> dict[str, list[FusionSettings]]:
    """The default fusion method at every weight (the fusion constant being tuned)."""
    return {DEFAULT_FUSION.method: [FusionSettings(DEFAULT_FUSION.method, dense_weight=w) for w in weights]}


def seed_run(rankings: dict, depth: int = RUN_DEPTH) -> Run:
    """Rank-preserving passage run of the first ``depth`` passages (as eval.harness.passage_run)."""
    return {
        qid: {str(int(p)): float(depth - i) for i, p in enumerate(ids[:depth])}
        for qid, ids in rankings.items()
    }


def budget_hits(
    qrels: Qrels,
    rankings: Mapping[str, np.ndarray],
    words: Sequence[int],
    qids: Sequence[str],
    budgets: Sequence[int] = WORD_BUDGETS,
) -> Scores:
    """hit@Nw per question (aligned with ``qids``): 1 when a relevant passage is among the passages read in
    rank order while their running word count stays within N (the first passage is always read)."""
    out: Scores = {}
    for budget in budgets:
        values = []
        for qid in qids:
            ids = [int(i) for i in rankings[qid]]
            read = np.cumsum([words[i] for i in ids]) <= budget
            if len(read):
                read[0] = True
            values.append(
                float(any(qrels[qid].get(str(i), 0) > 0 for i, r in zip(ids, read, strict=True) if r))
            )
        out[f"hit@{budget}w"] = np.asarray(values)
    return out


def run_seed_sweep(
    documents: Sequence[Document],
    questions: Sequence[EvalQuestion],
    encoder: Encoder,
    settings: Sequence[PassageSetting] = SEED_PASSAGE_GRID,
    folds: int = 5,
    seed: int = 0,
    root: Path = DEFAULT_ROOT,
    cache: EmbeddingCache | None = None,
    log: Log | None = None,
    query_adapter: QueryAdapter | None = None,
    question_encoder: Encoder | None = None,
) -> Sweep:
    """Every passage setting and fusion of the grid scored on the seed set, cross-validated; retrieval
    searches with ``query_adapter`` (the service's, see citeqa.query_adapter) when given, questions
    encoded by ``question_encoder`` (the service's question tower, see citeqa.question_tower) when given."""
    say = log or (lambda _message: None)
    answerable = [q for q in questions if q.answerable]
    qids = [q.qid for q in answerable]
    section = {q.qid: f"{q.doc_id}/{q.section}" for q in answerable}
    sweep = Sweep(
        "seed",
        qids,
        make_folds(qids, folds, seed, group=section.__getitem__),
        list(settings),
        seed_grid(),
        seed,
    )
    configs: list[FusionSettings | str] = ["dense", "bm25", *sweep.grid[DEFAULT_FUSION.method]]
    if DEFAULT_FUSION not in configs:
        configs.append(DEFAULT_FUSION)
    for setting in settings:
        started = time.perf_counter()
        index_settings = setting.index_settings()
        folder = root / setting.label.replace(":", "_")
        if not index_is_current(folder, list(documents), encoder.name, index_settings):
            build_index(
                list(documents), encoder, folder, index_settings, "default corpus (seed sweep)", cache=cache
            )
        index = load_index(folder, expected_model=encoder.name)
        searcher = Searcher(index, encoder, query_adapter=query_adapter, question_encoder=question_encoder)
        qrels = seed_qrels(answerable, index.documents, index.passages)
        candidates = {q.qid: searcher.candidates(q.question, len(index.passages)) for q in answerable}
        words = [len(p.text.split()) for p in index.passages]
        for config in configs:
            rankings = rankings_for(candidates, config)
            scores = per_query_scores(qrels, seed_run(rankings), qids, SEED_METRICS)
            scores.update(budget_hits(qrels, rankings, words, qids))
            sweep.table[table_key(setting, config)] = scores
        sweep.passages[setting.label] = len(index.passages)
        sweep.seconds[setting.label] = time.perf_counter() - started
        seconds = sweep.seconds[setting.label]
        say(f"[{setting.label}] {len(index.passages)} passages, scored in {seconds:.0f} s")
    return sweep


def setting_rows(sweep: Sweep, setting: PassageSetting) -> list[CvRow]:
    """dense, bm25, the fusion weight chosen per fold, and the default weight held fixed."""
    rows = [sweep.fixed_row(setting, mode, mode) for mode in ("dense", "bm25")]
    rows += [sweep.family_row(setting, family) for family in sweep.grid]
    rows.append(sweep.fixed_row(setting, f"{DEFAULT_FUSION.label()} (default)", DEFAULT_FUSION))
    return rows


def budget_procedure(sweep: Sweep, select: str = BUDGET_METRIC) -> CvRow:
    """The whole procedure, choosing passage setting and weight by a size-fair metric."""
    keys = [table_key(s, c) for s in sweep.settings for f in sweep.grid for c in sweep.grid[f]]
    return CvRow(
        f"full procedure, chosen by {select}",
        cross_validate(sweep.table, keys, sweep.folds, dense_of, select),
    )


def budget_summary(sweep: Sweep) -> str:
    """Per setting, on all questions: words per passage and the size-fair hits of dense and default fusion."""
    names = [f"hit@{b}w" for b in WORD_BUDGETS]
    header = ["passages", "count", *(f"dense {n}" for n in names), *(f"fusion w=0.8 {n}" for n in names)]
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for setting in sweep.settings:
        dense = sweep.table[table_key(setting, "dense")]
        fused = sweep.table[table_key(setting, DEFAULT_FUSION)]
        cells = [setting.label, str(sweep.passages[setting.label])]
        cells += [f"{dense[n].mean():.3f}" for n in names] + [f"{fused[n].mean():.3f}" for n in names]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def suggestion_lines(sweep: Sweep, choice: Choice) -> list[str]:
    """Facts for the reader: what each selection picks, and the default weight against the CV-chosen one."""
    default = sweep.settings[0]
    by_budget = budget_procedure(sweep)
    picks = sorted({f.chosen.split(" | ")[0] for f in by_budget.folds})
    fixed = sweep.fixed_row(default, "default", DEFAULT_FUSION)
    tuned = sweep.family_row(default, DEFAULT_FUSION.method)
    budget = f"{by_budget.mean(BUDGET_METRIC):.3f} ± {by_budget.std(BUDGET_METRIC):.3f}"
    fixed_score = f"{fixed.mean(SELECT_METRIC):.3f} ± {fixed.std(SELECT_METRIC):.3f}"
    tuned_score = f"{tuned.mean(SELECT_METRIC):.3f} ± {tuned.std(SELECT_METRIC):.3f}"
    tuned_picks = ", ".join(sorted({f.chosen.split(" | ")[-1] for f in tuned.folds}))
    return [
        f"- Chosen by {SELECT_METRIC} (passage-level): `{choice.setting.label}`, {choice.fusion.label()}.",
        f"- Chosen by {BUDGET_METRIC} (size-fair), per fold: {', '.join(f'`{p}`' for p in picks)} "
        f"(held-out {BUDGET_METRIC} {budget}).",
        f"- Default passages `{default.label}`: the default weight ({DEFAULT_FUSION.label()}) scores "
        f"held-out {SELECT_METRIC} {fixed_score}; the weight chosen per fold scores {tuned_score} "
        f"(chosen: {tuned_picks}).",
    ]


def sweep_markdown(sweep: Sweep, choice: Choice, command: str, seconds: float) -> str:
    sizes = ", ".join(str(len(f)) for f in sweep.folds)
    metrics = [*SEED_METRICS, *(f"hit@{b}w" for b in WORD_BUDGETS)]
    default = sweep.settings[0]
    lines = [
        "# Passage size, overlap and fusion weight: seed-set sweep",
        "",
        f"Produced by `{command}` ({seconds / 60:.1f} min on this machine).",
        "",
        f"- {len(sweep.qids)} answerable seed questions in {len(sweep.folds)} folds ({sizes}), grouped by "
        f"document section (questions on one section share a fold), seeded shuffle (seed {sweep.seed}).",
        f"- Per fold, the passage setting and/or the dense weight of {DEFAULT_FUSION.method} are chosen on "
        f"the other folds by {SELECT_METRIC}, then scored on the held-out fold: values are mean ± sample std "
        "over the held-out folds. Δ: held-out difference to dense on the same passages.",
        "- Relevance is passage-level: a passage is relevant when it holds a gold quote, re-derived for each "
        "chunking. Bigger passages are bigger targets, so passage-level scores favour them; and the corpus "
        f"has 2 documents ({sweep.passages[default.label]} passages by default). Read it as a check, not a "
        "tuning: the defaults were chosen by cross-validation on medquad-dev (eval/fusion_sweep.md).",
        "- Size-fair metric hit@Nw: a gold passage within the first N words returned (passages read whole in "
        "rank order while the running word count stays within N; the first always). It asks what a reader "
        "with a fixed reading budget finds, whatever the passage size.",
        "- Passage settings: MAX_WORDS:OVERLAP_WORDS:title:bm25title (title embedded and BM25-indexed with "
        "each passage, as the default index does).",
        "",
        "## Choice (eval/cv.choose: the first setting within one standard error of the best CV mean; the "
        "default is listed first)",
        "",
        *choice_lines(choice),
        "",
        "## What each selection picks",
        "",
        *suggestion_lines(sweep, choice),
        "",
        "## Whole procedure (passage setting and weight chosen on the training folds)",
        "",
        cv_table([sweep.full_procedure(), budget_procedure(sweep)], metrics),
        "",
        "## Size-fair view (all questions, for reference)",
        "",
        budget_summary(sweep),
        "",
        "## Passage settings (dense, bm25 and the CV-chosen weight per setting)",
        "",
        settings_summary(sweep),
    ]
    for setting in sweep.settings:
        lines += ["", f"## Passages `{setting.label}` ({sweep.passages[setting.label]} passages)", ""]
        lines.append(cv_table(setting_rows(sweep, setting), metrics))
    lines += [
        "",
        f"## Every weight on all questions, passages `{default.label}` (for reference: not used to choose)",
        "",
        grid_table(sweep, default, metrics),
    ]
    return "\n".join(lines) + "\n"


def write_seed_sweep(sweep: Sweep, path: Path, command: str, seconds: float) -> Choice:
    choice = choose(sweep)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(sweep_markdown(sweep, choice, command, seconds), encoding="utf-8")
    return choice


__all__ = ["SEED_PASSAGE_GRID", "config_label", "run_seed_sweep", "seed_grid", "write_seed_sweep"]
