"""Fit and measure the learned answer choice (citeqa.answer_model): ``python -m eval.answer_fit``.

Labelled questions come from three sets: the seed set and the answer-choice set on the default articles
(eval/sets/seed.jsonl, eval/sets/answers.jsonl, hand-written with exact gold quotes) and labelled
medquad-dev questions (eval/sets/medquad_answers.jsonl: the first sentence of the judged article that
answers). A quarter of every set (by a hash of its id, fixed before any fitting) is held out of all
tuning: the regularization is chosen by 5-fold cross-validation on the rest, the weights are fitted on the
rest, and the held-out part is only ever scored. The answer is right when the chosen sentence overlaps a
gold quote (the project's measure); intervals are 95% bootstrap intervals over questions.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from citeqa.answer_choice import answer_sentence, choosable
from citeqa.answer_features import FEATURES
from citeqa.answer_model import DEFAULT_ANSWER_MODEL_PATH, AnswerModel, save_answer_model
from citeqa.answers import Answerer
from citeqa.question_tower import question_side
from eval.answer_corpora import DEFAULT_CORPUS, MEDQUAD_CORPUS, AnswerCorpus, answerers
from eval.answer_report import on_gold
from eval.held_out import bootstrap_interval, is_held_out
from eval.seed_set import DEFAULT_SEED_SET, EvalQuestion, load_eval_set

SETS_DIR = Path(__file__).resolve().parent / "sets"
AnswerSets = dict[str, tuple[Path, AnswerCorpus]]  # set name -> (its questions, the corpus asked)
ANSWER_SETS: AnswerSets = {
    "seed": (DEFAULT_SEED_SET, DEFAULT_CORPUS),
    "answers": (SETS_DIR / "answers.jsonl", DEFAULT_CORPUS),
    "medquad_answers": (SETS_DIR / "medquad_answers.jsonl", MEDQUAD_CORPUS),
    # FAQ pages, the answer after its question (stop 39; written by a helper agent, eval/sets/faq/).
    "faq": (SETS_DIR / "faq.jsonl", AnswerCorpus("folder", "faq")),
}
# Labelled later (stop 30) and kept out of the packaged model's fit: `--also` fits with them, to measure
# what they change (eval.answer_transfer scores the packaged model on them).
MORE_SETS: AnswerSets = {
    "medquad_answers_2": (SETS_DIR / "medquad_answers_2.jsonl", MEDQUAD_CORPUS),
}
RIDGES = (0.1, 1.0, 10.0, 100.0)
DEPTHS = (5, 10)  # candidate depths compared (the answer's pool: the sentences of this many first results)
# How many of the index's closest sentences add their results to the pool (citeqa.sentence_search), compared.
SENTENCE_CANDIDATES = (0,)
Pool = tuple[int, int]  # (depth, sentence candidates)
FOLDS = 5


@dataclass(frozen=True)
class Case:
    """One answerable question's candidate sentences: their features, which overlap a gold quote, the
    similarity mix (the choice before the model), which may answer and their results' positions."""

    set_name: str
    qid: str
    question: str
    matrix: np.ndarray
    gold: np.ndarray
    baseline: np.ndarray
    candidate: np.ndarray
    result: np.ndarray

    @property
    def held_out(self) -> bool:
        return is_held_out(self.set_name, self.qid)

    @property
    def reachable(self) -> bool:
        return bool((self.gold & self.candidate).any())


def collect(
    answerer: Answerer,
    set_name: str,
    questions: Sequence[EvalQuestion],
    depth: int,
    sentence_candidates: int = 0,
    sentence_bm25_weight: float = 0.0,
) -> list[Case]:
    """The candidates (of the first ``depth`` results, and of the results holding the index's
    ``sentence_candidates`` closest sentences, found by dense retrieval or, with ``sentence_bm25_weight``,
    by its fusion with BM25 over the sentences) of every answerable question, hybrid."""
    documents = answerer.searcher.index.documents
    answerer.sentence_candidates_setting = sentence_candidates
    answerer.sentence_bm25_weight_setting = sentence_bm25_weight
    cases = []
    for q in questions:
        if not q.answerable:
            continue
        sentences, matrix = answerer.answer_candidates(q.question, depth=depth)
        gold = np.array(
            [
                on_gold(q, documents, doc, s.start, s.end)
                for doc, s in zip(sentences.doc_ids, sentences.spans, strict=True)
            ],
            dtype=bool,
        )
        cases.append(
            Case(
                set_name,
                q.qid,
                q.question,
                matrix,
                gold,
                sentences.score,
                # What the service chooses among: less the questions an FAQ answers and the headings.
                choosable(sentences.texts, sentences.candidate, sentences.result, sentences.heading),
                sentences.result,
            )
        )
    return cases


def chosen_hit(case: Case, scores: np.ndarray) -> bool:
    best = answer_sentence(scores, case.candidate, case.result, len(case.result) + 1)
    return best is not None and bool(case.gold[best])


def fit_weights(cases: Sequence[Case], ridge: float, columns: Sequence[int] | None = None) -> np.ndarray:
    """A conditional logit (softmax over each question's candidates; the gold candidates' total
    probability is the likelihood) with an L2 penalty on standardized weights; raw-unit weights, one per
    FEATURES column (0 for a column left out of ``columns``, when given)."""
    usable = [c for c in cases if c.reachable]
    kept = np.arange(len(FEATURES)) if columns is None else np.asarray(columns, dtype=np.int64)
    rows = np.vstack([c.matrix[c.candidate][:, kept] for c in usable])
    mean, std = rows.mean(axis=0), rows.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    groups = [((c.matrix[c.candidate][:, kept] - mean) / std, c.gold[c.candidate]) for c in usable]

    def objective(w: np.ndarray) -> tuple[float, np.ndarray]:
        loss, grad = 0.5 * ridge * float(w @ w), ridge * w
        for x, gold in groups:
            z = x @ w
            z = z - z.max()
            p = np.exp(z)
            p /= p.sum()
            q = np.where(gold, p, 0.0)
            q_sum = q.sum()
            loss -= float(np.log(max(q_sum, 1e-300)))
            grad = grad - (q / q_sum - p) @ x
        return loss, grad

    result = minimize(objective, np.zeros(len(kept)), jac=True, method="L-BFGS-B")
    weights = np.zeros(len(FEATURES))
    weights[kept] = np.asarray(result.x) / std
    return weights


def accuracy(cases: Sequence[Case], weights: np.ndarray | None) -> np.ndarray:
    """Per case, whether the chosen sentence is on a gold quote (``weights`` None: the similarity mix)."""
    return np.array(
        [chosen_hit(c, c.baseline if weights is None else c.matrix @ weights) for c in cases], dtype=bool
    )


def cross_validated(cases: Sequence[Case], ridge: float, folds: int = FOLDS, seed: int = 0) -> np.ndarray:
    """Per case, whether it is answered rightly by weights fitted without its fold."""
    order = np.random.default_rng(seed).permutation(len(cases))
    fold = np.empty(len(cases), dtype=np.int64)
    fold[order] = np.arange(len(cases)) % folds
    hits = np.zeros(len(cases), dtype=bool)
    for f in range(folds):
        train = [c for c, k in zip(cases, fold, strict=True) if k != f]
        weights = fit_weights(train, ridge)
        for i in np.flatnonzero(fold == f):
            hits[i] = chosen_hit(cases[i], cases[i].matrix @ weights)
    return hits


def summary(name: str, hits: np.ndarray) -> dict[str, object]:
    low, high = bootstrap_interval(hits)
    return {
        "part": name,
        "questions": len(hits),
        "accuracy": round(float(hits.mean()) if len(hits) else 0.0, 4),
        "interval": [round(low, 4), round(high, 4)],
    }


def chosen_key(cv: dict[tuple[int, int, float], np.ndarray]) -> tuple[int, int, float]:
    """The simplest (depth, sentence candidates, ridge) whose cross-validated accuracy is within one
    standard error of the best (the one-standard-error rule, as the fusion sweep chooses): fewer sentence
    candidates first, then the shallower depth, then the larger ridge. A few questions of a hundred or two
    separate the settings (stop 39: depth 10, ridge 1 led depth 5, ridge 10 by 3 questions of 143, and lost
    "what are milia" to "It's not entirely clear what causes milia.")."""
    best = max(float(hits.mean()) for hits in cv.values())
    error = np.sqrt(best * (1 - best) / len(next(iter(cv.values()))))  # binomial, over the questions
    near = [key for key, hits in cv.items() if float(hits.mean()) >= best - error - 1e-12]
    return min(near, key=lambda key: (key[1], key[0], -key[2]))


def fit_and_report(
    by_pool: dict[Pool, list[Case]], question_encoder: str = "the model"
) -> tuple[AnswerModel, list[dict[str, object]]]:
    """Choose the depth, the sentence candidates and the ridge by cross-validation on the training part,
    fit on all of it, then score the held-out part (once). When sentence candidates are compared, the
    chosen pool is also compared, paired, with the best one without them (cross-validated and held out).
    ``question_encoder`` (citeqa.question_tower.question_side) encoded the questions of the cases: the
    report records it, and a service encoding them otherwise warns."""
    cv = {
        (depth, n, ridge): cross_validated([c for c in cases if not c.held_out], ridge)
        for (depth, n), cases in by_pool.items()
        for ridge in RIDGES
    }
    depth, n, ridge = chosen_key(cv)
    cases = by_pool[(depth, n)]
    train = [c for c in cases if not c.held_out]
    held = [c for c in cases if c.held_out]
    weights = fit_weights(train, ridge)
    rows: list[dict[str, object]] = []
    for (d, k, r), hits in cv.items():
        rows.append(
            {
                **summary(f"training part, 5-fold CV, depth {d}, sentences {k}, ridge {r}", hits),
                "chosen": (d, k, r) == (depth, n, ridge),
            }
        )
    rows.extend(against_no_sentences(by_pool, cv, (depth, n, ridge), weights))
    set_names = list(dict.fromkeys(c.set_name for c in cases))
    for set_name in [*set_names, "all"]:
        part = [c for c in held if set_name in ("all", c.set_name)]
        if part:
            rows.append(
                {**summary(f"held out {set_name}: learned", accuracy(part, weights)), "set": set_name}
            )
            rows.append(
                {**summary(f"held out {set_name}: similarity mix", accuracy(part, None)), "set": set_name}
            )
    rows.append(summary("training part: similarity mix", accuracy(train, None)))
    best_cv = cv[(depth, n, ridge)]
    rows.append(
        summary("training part: learned (CV) - similarity mix, paired", best_cv * 1.0 - accuracy(train, None))
    )
    rows.append(
        summary(
            "held out all: learned - similarity mix, paired",
            accuracy(held, weights) * 1.0 - accuracy(held, None),
        )
    )
    model = AnswerModel(
        features=FEATURES,
        weights=tuple(float(w) for w in weights),
        depth=depth,
        sentence_candidates=n,
        fitted_at=datetime.now(UTC).isoformat(timespec="seconds"),
        report={
            "command": "python -m eval.answer_fit",
            "question_encoder": question_encoder,
            "fitted_on": {s: sum(c.set_name == s for c in train) for s in set_names},
            "held_out": {s: sum(c.set_name == s for c in held) for s in set_names},
            "ridge": ridge,
            "depth": depth,
            "sentence_candidates": n,
            "measure": "the chosen sentence overlaps a gold quote; 95% bootstrap intervals over questions",
            "rows": rows,
        },
    )
    return model, rows


def table(rows: Sequence[dict[str, object]]) -> str:
    lines = ["| part | questions | answer on a gold quote | 95% interval |", "|---|---|---|---|"]
    for r in rows:
        low, high = r["interval"]  # type: ignore[misc]
        mark = " (chosen)" if r.get("chosen") else ""
        lines.append(
            f"| {r['part']}{mark} | {r['questions']} | {r['accuracy']:.3f} | [{low:.3f}, {high:.3f}] |"
        )
    return "\n".join(lines)


def against_no_sentences(
    by_pool: dict[Pool, list[Case]],
    cv: dict[tuple[int, int, float], np.ndarray],
    chosen: tuple[int, int, float],
    weights: np.ndarray,
) -> list[dict[str, object]]:
    """The chosen pool against the best one without sentence candidates, paired by question: the
    cross-validated accuracy on the training part and the held-out one (each pool fitted on its own
    training part). Nothing when the chosen pool has no sentence candidates."""
    if chosen[1] == 0:
        return []
    without = chosen_key({key: hits for key, hits in cv.items() if key[1] == 0})
    base_cases = by_pool[(without[0], without[1])]
    base_train = [c for c in base_cases if not c.held_out]
    base_held = [c for c in base_cases if c.held_out]
    base_weights = fit_weights(base_train, without[2])
    held = [c for c in by_pool[(chosen[0], chosen[1])] if c.held_out]
    assert [c.qid for c in held] == [c.qid for c in base_held]
    name = f"depth {without[0]}, ridge {without[2]}"
    return [
        summary(f"training part, 5-fold CV, without sentences ({name})", cv[without]),
        summary(
            "training part, 5-fold CV: chosen - without sentences, paired", cv[chosen] * 1.0 - cv[without]
        ),
        summary(f"held out all: without sentences ({name})", accuracy(base_held, base_weights)),
        summary(
            "held out all: chosen - without sentences, paired",
            accuracy(held, weights) * 1.0 - accuracy(base_held, base_weights),
        ),
    ]


def all_cases(
    depths: Sequence[int] = DEPTHS,
    sentence_candidates: Sequence[int] = SENTENCE_CANDIDATES,
    sentence_bm25_weight: float = 0.0,
    sets: AnswerSets = ANSWER_SETS,
) -> tuple[dict[Pool, list[Case]], str]:
    """The cases of every answer set (``sets``) in every pool, and which encoder encoded their
    questions."""
    built = answerers(corpus for _, corpus in sets.values())
    by_pool: dict[Pool, list[Case]] = {(d, n): [] for d in depths for n in sentence_candidates}
    for set_name, (path, corpus) in sets.items():
        questions = load_eval_set(path)
        for depth, n in by_pool:
            by_pool[(depth, n)].extend(
                collect(built[corpus], set_name, questions, depth, n, sentence_bm25_weight)
            )
    sides = sorted({question_side(a.searcher.question_encoder, a.searcher.encoder) for a in built.values()})
    return by_pool, " and ".join(sides)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_ANSWER_MODEL_PATH, help="answer model file to write"
    )
    parser.add_argument(
        "--sentence-candidates",
        type=int,
        nargs="+",
        default=list(SENTENCE_CANDIDATES),
        help="numbers of index-wide closest sentences whose results join the answer's candidates, "
        "compared by cross-validation (0: none)",
    )
    parser.add_argument(
        "--sentence-bm25-weight",
        type=float,
        default=0.0,
        help="find those sentences by the fusion of dense and BM25 sentence retrieval with this share for "
        "BM25 (citeqa.sentence_bm25; 0: dense alone), written into the model when it uses them",
    )
    parser.add_argument(
        "--depths",
        type=int,
        nargs="+",
        default=list(DEPTHS),
        help="answer depths (the first results whose sentences are candidates) compared by cross-validation",
    )
    parser.add_argument(
        "--also",
        nargs="+",
        choices=sorted(MORE_SETS),
        default=[],
        help="fit with these labelled sets too (their held-out quarter held out alike); not the packaged fit",
    )
    args = parser.parse_args(argv)
    if args.also and args.out.resolve() == DEFAULT_ANSWER_MODEL_PATH.resolve():
        parser.error("--also fits a model that is not the packaged one: give --out a file of its own")
    if min(args.depths) < 1:
        parser.error("--depths: every depth is at least 1 (the first result)")
    cases, question_encoder = all_cases(
        depths=args.depths,
        sentence_candidates=args.sentence_candidates,
        sentence_bm25_weight=args.sentence_bm25_weight,
        sets={**ANSWER_SETS, **{name: MORE_SETS[name] for name in args.also}},
    )
    model, rows = fit_and_report(cases, question_encoder)
    if model.sentence_candidates > 0 and args.sentence_bm25_weight:
        model = replace(model, sentence_bm25_weight=args.sentence_bm25_weight)
    save_answer_model(model, args.out)
    print(table(rows))
    print(
        f"wrote {args.out} (depth {model.depth}, sentence candidates {model.sentence_candidates}, "
        f"ridge {model.report['ridge']})"
    )
    for name, weight in zip(model.features, model.weights, strict=True):
        print(f"  {name:24s} {weight:+.3f}")


if __name__ == "__main__":
    main()
