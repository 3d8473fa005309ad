"""eval.answer_transfer's arithmetic on synthetic cases (no model, no index): the packaged weights mapped
onto FEATURES, the paired comparison with the mix per set, leave one corpus out fitting without the
corpus it scores, and the Perl FAQ among the unseen sets when its folder is there."""

from __future__ import annotations

import numpy as np

from citeqa.answer_features import FEATURES
from citeqa.answer_model import AnswerModel
from eval.answer_corpora import DEFAULT_CORPUS, AnswerCorpus, answerers
from eval.answer_fit import Case
from eval.answer_transfer import (
    CORPUS_OF,
    Paired,
    leave_one_corpus_out,
    loco_table,
    model_weights,
    paired_by_set,
    report,
    unseen_sets,
)


def cases(set_name: str, column: int, count: int = 40, seed: int = 0) -> list[Case]:
    """Questions of 6 candidates whose gold one is highest on FEATURES ``column``; the mix (baseline)
    picks the candidate highest on column 0 of the first half's questions only."""
    rng = np.random.default_rng(seed)
    out = []
    for q in range(count):
        matrix = rng.normal(size=(6, len(FEATURES)))
        target = q % 6
        matrix[target, column] += 10.0
        gold = np.zeros(6, dtype=bool)
        gold[target] = True
        baseline = matrix[:, column].copy() if q < count // 2 else -matrix[:, column]
        result = np.arange(6, dtype=np.int64) // 2
        out.append(Case(set_name, f"{set_name}{q}", "?", matrix, gold, baseline, np.ones(6, bool), result))
    return out


def test_model_weights_put_each_weight_on_its_feature() -> None:
    model = AnswerModel(features=("idf_overlap", "cosine"), weights=(2.0, -1.0))
    weights = model_weights(model)
    assert weights[FEATURES.index("idf_overlap")] == 2.0 and weights[FEATURES.index("cosine")] == -1.0
    assert np.count_nonzero(weights) == 2


def test_paired_by_set_compares_the_learned_choice_with_the_mix_per_set() -> None:
    weights = np.zeros(len(FEATURES))
    weights[0] = 1.0  # the gold's column of both sets
    paired = paired_by_set(cases("bread", 0) + cases("plants", 0, seed=1), weights)
    assert [p.set_name for p in paired] == ["bread", "plants"]
    for p in paired:
        assert p.learned.all()  # the weights read the gold's column
        assert p.mix.mean() == 0.5  # the mix is right on the first half only
        assert p.row().startswith(f"| {p.set_name} | 40 | 1.000 | 0.500 | +0.500 [")


def test_leave_one_corpus_out_never_fits_on_the_corpus_it_scores() -> None:
    # Two corpora answer by column 1, the third by column 2: left out, it cannot be learned from the others.
    both = cases("seed", 1) + cases("bread", 1, seed=1) + cases("plants", 2, seed=2)
    corpus = {"seed": "milia", "bread": "bread", "plants": "plants"}.__getitem__
    out = leave_one_corpus_out(both, corpus, ridge=1.0)
    assert set(out) == {"milia", "bread", "plants"} and all(len(v) == 40 for v in out.values())
    assert out["milia"].mean() > 0.9 and out["bread"].mean() > 0.9
    assert out["plants"].mean() < 0.5
    # Restricted to column 2 alone, the fit on the others learns nothing of column 1.
    restricted = leave_one_corpus_out(both, corpus, ridge=1.0, columns=[2])
    assert restricted["milia"].mean() < 0.5


def test_loco_table_gives_the_mean_over_corpora() -> None:
    table = loco_table({"mix": {"a": np.array([True, False]), "b": np.array([True, True, True, True])}})
    assert "| mix | 0.500 (2) | 1.000 (4) | 0.750 |" in table
    row = Paired("x", np.array([True]), np.array([False])).row()
    assert row.startswith("| x | 1 | 1.000 | 0.000 | +1.000")


def test_the_perl_faq_joins_the_unseen_sets_when_its_folder_holds_questions(tmp_path) -> None:
    assert "perlfaq" not in unseen_sets(tmp_path / "nowhere")
    (tmp_path / "questions.jsonl").write_text("", encoding="utf-8")
    path, corpus = unseen_sets(tmp_path)["perlfaq"]
    assert path == tmp_path / "questions.jsonl"
    assert corpus == AnswerCorpus("dataset", tmp_path) and CORPUS_OF["perlfaq"] == "perlfaq"
    assert "perlfaq_pages" not in unseen_sets(tmp_path)
    pages = tmp_path.with_name(f"{tmp_path.name}-pages")
    pages.mkdir()
    (pages / "questions.jsonl").write_text("", encoding="utf-8")
    joined = unseen_sets(tmp_path)["perlfaq_pages"]
    assert joined == (pages / "questions.jsonl", AnswerCorpus("dataset", pages))
    assert CORPUS_OF["perlfaq_pages"] == "perlfaq"


def test_each_corpus_is_answered_by_one_answerer_built_once(monkeypatch) -> None:
    built: list[AnswerCorpus] = []
    monkeypatch.setattr(AnswerCorpus, "answerer", lambda self: built.append(self) or object())
    bread = AnswerCorpus("folder", "bread")
    named = [DEFAULT_CORPUS, bread, DEFAULT_CORPUS, AnswerCorpus("folder", "bread")]
    assert list(answerers(named)) == built == [DEFAULT_CORPUS, bread]


def test_the_pooled_row_joins_every_corpus_never_fitted_and_no_fitted_one() -> None:
    unseen = [
        Paired("medquad_answers_2", np.array([True] * 3), np.array([False] * 3)),
        Paired("bread", np.array([True]), np.array([False])),
        Paired("plants", np.array([False]), np.array([False])),
        Paired("perlfaq", np.array([True, False]), np.array([True, True])),
        Paired("perlfaq_pages", np.array([True, True]), np.array([True, True])),  # its questions again
    ]
    model = AnswerModel(features=("cosine",), weights=(1.0,))
    text = report(unseen, {"mix": {"a": np.array([True])}}, model)
    # medquad's new questions are of a corpus the model was fitted on: not pooled.
    assert "| bread + plants + perlfaq (corpora never fitted) | 4 | 0.500 | 0.500 | +0.000 [" in text
