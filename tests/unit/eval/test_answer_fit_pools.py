"""eval.answer_fit over several candidate pools (depth, sentence candidates): the pool is chosen by
cross-validation, recorded in the model, and compared, paired by question, with the best pool without
sentence candidates. Synthetic cases (no model, no index): the measure's arithmetic only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from citeqa.answer_features import FEATURES
from eval.answer_fit import Case, chosen_key, fit_and_report


def cases(extra_gold: bool, count: int = 80, seed: int = 0) -> list[Case]:
    """Questions of 8 candidates whose gold one has the highest first feature, half of them only among
    two extra candidates (a second result group) when ``extra_gold``; else the gold is a first one."""
    rng = np.random.default_rng(seed)
    out = []
    for q in range(count):
        rows = 10 if extra_gold else 8
        matrix = rng.normal(size=(rows, len(FEATURES)))
        gold = np.zeros(rows, dtype=bool)
        target = rows - 1 if extra_gold and q % 2 else q % 8
        matrix[target, 0] += 3.0
        gold[target] = True
        result = np.array([i // 2 for i in range(rows)], dtype=np.int64)
        out.append(Case("answers", f"q{q}", "?", matrix, gold, matrix[:, 1], np.ones(rows, bool), result))
    return out


def test_the_pool_with_sentence_candidates_is_chosen_recorded_and_compared_paired() -> None:
    without = cases(False)
    # The same questions; half are answerable only with the extra candidates.
    wider = cases(True)
    for w in without[1::2]:
        w.gold[:] = False
        w.gold[0] = True  # the gold is a weak first-result sentence: hard without the extra ones
    model, rows = fit_and_report({(10, 0): without, (10, 10): wider})
    assert model.sentence_candidates == 10 and model.report["sentence_candidates"] == 10
    parts = [str(r["part"]) for r in rows]
    assert "training part, 5-fold CV: chosen - without sentences, paired" in parts
    assert "held out all: chosen - without sentences, paired" in parts
    paired = next(
        r for r in rows if r["part"] == "training part, 5-fold CV: chosen - without sentences, paired"
    )
    assert float(paired["accuracy"]) > 0  # type: ignore[arg-type]


def test_without_sentence_candidates_the_report_is_as_before() -> None:
    model, rows = fit_and_report({(5, 0): cases(False), (10, 0): cases(False, seed=1)})
    assert model.sentence_candidates == 0
    assert not any("without sentences" in str(r["part"]) for r in rows)


def test_a_fit_with_more_sets_never_overwrites_the_packaged_model() -> None:
    """`--also` fits another model than the packaged one; without an --out of its own it is refused before
    anything is read (it wrote citeqa/answer_model.json, found in review)."""
    import pytest

    from eval.answer_fit import main

    with pytest.raises(SystemExit) as refused:
        main(["--also", "medquad_answers_2"])
    assert refused.value.code == 2


def test_the_depths_compared_are_given_on_the_command_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`--depths 1 2 3` asks the cases of exactly those pools (the cross-validation chooses among them);
    a depth below 1 is refused before anything is computed."""
    import eval.answer_fit as answer_fit

    asked: list[object] = []

    def stop(**kwargs: object) -> None:
        asked.append(kwargs["depths"])
        raise SystemExit(0)

    monkeypatch.setattr(answer_fit, "all_cases", stop)
    with pytest.raises(SystemExit):
        answer_fit.main(["--depths", "1", "2", "3", "--out", str(tmp_path / "m.json")])
    assert asked == [[1, 2, 3]]
    with pytest.raises(SystemExit) as refused:
        answer_fit.main(["--depths", "0", "5", "--out", str(tmp_path / "m.json")])
    assert refused.value.code == 2 and asked == [[1, 2, 3]]


def test_the_simplest_setting_within_one_standard_error_of_the_best_is_chosen() -> None:
    def hits(right: int, questions: int = 100) -> np.ndarray:
        return np.arange(questions) < right

    # Best 0.62 (standard error 0.049 over 100 questions): depth 5 at 0.58 is within it, ridge 10 the
    # larger of the two there; sentence candidates only when nothing without them is near.
    cv = {(10, 0, 1.0): hits(62), (5, 0, 1.0): hits(58), (5, 0, 10.0): hits(58), (5, 0, 100.0): hits(50)}
    assert chosen_key(cv) == (5, 0, 10.0)
    assert chosen_key({**cv, (5, 10, 10.0): hits(70)}) == (5, 10, 10.0)
    assert chosen_key({(10, 0, 1.0): hits(62), (5, 0, 10.0): hits(50)}) == (10, 0, 1.0)
