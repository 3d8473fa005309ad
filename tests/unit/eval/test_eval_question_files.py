"""`citeqa eval --questions MY.jsonl` (and `--calibrate`) on question files as owners write them: a missing
or empty file, a line with a field of the wrong type, an id used twice. Each is refused with exit status 2
and a message naming the file, the line and what to write, before anything is scored or written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import squeeze
from typer.testing import CliRunner

from corpus.errors import CorpusError
from eval.seed_set import DEFAULT_SEED_SET, check_labels, load_eval_set
from service.cli.app import app

GOOD = {"id": "q1", "question": "what are milia", "answerable": True, "doc_id": "d", "gold": ["Milia"]}


def run_eval(tmp_path: Path, questions: Path, *extra: str) -> tuple[int, str]:
    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["eval", "--questions", str(questions), "--out", str(out), *extra])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    assert not out.exists()
    return result.exit_code, squeeze(result.output)


def write_lines(path: Path, *records: object) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_a_missing_question_file_is_named_not_a_traceback(tmp_path: Path) -> None:
    """It was a FileNotFoundError traceback."""
    code, output = run_eval(tmp_path, tmp_path / "mine.jsonl")
    assert code == 2
    assert squeeze("mine.jsonl: file not found; pass a JSONL file of questions") in output


def test_an_empty_question_file_says_it_holds_no_questions(tmp_path: Path) -> None:
    """It said "error: hybrid and dense share no scored question" (with --calibrate: "cannot reshape array of
    size 0 into shape (0,newaxis)")."""
    empty = tmp_path / "mine.jsonl"
    empty.write_text("\n\n", encoding="utf-8")
    code, output = run_eval(tmp_path, empty)
    assert code == 2
    assert squeeze('mine.jsonl: holds no questions; write one {"id", "question", "answerable"}') in output


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        # "answerable": "false" read as true, then failed with "doc_id None is not in the corpus"
        ({"answerable": "false"}, "line 2: field 'answerable' must be true or false, found 'false'"),
        # a quote given as a string became one gold quote per character: every passage counted as relevant
        ({"gold": "Milia"}, "line 2: field 'gold' must be a list of non-empty quotes, found 'Milia'"),
        ({"gold": [""]}, "line 2: field 'gold' must be a list of non-empty quotes"),
        ({"id": True}, "line 2: field 'id' must be a non-empty string, found True"),
        ({"question": ""}, "line 2: field 'question' must be a non-empty string"),
        ({"doc_id": ["d"]}, "line 2: field 'doc_id' must be a string"),
    ],
)
def test_a_field_of_the_wrong_type_is_refused_with_its_line(
    tmp_path: Path, change: dict, expected: str
) -> None:
    questions = write_lines(tmp_path / "mine.jsonl", GOOD, {**GOOD, "id": "q2", **change})
    code, output = run_eval(tmp_path, questions)
    assert code == 2
    assert squeeze(f"mine.jsonl: {expected}") in output


def test_a_line_that_is_not_a_json_object_is_refused_with_its_line(tmp_path: Path) -> None:
    questions = tmp_path / "mine.jsonl"
    questions.write_text(json.dumps(GOOD) + "\nnot json\n", encoding="utf-8")
    code, output = run_eval(tmp_path, questions)
    assert code == 2 and squeeze("mine.jsonl: line 2: invalid JSON") in output
    write_lines(questions, GOOD, ["q2", "what", True])
    code, output = run_eval(tmp_path, questions)
    assert code == 2 and squeeze("mine.jsonl: line 2: expected a JSON object, found list") in output


def test_an_id_used_twice_is_refused(tmp_path: Path) -> None:
    """The second question's scores replaced the first's in the per-question table and the means were taken
    over fewer questions than the file holds, silently."""
    again = {**GOOD, "question": "what is milia en plaque"}
    questions = write_lines(tmp_path / "mine.jsonl", GOOD, {**GOOD, "id": 2}, again)
    code, output = run_eval(tmp_path, questions)
    assert code == 2
    expected = "mine.jsonl: line 3: id 'q1' is already used on line 1; give every question its own id"
    assert squeeze(expected) in output


def test_calibrate_refuses_a_bad_question_file_the_same_way(tmp_path: Path, default_index_path: Path) -> None:
    calibration = tmp_path / "calibration.json"
    index = str(default_index_path)
    arguments = ["--calibrate", "--index", index, "--calibration", str(calibration), "--backend", "torch"]
    code, output = run_eval(tmp_path, tmp_path / "mine.jsonl", *arguments)
    assert code == 2 and squeeze("mine.jsonl: file not found") in output
    assert not calibration.exists()


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        # was a traceback: IndexError in the report's "questions to look at" (q.gold[0])
        ({"doc_id": "milia-overview"}, "question q1: answerable, but gives no gold quotes"),
        # said "question q1: doc_id None is not in the corpus"
        ({"gold": ["Milia"]}, "question q1: answerable, but gives no doc_id"),
    ],
)
def test_an_answerable_question_without_its_gold_label_says_what_to_add(
    tmp_path: Path, default_index_path: Path, label: dict, expected: str
) -> None:
    """The README makes doc_id and gold optional for --calibrate; scoring retrieval needs both."""
    bare = {"id": "q1", "question": "what are milia", "answerable": True, **label}
    questions = write_lines(tmp_path / "mine.jsonl", bare)
    code, output = run_eval(tmp_path, questions, "--index", str(default_index_path), "--backend", "torch")
    assert code == 2
    assert squeeze(expected) in output
    fix = 'add "doc_id" and "gold": ["a quote from the document"], or mark it "answerable": false'
    assert squeeze(fix) in output


def test_a_set_without_answerable_questions_says_what_eval_scores(tmp_path: Path) -> None:
    """It said "error: hybrid and dense share no scored question"."""
    unanswerable = {"id": "u1", "question": "what is a tax", "answerable": False}
    questions = write_lines(tmp_path / "mine.jsonl", unanswerable)
    code, output = run_eval(tmp_path, questions)
    assert code == 2
    expected = "mine.jsonl: no answerable question; retrieval is scored on answerable questions"
    assert squeeze(expected) in output


@pytest.mark.parametrize(("answerable", "unanswerable"), [(1, 1), (5, 1), (1, 4)])
def test_calibrate_with_too_few_of_a_kind_says_how_many_it_needs(
    tmp_path: Path, default_index_path: Path, answerable: int, unanswerable: int
) -> None:
    """One of each failed with "cannot reshape array of size 0 into shape (0,newaxis)"; one of a kind with
    "fitting a threshold needs both answerable and unanswerable questions", which the file held."""
    records = [{"id": f"a{i}", "question": f"milia {i}", "answerable": True} for i in range(answerable)]
    records += [{"id": f"u{i}", "question": f"tax {i}", "answerable": False} for i in range(unanswerable)]
    questions = write_lines(tmp_path / "mine.jsonl", *records)
    calibration = tmp_path / "calibration.json"
    index = str(default_index_path)
    arguments = ["--calibrate", "--index", index, "--calibration", str(calibration), "--backend", "torch"]
    code, output = run_eval(tmp_path, questions, *arguments)
    assert code == 2
    counts = f"mine.jsonl: {answerable} answerable and {unanswerable} unanswerable question(s)"
    assert squeeze(counts) in output
    assert squeeze("calibrating needs at least 2 of each") in output
    assert not calibration.exists()


@pytest.mark.parametrize(
    ("baseline", "expected"),
    [
        # the results.json of `citeqa eval --dataset`: metrics "missing" or far off, "FAILED: 16 metric(s)"
        (
            {
                "dataset": "mine",
                "modes": {"hybrid": {"metrics": {"ndcg@10": 0.9}, "ci95": {"ndcg@10": [0.8, 1]}}},
            },
            "is the report of `citeqa eval --dataset` (mine), not of a question set",
        ),
        # a seed-set report of other questions: the gate compared means over different questions
        (
            {
                "modes": {
                    "hybrid": {
                        "metrics": {"mrr@10": 0.9},
                        "ci95": {"mrr@10": [0.8, 1.0]},
                        "per_query": {"mrr@10": {"other1": 1.0, "other2": 0.8}},
                    }
                }
            },
            "scored other questions: none of its 2 question ids is among the 1 answerable questions",
        ),
    ],
)
def test_a_baseline_of_other_questions_is_refused_not_failed(
    tmp_path: Path, default_index_path: Path, baseline: dict, expected: str
) -> None:
    """A baseline that scored something else made the gate print REGRESSED rows and exit 1 for no
    regression; it is refused (exit 2) before anything is scored, saying what to pass instead."""
    questions = write_lines(tmp_path / "mine.jsonl", {**GOOD, "doc_id": "milia-overview"})
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps(baseline), encoding="utf-8")
    arguments = ["--index", str(default_index_path), "--backend", "torch", "--baseline", str(path)]
    code, output = run_eval(tmp_path, questions, *arguments)
    assert code == 2
    assert squeeze(expected) in output and "REGRESSED" not in output


@pytest.mark.parametrize("per_query", [[0.9, 0.8], None], ids=["list", "null"])
def test_a_baseline_whose_per_query_is_not_an_object_is_refused_in_one_line(
    tmp_path: Path, default_index_path: Path, per_query: object
) -> None:
    """A baseline whose per_query was a list ended `citeqa eval --baseline` on a traceback in
    check_comparable (AttributeError: 'list' object has no attribute 'values'); null passed it, then ended
    the run on one after every question was scored. Either is refused first, in one line."""
    questions = write_lines(tmp_path / "mine.jsonl", {**GOOD, "doc_id": "milia-overview"})
    path = tmp_path / "baseline.json"
    mode = {"metrics": {"mrr@10": 0.9}, "ci95": {"mrr@10": [0.8, 1.0]}, "per_query": per_query}
    path.write_text(json.dumps({"modes": {"hybrid": mode}}), encoding="utf-8")
    arguments = ["--index", str(default_index_path), "--backend", "torch", "--baseline", str(path)]
    code, output = run_eval(tmp_path, questions, *arguments)
    assert code == 2, output
    kind = "a list" if per_query is not None else "null"
    assert squeeze(f"modes -> hybrid -> per_query is {kind}, not metric -> question -> value") in output


def test_a_label_that_is_not_in_the_index_names_the_file_and_the_index(
    tmp_path: Path, default_index_path: Path
) -> None:
    """It said only "question q1: doc_id 'mine-1' is not in the corpus": not which file, nor which index (nor,
    for the packaged seed set run against an owner's index, that --questions was missing)."""
    questions = write_lines(tmp_path / "mine.jsonl", {**GOOD, "doc_id": "mine-1"})
    arguments = ["--index", str(default_index_path), "--backend", "torch"]
    code, output = run_eval(tmp_path, questions, *arguments)
    assert code == 2
    expected = (
        f"mine.jsonl: question q1: doc_id 'mine-1' is not in the corpus (the index at {default_index_path})"
    )
    assert squeeze(expected) in output
    assert squeeze("copy the doc_id and each gold quote exactly from the index's documents") in output
    calibration = tmp_path / "calibration.json"
    code, output = run_eval(tmp_path, questions, *arguments, "--calibrate", "--calibration", str(calibration))
    assert code == 2 and squeeze(expected) in output and not calibration.exists()


def test_the_seed_set_against_another_corpus_says_to_pass_questions() -> None:
    seed = load_eval_set(DEFAULT_SEED_SET)
    with pytest.raises(CorpusError) as error:
        check_labels(seed, {}, DEFAULT_SEED_SET, Path("mine/index"), default=True)
    message = str(error.value)
    assert message.startswith(
        f"{DEFAULT_SEED_SET}: question q001: doc_id 'bailey-baby-milia' is not in the corpus"
    )
    assert (
        "labels the default corpus's articles: score your index with your own questions, --questions"
        in message
    )


def test_the_report_of_an_owners_questions_names_their_file_not_the_seed_set(
    tmp_path: Path, default_index_path: Path
) -> None:
    """The report of `citeqa eval --questions mine.jsonl` was titled "citeqa evaluation: seed set" (its
    plots "Seed set: ...") and named no question file: an owner's report read as the packaged set's."""
    questions = write_lines(tmp_path / "mine.jsonl", {**GOOD, "doc_id": "milia-overview"})
    out = tmp_path / "report"
    arguments = ["eval", "--questions", str(questions), "--index", str(default_index_path), "--out", str(out)]
    result = CliRunner().invoke(app, [*arguments, "--backend", "torch"])
    assert result.exit_code == 0, result.output
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert summary.startswith("# citeqa evaluation: mine\n") and "seed set" not in summary
    assert f"- questions: {questions}: 1 answerable (scored), 0 unanswerable" in summary
    assert (
        (out / "questions.md")
        .read_text(encoding="utf-8")
        .startswith("# citeqa evaluation: mine: per question")
    )
    assert (
        json.loads((out / "results.json").read_text(encoding="utf-8"))["title"] == "citeqa evaluation: mine"
    )


def test_a_report_or_calibration_path_that_cannot_be_written_is_refused_first(tmp_path: Path) -> None:
    """--out naming a file, or --calibration naming a folder, ended in a FileExistsError / IsADirectoryError
    traceback after every question had been scored (or the decision fitted)."""
    questions = write_lines(tmp_path / "mine.jsonl", GOOD)
    taken = tmp_path / "taken"
    taken.write_text("mine", encoding="utf-8")
    cases = [
        (["--out", str(taken)], f"--out {taken} is a file: pass a folder for the report"),
        (["--out", str(taken / "sub")], f"--out {taken / 'sub'} is under the file {taken}: pass a folder"),
        (["--dataset", str(tmp_path), "--out", str(taken)], f"--out {taken} is a file"),
        (
            ["--calibrate", "--calibration", str(tmp_path)],
            f"--calibration {tmp_path} is a folder: pass the file",
        ),
        (
            ["--calibrate", "--calibration", str(taken / "c.json")],
            f"--calibration {taken / 'c.json'} is under",
        ),
    ]
    for arguments, expected in cases:
        result = CliRunner().invoke(app, ["eval", "--questions", str(questions), *arguments])
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output and squeeze(expected) in squeeze(result.output)
    assert taken.read_text(encoding="utf-8") == "mine"


def test_a_report_or_calibration_folder_this_user_may_not_write_is_refused_first(tmp_path: Path) -> None:
    """--out (or --calibration) in a folder this user may not write (a read-only mount, another user's
    folder) scored every question, then ended on "cannot write ...; make the index folder writable ... or
    give another --index", naming an option that had nothing to do with it: it is refused first, naming
    the option given."""
    from support import unwritable

    locked = tmp_path / "locked"
    locked.mkdir()
    cases = [
        (["--out", str(locked / "report")], f"--out {locked / 'report'}: cannot write in {locked}"),
        (
            ["--calibrate", "--calibration", str(locked / "c.json")],
            f"--calibration {locked / 'c.json'}: cannot write in {locked}",
        ),
    ]
    with unwritable(locked):
        for arguments, expected in cases:
            result = CliRunner().invoke(app, ["eval", *arguments])  # the seed set over the default index
            assert result.exit_code == 2, result.output
            said = squeeze(result.output)
            assert squeeze(expected) in said and "--index" not in said, result.output
            assert "question tower" not in said and "Traceback" not in result.output, result.output


def test_a_default_report_folder_this_user_may_not_write_is_refused_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --out the report goes to var/eval/seed (var/eval/<dataset> with --dataset): a var/ this user
    may not write was not tried, as --out is, so the evaluation ran (or failed on something else) before
    the report could not be written. The folder written is tried, whichever it is, naming --out."""
    from support import unwritable

    monkeypatch.chdir(tmp_path)
    (tmp_path / "var").mkdir()
    (tmp_path / "mydata").mkdir()
    cases = [
        (["--index", str(tmp_path / "no-index")], "--out var/eval/seed: cannot write in var"),
        (["--dataset", "mydata"], "--out var/eval/mydata: cannot write in var"),
    ]
    with unwritable(tmp_path / "var"):
        for arguments, expected in cases:
            result = CliRunner().invoke(app, ["eval", *arguments])
            assert result.exit_code == 2, result.output
            said = squeeze(result.output)
            assert squeeze(expected) in said and "Traceback" not in result.output, result.output


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        # fitted the seed set on the default index and wrote the packaged (or configured) calibration
        (
            ["--calibrate", "--dataset", "DIR"],
            "--calibrate is not read with --dataset: it answers a question set",
        ),
        (["--dedup", "--dataset", "DIR"], "--dedup is not read with --dataset"),
        # scored the BEIR folder and never read the question file
        (["--dataset", "DIR", "--questions", "Q"], "--questions is not read with --dataset"),
        (["--calibrate", "--baseline", "Q"], "--baseline is not read with --calibrate"),
        # scored the seed set and wrote no calibration
        (
            ["--calibration", "DIR/c.json"],
            "--calibration DIR/c.json is the file --calibrate writes: add --calibrate",
        ),
    ],
)
def test_an_option_the_evaluation_would_not_read_is_refused(
    tmp_path: Path, arguments: list[str], expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Where a calibration would go without --calibration (never the packaged file, even without the fix).
    monkeypatch.setenv("CITEQA_CALIBRATION_PATH", str(tmp_path / "c.json"))
    questions = write_lines(tmp_path / "mine.jsonl", GOOD)
    places = {"DIR": str(tmp_path), "Q": str(questions), "DIR/c.json": str(tmp_path / "c.json")}
    named = [places.get(argument, argument) for argument in arguments]
    result = CliRunner().invoke(app, ["eval", *named])
    assert result.exit_code == 2, result.output
    wanted = expected.replace("DIR", str(tmp_path))
    assert "Traceback" not in result.output and squeeze(wanted) in squeeze(result.output)
    assert not (tmp_path / "c.json").exists()
