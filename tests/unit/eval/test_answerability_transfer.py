"""The pure parts of eval.answerability_transfer: the deterministic medquad split, held-out buckets, flag
rates and the leave-one-corpus-out fit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from eval.answerability_transfer import (
    HELD_OUT_BUCKETS,
    Row,
    bucket,
    flag_rates,
    group_of,
    is_held_out,
    leave_one_out,
    medquad_split,
    pooled_fit_held_out,
    pooled_loo,
)
from indexer.embedding import SentenceTransformerEncoder


def test_buckets_are_stable_and_spread() -> None:
    assert bucket("removed:CDC_0000001_Q1", 3) == bucket("removed:CDC_0000001_Q1", 3)
    held = [is_held_out("medquad", f"Q{i}") for i in range(400)]
    assert 0.15 < np.mean(held) < 0.35  # about one in HELD_OUT_BUCKETS
    assert HELD_OUT_BUCKETS == 4
    assert group_of("GARD_0000012_Q3") == "GARD_0000012" == group_of("GARD_0000012_Sec2")


def test_medquad_split_removes_the_articles_of_unanswerable_questions() -> None:
    queries = {f"G{g}_Q{i}": f"question {g} {i}" for g in range(12) for i in range(1, 4)}
    queries["LONE_0000001_Q1"] = "a disease with one question"
    qrels = {qid: [qid.replace("_Q", "_Sec")] for qid in queries}
    qrels["G0_Q2"] = ["G0_Sec1"]  # shares its article with G0_Q1
    doc_ids = sorted({d for docs in qrels.values() for d in docs} | {"G0_Sec9", "OTHER_Sec1"})
    kept, questions = medquad_split(queries, qrels, doc_ids)
    assert (kept, questions) == medquad_split(queries, qrels, doc_ids)  # deterministic
    by_id = {q.qid: q for q in questions}
    removed = {d for q in questions if not q.answerable for d in qrels[q.qid]}
    assert removed and not removed & set(kept)
    for q in questions:
        assert q.answerable == all(d in kept for d in qrels[q.qid])
        assert q.kind == (None if q.answerable else "near_miss")
    # Groups with one question, and articles of other groups, are left out; distractors stay.
    assert "LONE_0000001_Q1" not in by_id and "LONE_0000001_Sec1" not in kept
    assert "OTHER_Sec1" not in kept and "G0_Sec9" in kept
    assert 0.15 < np.mean([not q.answerable for q in questions]) < 0.55


def test_flag_rates() -> None:
    rates = flag_rates([True, False, False, True, True], [True, True, True, False, False])
    assert (rates.answerable, rates.unanswerable) == (3, 2)
    assert rates.answerable_flagged == pytest.approx(1 / 3) and rates.unanswerable_flagged == 1.0


def rows_of(corpus: str, shift: float, n: int = 40, seed: int = 0) -> list[Row]:
    """A set whose answerable questions score ``shift`` higher on feature x, and all higher on y."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        answerable = i % 4 != 0
        x = rng.normal(shift + (2.0 if answerable else 0.0), 0.3)
        rows.append(
            Row(
                corpus,
                f"q{i}",
                "",
                "answerable" if answerable else "near_miss",
                answerable,
                i % 5 == 0,
                {"x": x},
            )
        )
    return rows


def test_leave_one_corpus_out_fits_without_the_left_out_set() -> None:
    rows = rows_of("a", 0.0) + rows_of("b", 0.0, seed=1) + rows_of("c", 5.0, seed=2)
    train, test, held = leave_one_out(rows, ("x",), "c")
    assert train.answerable_flagged <= 0.05 and train.answerable == sum(
        r.answerable and not r.held_out and r.corpus != "c" for r in rows
    )
    # Set c's scores sit 5 higher: a threshold fitted on a and b flags none of its answerable questions
    # and misses its unanswerable ones (the scale does not carry).
    assert test.answerable_flagged == 0.0 and test.unanswerable_flagged < 0.5
    assert held.answerable + held.unanswerable == sum(r.corpus == "c" and r.held_out for r in rows)
    pooled = pooled_loo(rows, ("x",))
    assert pooled.answerable + pooled.unanswerable == len(rows)


def test_the_pooled_fit_is_decided_on_held_out_parts_only() -> None:
    rows = rows_of("seed", 0.0) + rows_of("medquad", 0.0, seed=1) + rows_of("bread", 0.0, seed=2)
    fitted = pooled_fit_held_out(rows, ("x",))
    assert fitted["train"].answerable_flagged <= 0.05
    assert fitted["train"].answerable == sum(r.answerable and not r.held_out for r in rows)
    for name in ("seed", "medquad", "bread"):
        part = fitted[name]
        assert part.answerable + part.unanswerable == sum(r.corpus == name and r.held_out for r in rows)
    pooled = fitted["pooled"]
    assert pooled.answerable + pooled.unanswerable == sum(r.held_out for r in rows)
    assert pooled.unanswerable_flagged == 1.0  # the classes are 2 apart at spread 0.3


def test_the_perl_faq_joins_when_its_folder_is_there_and_is_left_out_otherwise(tmp_path: Path) -> None:
    """The fifth check set is the folder eval.perlfaq writes: read when present (its answers, its answerable
    questions and the ones the FAQ does not answer); without it the report reads the other four."""
    from eval.answerability_transfer import perlfaq_set, read_rows, write_rows
    from eval.perlfaq import PAGES, UNANSWERABLE
    from eval.perlfaq import main as write_perlfaq
    from eval.seed_set import load_eval_set

    assert perlfaq_set(tmp_path / "nowhere") is None
    pods = tmp_path / "pod"
    pods.mkdir()
    page = "=head1 NAME\n\nperlfaq4 - Data\n\n=head2 How do I sort a hash?\n\nUse sort on its keys.\n"
    for name in PAGES:
        (pods / f"{name}.pod").write_text(page, encoding="utf-8")
    folder = tmp_path / "perlfaq"
    assert write_perlfaq(["--pods", str(pods), "--out", str(folder)]) == 0
    found = perlfaq_set(folder)
    assert found is not None
    documents, questions = found
    assert len(documents) == len(PAGES) and documents[0].text == "Use sort on its keys."
    unanswerable = load_eval_set(UNANSWERABLE)
    assert len(questions) == len(PAGES) + len(unanswerable)
    assert sum(q.answerable for q in questions) == len(PAGES)

    out = tmp_path / "transfer"
    for n, name in enumerate(("seed", "medquad", "bread", "plants")):
        write_rows(out / name / "features.json", rows_of(name, 0.0, n=8, seed=n))
    rows = read_rows(out)  # no perlfaq/features.json: the four others
    assert sorted({r.corpus for r in rows}) == ["bread", "medquad", "plants", "seed"] and len(rows) == 32
    write_rows(out / "perlfaq" / "features.json", rows_of("perlfaq", 0.0, n=8, seed=9))
    assert sorted({r.corpus for r in read_rows(out)}) == ["bread", "medquad", "perlfaq", "plants", "seed"]


def test_a_check_set_index_cut_by_older_text_rules_is_built_again(
    tmp_path: Path, encoder: SentenceTransformerEncoder
) -> None:
    """The check sets' indexes are reused when they hold the same documents, but not when older text
    rules cut them otherwise: the Perl FAQ's index of wrapped lines, built before rules 13, kept every
    line a sentence."""
    import json

    from corpus.types import Document
    from eval.answerability_transfer import ensure_index
    from indexer.text_rules import TEXT_RULES

    wrapped = "Either you don't have more than one line in the string you're looking\nfor (probably)."
    documents = [Document(doc_id="faq", title="FAQ", text=wrapped)]
    folder = tmp_path / "index"
    ensure_index(documents, folder, encoder, "check")
    manifest_path = folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["text_rules"] = 12  # as an index built before rules 13 records it
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    ensure_index(documents, folder, encoder, "check")
    assert json.loads(manifest_path.read_text(encoding="utf-8"))["text_rules"] == TEXT_RULES
    # The same documents by the current rules: kept as they are.
    before = manifest_path.stat().st_mtime_ns
    ensure_index(documents, folder, encoder, "check")
    assert manifest_path.stat().st_mtime_ns == before
