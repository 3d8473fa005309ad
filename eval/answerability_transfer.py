"""Does the answerability decision carry to corpora it was not fitted on? (issue 16)

Four check sets, each a corpus with answerable questions and on-topic unanswerable ones:

- ``seed``: the default milia corpus with ``eval/sets/seed.jsonl`` (the packaged calibration's own set);
- ``medquad``: built here, deterministically, from ../shared/benchmarks/medquad-dev: the diseases with at
  least two judged questions; a third of their questions (by a hash of the id) have their relevant
  articles REMOVED from the corpus and become on-topic unanswerable (the same disease's other articles
  stay, as distractors); the others, whose articles all stay, are answerable;
- ``bread``: six short bread-baking articles written for this check (``eval/sets/bread/``) with
  ``eval/sets/bread.jsonl`` (near misses worded in the corpus's terms: "is rye flour gluten free",
  "how much does a stand mixer cost", "which brand of yeast is best");
- ``plants``: seven houseplant-care articles written later, at stop 30, by a helper agent
  (``eval/sets/plants/``) with ``eval/sets/plants.jsonl`` (42 answerable, 16 near misses such as "is pothos
  toxic to cats", "how much does a monstera cost", 4 off-topic): a corpus no calibration was ever fitted
  or chosen on.
- ``perlfaq`` (when its folder exists, see eval.perlfaq): the Perl FAQ's 304 answers with their
  questions, and 40 on-topic questions the FAQ does not answer ("how do I parse a JSON string into a perl
  hash") and 5 off-topic (``eval/sets/perlfaq_unanswerable.jsonl``): real questions of another field.

A quarter of every set (by a hash of corpus and question id) is held out: never fitted or tuned on, only
reported. Every question is answered as the service answers it (hybrid, first five results, the ONNX
question encoder of the default settings) and its features (citeqa.answerability.FEATURES) are written to
``var/transfer/<set>/features.json``.

    python -m eval.answerability_transfer            # build/reuse the indexes, compute features, report
    python -m eval.answerability_transfer --cached   # report from the features already computed

The report (``var/transfer/summary.md``) gives, per set, the share of answerable questions flagged
(wrongly) and of unanswerable ones flagged by the packaged calibration, then leave-one-corpus-out rates of
candidate signals: fitted (weights and 5%-budget threshold) on the training part of the other sets,
decided on the left-out set, never on its own questions; then each candidate fitted on the training part
of all the sets and decided on every held-out part; then the left-out sets with their own cut, and
each set cross-validated on itself.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from citeqa.answerability import (
    DEFAULT_CALIBRATION_PATH,
    MAX_FALSE_FLAG,
    Calibration,
    budget_threshold,
    cross_validated_rates,
    fit_decision,
    load_calibration,
)
from corpus.types import Document
from eval.seed_set import EvalQuestion

ROOT = Path(__file__).resolve().parent.parent
SETS = Path(__file__).resolve().parent / "sets"
DEFAULT_MEDQUAD = ROOT.parent / "shared" / "benchmarks" / "medquad-dev"
DEFAULT_OUT = ROOT / "var" / "transfer"
DEFAULT_PERLFAQ = ROOT / "var" / "bench" / "perlfaq"
MIN_GROUP_QUESTIONS = 2  # diseases with fewer judged questions leave no same-disease distractor
REMOVED_BUCKETS = 3  # one question in three loses its articles
HELD_OUT_BUCKETS = 4  # one question in four is held out
SET_NAMES = ("seed", "medquad", "bread", "plants", "perlfaq")

# Candidate signals for the leave-one-corpus-out comparison: the packaged one first.
CANDIDATES: tuple[tuple[str, ...], ...] = (
    ("best_sentence_score",),
    ("best_sentence_cosine",),
    ("best_sentence_cosine", "idf_missing"),
    ("best_sentence_score", "idf_missing"),
    ("best_sentence_cosine", "best_sentence_idf_overlap"),
    ("best_sentence_cosine", "best_sentence_idf_overlap", "idf_missing"),
    ("best_sentence_cosine", "cosine_margin", "idf_missing"),
    ("best_sentence_cosine", "cosine_margin", "best_sentence_idf_overlap", "idf_missing"),
    ("best_sentence_score", "cosine_margin"),
    ("best_sentence_score", "question_coverage"),
    ("best_sentence_score", "cosine_margin", "idf_missing"),
    # Tried for issue 16's near misses and scale (the features added with them):
    ("best_sentence_score", "cosine_zscore"),
    ("best_sentence_score", "top_term_missing"),
    ("best_sentence_score", "best_cosine_idf_overlap"),
    ("best_sentence_cosine", "best_cosine_idf_overlap"),
    ("cosine_zscore", "best_sentence_idf_overlap", "answer_type_missing"),
    ("best_sentence_score", "answer_type_missing"),
    ("best_sentence_cosine", "answer_type_missing"),
    ("best_sentence_score", "cosine_margin", "answer_type_missing"),
    ("best_sentence_cosine", "cosine_margin", "answer_type_missing"),
)


@dataclass(frozen=True)
class Row:
    """One question of a check set, with the features of its response."""

    corpus: str
    qid: str
    question: str
    kind: str
    answerable: bool
    held_out: bool
    features: dict[str, float]


@dataclass(frozen=True)
class Rates:
    answerable: int
    unanswerable: int
    answerable_flagged: float
    unanswerable_flagged: float


# --- deterministic construction (pure) -----------------------------------------------------------


def bucket(key: str, buckets: int) -> int:
    """A stable bucket of ``key`` in [0, buckets): the same on every machine and Python run."""
    return int(hashlib.sha256(key.encode("utf-8")).hexdigest(), 16) % buckets


def is_held_out(corpus: str, qid: str) -> bool:
    return bucket(f"held-out:{corpus}:{qid}", HELD_OUT_BUCKETS) == 0


def group_of(identifier: str) -> str:
    """A medquad article or question id without its last part: CDC_0000001_Q2 -> CDC_0000001."""
    return identifier.rsplit("_", 1)[0]


def medquad_split(
    queries: Mapping[str, str], qrels: Mapping[str, Sequence[str]], doc_ids: Sequence[str]
) -> tuple[list[str], list[EvalQuestion]]:
    """(the articles kept, the labelled questions) of the medquad check set: the diseases (id groups)
    with at least MIN_GROUP_QUESTIONS judged questions; one question in REMOVED_BUCKETS loses its
    relevant articles and becomes unanswerable, the questions whose articles all stay are answerable,
    and any other (an article shared with a removed question) is left out."""
    counts: dict[str, int] = {}
    for qid in queries:
        counts[group_of(qid)] = counts.get(group_of(qid), 0) + 1
    groups = {g for g, n in counts.items() if n >= MIN_GROUP_QUESTIONS}
    chosen = sorted(q for q in queries if group_of(q) in groups and qrels.get(q))
    removed_questions = [q for q in chosen if bucket(f"removed:{q}", REMOVED_BUCKETS) == 0]
    removed = {d for q in removed_questions for d in qrels[q]}
    kept = [d for d in doc_ids if group_of(d) in groups and d not in removed]
    kept_set = set(kept)
    questions = []
    for qid in chosen:
        relevant = list(qrels[qid])
        if qid in removed_questions:
            questions.append(EvalQuestion(qid, queries[qid], False, None, None, (), "near_miss"))
        elif all(d in kept_set for d in relevant):
            questions.append(EvalQuestion(qid, queries[qid], True, relevant[0], None, ()))
    return kept, questions


# --- measuring (pure) ----------------------------------------------------------------------------


def flag_rates(flagged: Sequence[bool], answerable: Sequence[bool]) -> Rates:
    f = np.asarray(flagged, dtype=bool)
    a = np.asarray(answerable, dtype=bool)
    return Rates(
        answerable=int(a.sum()),
        unanswerable=int((~a).sum()),
        answerable_flagged=float(f[a].mean()) if a.any() else 0.0,
        unanswerable_flagged=float(f[~a].mean()) if (~a).any() else 0.0,
    )


def calibration_flags(calibration: Calibration, rows: Sequence[Row]) -> list[bool]:
    return [not calibration.decide(r.features)[0] for r in rows]


def matrix(rows: Sequence[Row], names: Sequence[str]) -> np.ndarray:
    return np.array([[r.features[n] for n in names] for r in rows], dtype=np.float64).reshape(len(rows), -1)


def leave_one_out(
    rows: Sequence[Row], names: Sequence[str], left_out: str, max_false_flag: float = MAX_FALSE_FLAG
) -> tuple[Rates, Rates, Rates]:
    """Fit ``names`` (weights and the budget threshold) on the training part (not held out) of every set
    but ``left_out``; return the rates on that training part, on all of ``left_out`` and on its held-out
    part."""
    train = [r for r in rows if r.corpus != left_out and not r.held_out]
    test = [r for r in rows if r.corpus == left_out]
    labels = [r.answerable for r in train]
    model, threshold = fit_decision(matrix(train, names), labels, max_false_flag)

    def rates(part: Sequence[Row]) -> Rates:
        flagged = model.scores(matrix(part, names)) < threshold if part else np.zeros(0, dtype=bool)
        return flag_rates(list(flagged), [r.answerable for r in part])

    return rates(train), rates(test), rates([r for r in test if r.held_out])


def own_cut_loo(
    rows: Sequence[Row], names: Sequence[str], left_out: str, max_false_flag: float = MAX_FALSE_FLAG
) -> Rates:
    """Whether the signal's ORDER carries: weights fitted on the training part of the other sets, the cut
    set on the left-out set's own answerable questions (at most ``max_false_flag`` of them flagged, as
    `citeqa eval --calibrate --index` would set it for that corpus); rates on the left-out set."""
    train = [r for r in rows if r.corpus != left_out and not r.held_out]
    test = [r for r in rows if r.corpus == left_out]
    model, _ = fit_decision(matrix(train, names), [r.answerable for r in train], max_false_flag)
    scores = model.scores(matrix(test, names))
    labels = np.array([r.answerable for r in test])
    cut = budget_threshold(scores[labels], max_false_flag)
    return flag_rates(list(scores < cut), list(labels))


def pooled_loo(rows: Sequence[Row], names: Sequence[str], part: str = "all") -> Rates:
    """The left-out rates of every set pooled (each question decided by a fit without its set)."""
    flagged: list[bool] = []
    labels: list[bool] = []
    for name in sorted({r.corpus for r in rows}):
        train = [r for r in rows if r.corpus != name and not r.held_out]
        test = [r for r in rows if r.corpus == name and (part == "all" or r.held_out)]
        model, threshold = fit_decision(matrix(train, names), [r.answerable for r in train])
        flagged += list(model.scores(matrix(test, names)) < threshold)
        labels += [r.answerable for r in test]
    return flag_rates(flagged, labels)


def pooled_fit_held_out(
    rows: Sequence[Row], names: Sequence[str], max_false_flag: float = MAX_FALSE_FLAG
) -> dict[str, Rates]:
    """Fit ``names`` (weights and the budget threshold) on the training part of EVERY set (what a default
    calibration fitted on all the check sets would be); the rates on each set's held-out part, on all
    held-out parts pooled ("pooled") and on the training part itself ("train")."""
    train = [r for r in rows if not r.held_out]
    model, threshold = fit_decision(matrix(train, names), [r.answerable for r in train], max_false_flag)

    def rates(part: Sequence[Row]) -> Rates:
        flagged = model.scores(matrix(part, names)) < threshold if part else np.zeros(0, dtype=bool)
        return flag_rates(list(flagged), [r.answerable for r in part])

    held = [r for r in rows if r.held_out]
    parts = {name: rates([r for r in held if r.corpus == name]) for name in SET_NAMES}
    return {**parts, "pooled": rates(held), "train": rates(train)}


def pooled_fit_table(rows: Sequence[Row], candidates: Sequence[tuple[str, ...]] = CANDIDATES) -> str:
    names = [n for n in SET_NAMES if any(r.corpus == n and r.held_out for r in rows)]
    lines = [
        "| signal | train ans. / unans. flagged | "
        + " | ".join(f"{n} held out: ans. / unans." for n in names)
        + " | pooled held out: ans. / unans. |",
        "|---|---|" + "---|" * (len(names) + 1),
    ]
    for signal in candidates:
        fitted = pooled_fit_held_out(rows, signal)
        cells = [
            f"{fitted[n].answerable_flagged:.3f} / {fitted[n].unanswerable_flagged:.3f}"
            for n in ["train", *names, "pooled"]
        ]
        lines.append(f"| {' + '.join(signal)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def packaged_table(calibration: Calibration, rows: Sequence[Row]) -> str:
    lines = [
        "| set | part | answerable | answerable flagged | unanswerable | unanswerable flagged "
        "| near misses flagged | off-topic flagged |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in SET_NAMES:
        for part in ("all", "held out"):
            chosen = [r for r in rows if r.corpus == name and (part == "all" or r.held_out)]
            if not chosen:
                continue
            flags = calibration_flags(calibration, chosen)
            r = flag_rates(flags, [q.answerable for q in chosen])
            kinds = {}
            for kind in ("near_miss", "off_topic"):
                members = [f for f, q in zip(flags, chosen, strict=True) if q.kind == kind]
                kinds[kind] = f"{np.mean(members):.3f} ({len(members)})" if members else "-"
            lines.append(
                f"| {name} | {part} | {r.answerable} | {r.answerable_flagged:.3f} | {r.unanswerable} | "
                f"{r.unanswerable_flagged:.3f} | {kinds['near_miss']} | {kinds['off_topic']} |"
            )
    return "\n".join(lines)


def loo_table(rows: Sequence[Row], candidates: Sequence[tuple[str, ...]] = CANDIDATES) -> str:
    names = [n for n in SET_NAMES if any(r.corpus == n for r in rows)]
    header = "| signal | " + " | ".join(
        f"left out {n}: train ans. / left-out ans. / left-out unans. (held-out unans.)" for n in names
    )
    lines = [
        header + " | pooled left-out ans. / unans. | pooled held-out ans. / unans. |",
        "|---|" + "---|" * (len(names) + 2),
    ]
    for signal in candidates:
        cells = []
        for name in names:
            train, test, held = leave_one_out(rows, signal, name)
            cells.append(
                f"{train.answerable_flagged:.3f} / {test.answerable_flagged:.3f} / "
                f"{test.unanswerable_flagged:.3f} ({held.unanswerable_flagged:.3f})"
            )
        pooled = pooled_loo(rows, signal)
        held = pooled_loo(rows, signal, "held out")
        lines.append(
            f"| {' + '.join(signal)} | "
            + " | ".join(cells)
            + f" | {pooled.answerable_flagged:.3f} / {pooled.unanswerable_flagged:.3f} | "
            f"{held.answerable_flagged:.3f} / {held.unanswerable_flagged:.3f} |"
        )
    return "\n".join(lines)


def own_cut_table(rows: Sequence[Row], candidates: Sequence[tuple[str, ...]] = CANDIDATES) -> str:
    names = [n for n in SET_NAMES if any(r.corpus == n for r in rows)]
    lines = [
        "| signal | " + " | ".join(f"left out {n}: ans. / unans. flagged" for n in names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for signal in candidates:
        cells = []
        for name in names:
            r = own_cut_loo(rows, signal, name)
            cells.append(f"{r.answerable_flagged:.3f} / {r.unanswerable_flagged:.3f}")
        lines.append(f"| {' + '.join(signal)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def within_table(rows: Sequence[Row], candidates: Sequence[tuple[str, ...]] = CANDIDATES) -> str:
    """Each set fitted on itself: stratified 5-fold cross-validation, 10 repeats (weights and threshold
    fitted on four folds, decided on the fifth), as `citeqa eval --calibrate` reports for an index."""
    names = [n for n in SET_NAMES if any(r.corpus == n for r in rows)]
    lines = [
        "| signal | " + " | ".join(f"{n}: ans. / unans. flagged" for n in names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for signal in candidates:
        cells = []
        for name in names:
            part = [r for r in rows if r.corpus == name]
            rates = cross_validated_rates(matrix(part, signal), [r.answerable for r in part], 5, 10)
            cells.append(f"{rates.answerable_flagged:.3f} / {rates.unanswerable_flagged:.3f}")
        lines.append(f"| {' + '.join(signal)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# --- building the sets and computing features (heavy) -------------------------------------------


def medquad_set(folder: Path) -> tuple[list[Document], list[EvalQuestion]]:
    from eval.beir import load_beir_dataset

    dataset = load_beir_dataset(folder)
    queries = {qid: q.text for qid, q in dataset.queries.items()}
    qrels = {
        qid: sorted(d for d, grade in judged.items() if grade > 0) for qid, judged in dataset.qrels.items()
    }
    kept, questions = medquad_split(queries, qrels, [d.doc_id for d in dataset.corpus])
    kept_set = set(kept)
    return [d for d in dataset.corpus if d.doc_id in kept_set], questions


def perlfaq_set(folder: Path) -> tuple[list[Document], list[EvalQuestion]] | None:
    """The Perl FAQ's corpus and evaluation set, as ``python -m eval.perlfaq`` wrote them into ``folder``
    (None when it did not)."""
    from corpus.beir import load_beir_corpus
    from eval.seed_set import load_eval_set

    questions = folder / "questions.jsonl"
    if not questions.is_file():
        return None
    return list(load_beir_corpus(folder)), load_eval_set(questions)


def check_sets(
    medquad: Path, perlfaq: Path | None = None
) -> dict[str, tuple[list[Document], list[EvalQuestion]]]:
    from corpus import DEFAULT_CORPUS_DIR
    from corpus.loader import load_documents
    from eval.seed_set import DEFAULT_SEED_SET, load_eval_set

    sets = {
        "seed": (load_documents(DEFAULT_CORPUS_DIR), load_eval_set(DEFAULT_SEED_SET)),
        "medquad": medquad_set(medquad),
        "bread": (load_documents(SETS / "bread"), load_eval_set(SETS / "bread.jsonl")),
        "plants": (load_documents(SETS / "plants"), load_eval_set(SETS / "plants.jsonl")),
    }
    if perlfaq is not None and (found := perlfaq_set(perlfaq)) is not None:
        sets["perlfaq"] = found
    return sets


def ensure_index(documents: list[Document], folder: Path, encoder: object, source: str) -> None:
    """Build the set's index unless one of exactly these documents is there, cut by the current text
    rules (indexer.text_rules: an index of wrapped text built before rules 13 is built again)."""
    from indexer.build import IndexSettings, build_index
    from indexer.index_folder import corpus_fingerprint
    from indexer.staleness import predates_text_rules

    manifest = folder / "manifest.json"
    if manifest.is_file():
        recorded = json.loads(manifest.read_text(encoding="utf-8"))
        fingerprint = recorded.get("corpus", {}).get("fingerprint")
        if fingerprint == corpus_fingerprint(documents) and not predates_text_rules(recorded, documents):
            return
    print(f"indexing {len(documents)} documents into {folder}", file=sys.stderr, flush=True)
    build_index(documents, encoder, folder, IndexSettings(), source)  # type: ignore[arg-type]


def compute_rows(out: Path, medquad: Path, perlfaq: Path | None = None) -> list[Row]:
    from citeqa.answers import Answerer
    from eval.answer_eval import question_features
    from indexer.embedding import DEFAULT_MODEL, SentenceTransformerEncoder
    from service.settings import Settings
    from service.wiring import build_searcher

    passages = SentenceTransformerEncoder(DEFAULT_MODEL)
    rows: list[Row] = []
    encoder = None
    for name, (documents, questions) in check_sets(medquad, perlfaq).items():
        folder = out / name / "index"
        ensure_index(documents, folder, passages, name)
        searcher = build_searcher(Settings(index_path=folder, model=DEFAULT_MODEL), encoder=encoder)
        encoder = searcher.encoder
        answered = question_features(Answerer(searcher), questions)
        part = [
            Row(name, q.qid, q.question, f.kind, q.answerable, is_held_out(name, q.qid), f.features)
            for q, f in zip(questions, answered, strict=True)
        ]
        write_rows(out / name / "features.json", part)
        rows += part
        print(f"{name}: {len(documents)} documents, {len(questions)} questions", file=sys.stderr, flush=True)
    return rows


def write_rows(path: Path, rows: Sequence[Row]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([r.__dict__ for r in rows], indent=1) + "\n", encoding="utf-8")


def read_rows(out: Path) -> list[Row]:
    rows: list[Row] = []
    for name in SET_NAMES:
        path = out / name / "features.json"
        if name == "perlfaq" and not path.is_file():  # computed only when its folder was there
            continue
        rows += [Row(**record) for record in json.loads(path.read_text(encoding="utf-8"))]
    return rows


def report(rows: Sequence[Row], calibration: Calibration) -> str:
    counts = ", ".join(
        f"{n}: {sum(r.corpus == n and r.answerable for r in rows)} answerable / "
        f"{sum(r.corpus == n and not r.answerable for r in rows)} unanswerable "
        f"({sum(r.corpus == n and r.held_out for r in rows)} held out)"
        for n in SET_NAMES
        if any(r.corpus == n for r in rows)
    )
    return "\n".join(
        [
            "# Answerability across corpora (python -m eval.answerability_transfer)",
            "",
            f"Sets: {counts}.",
            "",
            f"## The packaged calibration ({', '.join(calibration.features)}, threshold "
            f"{calibration.threshold:.4f}, fitted on {calibration.fitted_on.get('eval_set', '?')})",
            "",
            packaged_table(calibration, rows),
            "",
            "## Leave one corpus out (fit on the training part of the other sets, "
            f"{MAX_FALSE_FLAG:.0%} budget)",
            "",
            "Cells: share of answerable flagged on the training part / of answerable flagged on the left-out "
            "set / of unanswerable flagged on the left-out set (its held-out part alone in brackets).",
            "",
            loo_table(rows),
            "",
            "## Fitted on the training part of all the sets, decided on each held-out part "
            f"({MAX_FALSE_FLAG:.0%} budget)",
            "",
            "What a default calibration fitted on every check set would do on questions it never saw.",
            "",
            pooled_fit_table(rows),
            "",
            "## Leave one corpus out, the cut set on the left-out corpus's own answerable questions",
            "",
            "Weights fitted on the other sets' training part; the threshold set at the 5% budget on the "
            "left-out set's answerable questions (what `citeqa eval --calibrate --index` does for a corpus "
            "with labelled questions): does the signal's order carry, whatever its scale?",
            "",
            own_cut_table(rows),
            "",
            "## Each set fitted on itself (stratified 5-fold cross-validation, 10 repeats, 5% budget)",
            "",
            within_table(rows),
            "",
        ]
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--medquad", type=Path, default=DEFAULT_MEDQUAD, help="the medquad-dev BEIR folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="indexes, features and summary.md")
    parser.add_argument("--cached", action="store_true", help="report from the features already computed")
    parser.add_argument(
        "--calibration", type=Path, default=DEFAULT_CALIBRATION_PATH, help="the calibration to measure"
    )
    parser.add_argument(
        "--perlfaq",
        type=Path,
        default=DEFAULT_PERLFAQ,
        help="the folder python -m eval.perlfaq wrote (left out when it holds no questions.jsonl)",
    )
    args = parser.parse_args(argv)
    if not args.cached and perlfaq_set(args.perlfaq) is None:
        print(f"no Perl FAQ set in {args.perlfaq} (python -m eval.perlfaq): left out", file=sys.stderr)
    rows = read_rows(args.out) if args.cached else compute_rows(args.out, args.medquad, args.perlfaq)
    text = report(rows, load_calibration(args.calibration))
    (args.out / "summary.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
