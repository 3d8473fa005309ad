"""The query adapter's fit (eval.adapter_fit) on a tiny synthetic problem: questions that name their
topic strongly and their question type weakly, against answers that state both. The identity confuses an
answer of the right topic with the topic's other answers; the fitted W must rank held-out topics better."""

from __future__ import annotations

import json

import numpy as np

from eval.adapter_fit import AdapterProblem, FitSettings, adapt, doc_page, fit_adapter, write_adapter

TOPICS = 20
TYPES = 4
DIMENSION = 32


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=-1, keepdims=True)).astype(np.float32)


def synthetic(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(questions [TOPICS * TYPES, d], passages [same], topic of each); question t*TYPES+k's answer is
    passage t*TYPES+k (one passage a document). Both share the topic's direction; a question asks its type
    along one set of directions, an answer states it along another, so the identity cannot tell a topic's
    answers apart while a W that maps one set onto the other can, for every topic."""
    rng = np.random.default_rng(seed)
    topics = unit(np.concatenate([rng.normal(size=(TOPICS, 24)), np.zeros((TOPICS, 8))], axis=1))
    asked = np.zeros((TYPES, DIMENSION))
    asked[np.arange(TYPES), 24 + np.arange(TYPES)] = 1.0
    stated = np.zeros((TYPES, DIMENSION))
    stated[np.arange(TYPES), 28 + np.arange(TYPES)] = 1.0
    pairs = [(t, k) for t in range(TOPICS) for k in range(TYPES)]
    noise = 0.05 * rng.normal(size=(2, len(pairs), DIMENSION))
    passages = unit(np.asarray([topics[t] + 0.5 * stated[k] for t, k in pairs]) + noise[0])
    questions = unit(np.asarray([topics[t] + 0.5 * asked[k] for t, k in pairs]) + noise[1])
    return questions, passages, np.asarray([t for t, _ in pairs])


def mrr(questions: np.ndarray, passages: np.ndarray) -> float:
    scores = questions @ passages.T
    correct = scores[np.arange(len(questions)), np.arange(len(questions))]
    ranks = 1 + (scores > correct[:, None]).sum(axis=1)
    return float(np.mean(1.0 / ranks))


def problem_of(
    questions: np.ndarray, passages: np.ndarray, topic: np.ndarray, rows: np.ndarray
) -> AdapterProblem:
    same_topic = [np.setdiff1d(np.flatnonzero(topic == topic[r]), [r]) for r in rows]
    return AdapterProblem(
        questions[rows],
        passages,
        np.arange(len(passages)),
        [np.asarray([r]) for r in rows],
        same_topic,
    )


def test_fit_improves_held_out_topics() -> None:
    questions, passages, topic = synthetic()
    train = np.flatnonzero(topic < 14)
    test = np.flatnonzero(topic >= 14)
    matrix = fit_adapter(
        problem_of(questions, passages, topic, train),
        FitSettings(penalty=0.01, steps=150, learning_rate=0.01),
    )
    before = mrr(questions[test], passages[test])
    after = mrr(adapt(matrix, questions[test]), passages[test])
    assert before < 0.7 and after > before + 0.2, (before, after)


def test_fit_is_deterministic_and_strong_penalty_stays_near_identity() -> None:
    questions, passages, topic = synthetic()
    train = np.flatnonzero(topic < 14)
    problem = problem_of(questions, passages, topic, train)
    settings = FitSettings(penalty=0.001, steps=20, learning_rate=0.01)
    assert np.array_equal(fit_adapter(problem, settings), fit_adapter(problem, settings))
    stiff = fit_adapter(problem, FitSettings(penalty=1000.0, steps=20, learning_rate=0.01))
    assert np.abs(stiff - np.eye(DIMENSION)).max() < 0.05


def test_no_adapter_is_identity_and_adapt_normalizes() -> None:
    questions, passages, topic = synthetic()
    problem = problem_of(questions, passages, topic, np.flatnonzero(topic < 2))
    assert np.array_equal(fit_adapter(problem, FitSettings(penalty=float("inf"))), np.eye(DIMENSION))
    adapted = adapt(2.0 * np.eye(DIMENSION), questions[:3])
    np.testing.assert_allclose(np.linalg.norm(adapted, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(adapted, questions[:3], rtol=1e-5, atol=1e-6)


def test_doc_page_and_written_file(tmp_path) -> None:
    assert doc_page("CancerGov_0000013_2_1_Sec12") == "CancerGov_0000013_2_1"
    path = write_adapter(tmp_path / "w.npy", np.eye(4, dtype=np.float32), {"model": "m"})
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["dimension"] == 4 and meta["model"] == "m" and len(meta["sha256"]) == 64
    assert np.array_equal(np.load(path, allow_pickle=False), np.eye(4))


def test_the_report_log_prints_keeps_and_writes_its_lines(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    from eval.adapter_fit import ReportLog

    say = ReportLog()
    say("fold 1: 0.9")
    say("done")
    assert capsys.readouterr().out == "fold 1: 0.9\ndone\n"
    say.write(None)
    say.write(tmp_path / "new" / "report.md")
    assert (tmp_path / "new" / "report.md").read_text(encoding="utf-8") == "fold 1: 0.9\ndone\n"
