"""The seed-set sweep of passage size, overlap and fusion weight: its per-question scores agree with the
evaluation harness on the default index, folds keep a section together, and the report is written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from citeqa.fusion import FusionSettings
from citeqa.search import Searcher
from corpus.types import Document
from eval.cv import PassageSetting, Sweep, table_key
from eval.harness import SEED_METRICS, evaluate_seed
from eval.seed_set import load_eval_set
from eval.seed_sweep import budget_hits, run_seed_sweep, write_seed_sweep
from indexer.embedding import SentenceTransformerEncoder

DEFAULT = PassageSetting(120, 30, True, True)
SMALL = PassageSetting(60, 15, True, True)


def test_budget_hits_read_whole_passages_within_the_word_budget() -> None:
    qrels = {"a": {"2": 1}, "b": {"0": 1}, "c": {"9": 1}}
    words = [400, 250, 250, 100]
    rankings = {"a": np.array([1, 3, 2]), "b": np.array([0, 1]), "c": np.array([1, 2])}
    # a: 250 + 100 + 250 = 600 -> passage 2 is read at 600 words, not at 300; b: the first passage is
    # always read, even past the budget; c: nothing relevant.
    hits = budget_hits(qrels, rankings, words, ["a", "b", "c"], budgets=(300, 600))
    assert hits["hit@300w"].tolist() == [0.0, 1.0, 0.0]
    assert hits["hit@600w"].tolist() == [1.0, 1.0, 0.0]


@pytest.fixture(scope="module")
def sweep(
    default_documents: list[Document],
    encoder: SentenceTransformerEncoder,
    searcher: Searcher,
    tmp_path_factory: pytest.TempPathFactory,
) -> Sweep:
    root = tmp_path_factory.mktemp("seed-sweep")
    return run_seed_sweep(
        default_documents,
        load_eval_set(),
        encoder,
        [DEFAULT, SMALL],
        folds=3,
        root=root,
        query_adapter=searcher.query_adapter,  # the service's, as the harness searches
        question_encoder=searcher.question_encoder,  # the service's question tower, likewise
    )


def test_the_sweep_scores_as_the_harness_does(sweep: Sweep, searcher: Searcher) -> None:
    """On the default passages, dense, bm25 and the default fusion score each question exactly as
    `citeqa eval` does over the service's index, before near-duplicates are merged (the sweep scores
    rankings of passages; the service then groups them into results)."""
    questions = load_eval_set()
    by_mode = {s.mode: s for s in evaluate_seed(searcher, questions, dedup="none")}
    configs = {"dense": "dense", "bm25": "bm25", "hybrid": FusionSettings()}
    for mode, config in configs.items():
        table = sweep.table[table_key(DEFAULT, config)]
        for metric in SEED_METRICS:
            expected = [by_mode[mode].per_query[metric][qid] for qid in sweep.qids]
            np.testing.assert_allclose(table[metric], expected, err_msg=f"{mode} {metric}")


def test_folds_keep_each_section_together(sweep: Sweep) -> None:
    questions = {q.qid: q for q in load_eval_set() if q.answerable}
    assert sorted(np.concatenate(sweep.folds).tolist()) == list(range(len(sweep.qids)))
    fold_of: dict[str, int] = {}
    for number, fold in enumerate(sweep.folds):
        for position in fold:
            q = questions[sweep.qids[int(position)]]
            assert fold_of.setdefault(f"{q.doc_id}/{q.section}", number) == number


def test_the_sweep_covers_the_grid_and_writes_its_report(sweep: Sweep, tmp_path: Path) -> None:
    assert sweep.passages[SMALL.label] > sweep.passages[DEFAULT.label]
    for setting in (DEFAULT, SMALL):
        for config in ["dense", "bm25", *sweep.grid["convex_minmax"]]:
            assert len(sweep.table[table_key(setting, config)]["ndcg@10"]) == len(sweep.qids)
    path = tmp_path / "seed_sweep.md"
    choice = write_seed_sweep(sweep, path, "citeqa seed-sweep", 1.0)
    assert choice.setting in (DEFAULT, SMALL)
    assert 0.0 <= choice.fusion.dense_weight <= 1.0
    text = path.read_text(encoding="utf-8")
    for part in (
        "## Choice",
        "## Whole procedure",
        DEFAULT.label,
        SMALL.label,
        "convex_minmax w=0.8 (default)",
    ):
        assert part in text


def test_the_seed_sweep_command_runs(tmp_path: Path) -> None:
    """`citeqa seed-sweep` end to end on one passage setting: it builds the searcher as the service does
    (adapter and question tower) and writes its report (it once handed the question encoder over as the
    questions)."""
    from typer.testing import CliRunner

    from service.cli.app import app

    out = tmp_path / "seed_sweep.md"
    args = ["seed-sweep", "--passages", "120:30:title", "--folds", "2", "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--index-root", str(tmp_path / "indexes")])
    assert result.exit_code == 0, result.output
    assert out.exists() and "120:30" in out.read_text(encoding="utf-8")
