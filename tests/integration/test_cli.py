"""The citeqa command line, run as the venv's console script in subprocesses."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from support import BAILEY_ID, CITEQA_BIN, folder_digest, one_line, remove_sentence_files, run_cli

from corpus import DEFAULT_CORPUS_DIR
from corpus.types import Document
from indexer.embedding import DEFAULT_MODEL
from indexer.load import load_index


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working folder for the CLI (no .env, and relative defaults land here, not in the repository)."""
    return tmp_path_factory.mktemp("cli")


@pytest.fixture(scope="module")
def cli_corpus(workdir: Path) -> Path:
    corpus = workdir / "corpus"
    shutil.copytree(DEFAULT_CORPUS_DIR, corpus)
    for path in corpus.iterdir():
        path.chmod(0o644)
    return corpus


@pytest.fixture(scope="module")
def cli_index(workdir: Path, cli_corpus: Path) -> Path:
    """``citeqa index --corpus X --index Y``, once for the module."""
    index = workdir / "index"
    done = run_cli(["index", "--corpus", str(cli_corpus), "--index", str(index)], cwd=workdir)
    assert done.returncode == 0, done.stderr
    assert "indexed 2 documents into" in done.stdout
    assert str(index) in done.stdout
    return index


def test_console_script_is_the_venvs() -> None:
    assert CITEQA_BIN.is_file()


def test_index_builds_a_loadable_index(cli_index: Path, default_documents: list[Document]) -> None:
    loaded = load_index(cli_index, expected_model=DEFAULT_MODEL)
    assert loaded.documents == {d.doc_id: d for d in default_documents}
    assert loaded.manifest["counts"]["passages"] == len(loaded.passages) > 0
    assert not list(cli_index.parent.glob(".index.*"))


def test_ask_json(cli_index: Path, workdir: Path, default_documents: list[Document]) -> None:
    question = "what soap does the dermatologist blog recommend for washing a baby with milia"
    done = run_cli(["ask", question, "--json", "--index", str(cli_index), "-k", "3"], cwd=workdir)
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["question"] == question
    assert body["mode"] == "hybrid"
    assert len(body["results"]) == 3
    assert [r["rank"] for r in body["results"]] == [1, 2, 3]
    scores = [r["score"] for r in body["results"]]
    assert scores == sorted(scores, reverse=True)
    texts = {d.doc_id: d.text for d in default_documents}
    for result in body["results"]:
        citation = result["citation"]
        assert texts[citation["doc_id"]][citation["start"] : citation["end"]] == result["text"]
    assert body["results"][0]["citation"]["doc_id"] == BAILEY_ID


def test_ask_with_a_missing_index(workdir: Path) -> None:
    missing = workdir / "no-index-here"
    done = run_cli(["ask", "what are milia", "--json", "--index", str(missing)], cwd=workdir)
    assert done.returncode == 2
    message = one_line(done.stderr)
    assert "error" in message.lower()
    assert str(missing) in message
    assert "citeqa index" in message  # says how to fix it
    assert "Traceback" not in done.stderr + done.stdout
    assert done.stdout.strip() == ""
    assert not missing.exists()


def test_index_if_stale_skips_a_current_index(cli_index: Path, cli_corpus: Path, workdir: Path) -> None:
    before = folder_digest(cli_index)
    done = run_cli(
        ["index", "--corpus", str(cli_corpus), "--index", str(cli_index), "--if-stale"], cwd=workdir
    )
    assert done.returncode == 0, done.stderr
    assert "up to date" in one_line(done.stdout + done.stderr)
    assert "indexed" not in done.stdout
    assert folder_digest(cli_index) == before


def test_index_if_stale_rebuilds_after_a_change(cli_index: Path, cli_corpus: Path, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(cli_corpus, corpus)
    index = tmp_path / "index"
    shutil.copytree(cli_index, index)
    before = json.loads((index / "manifest.json").read_text(encoding="utf-8"))
    text_file = next(corpus.glob("004_*.txt"))
    text_file.write_text(
        text_file.read_text(encoding="utf-8") + "\nA new closing sentence.\n", encoding="utf-8"
    )
    done = run_cli(["index", "--corpus", str(corpus), "--index", str(index), "--if-stale"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "indexed 2 documents" in done.stdout
    after = json.loads((index / "manifest.json").read_text(encoding="utf-8"))
    assert after["corpus"]["fingerprint"] != before["corpus"]["fingerprint"]
    assert any("A new closing sentence." in p.text for p in load_index(index).passages)


def test_index_if_stale_rebuilds_an_index_written_without_sentence_vectors(
    cli_index: Path, cli_corpus: Path, tmp_path: Path
) -> None:
    """`make run` over a folder of the release before sentence vectors were stored: said, and rebuilt."""
    index = tmp_path / "index"
    shutil.copytree(cli_index, index)
    remove_sentence_files(index)
    done = run_cli(["index", "--corpus", str(cli_corpus), "--index", str(index), "--if-stale"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    said = one_line(done.stdout + done.stderr)
    assert "stores no sentence vectors (written by an earlier release): rebuilding it" in said
    assert "indexed 2 documents" in done.stdout
    rebuilt = load_index(index)
    assert all(s.reader.has_sentences for s in rebuilt.segments)


def test_index_with_a_missing_corpus(workdir: Path) -> None:
    missing = workdir / "no-corpus-here"
    done = run_cli(["index", "--corpus", str(missing), "--index", str(workdir / "never")], cwd=workdir)
    assert done.returncode == 2
    assert str(missing) in one_line(done.stderr)
    assert "Traceback" not in done.stderr + done.stdout
    assert not (workdir / "never").exists()


def test_index_with_an_invalid_document(workdir: Path, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "doc.txt").write_text("Some text.", encoding="utf-8")
    (corpus / "doc.json").write_text('{"title": ["not", "a", "string"]}', encoding="utf-8")
    done = run_cli(["index", "--corpus", str(corpus), "--index", str(tmp_path / "index")], cwd=workdir)
    assert done.returncode == 2
    message = one_line(done.stderr)
    assert "doc.json" in message and "title" in message
    assert "Traceback" not in done.stderr


def test_ask_marks_the_answering_sentence_when_not_a_terminal(
    cli_index: Path, workdir: Path, default_documents: list[Document]
) -> None:
    done = run_cli(["ask", "does laser work on milia", "--index", str(cli_index), "-k", "2"], cwd=workdir)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "\x1b[" not in out  # no terminal styling in a pipe
    assert out.startswith("answerable: yes (confidence ")
    assert "answer: " in out
    marked = [piece.split("\u00ab")[0] for piece in out.split("\u00bb")[1:]]
    assert marked and all("\u00ab" in piece for piece in out.split("\u00bb")[1:])
    texts = " ".join(" ".join(d.text.split()) for d in default_documents)
    for sentence in marked:
        assert " ".join(sentence.split()) in texts  # rich may wrap lines; the words are the document's


def test_ask_says_when_the_corpus_has_no_answer(cli_index: Path, workdir: Path) -> None:
    done = run_cli(
        ["ask", "what is the capital of France", "--index", str(cli_index), "-k", "1"], cwd=workdir
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("answerable: no (confidence 0.")
    assert "answer: none" in done.stdout
    assert "1. score" in done.stdout


def test_ask_with_a_malformed_calibration(cli_index: Path, workdir: Path) -> None:
    bad = workdir / "bad-calibration.json"
    bad.write_text('{"model": 3}')
    done = run_cli(
        ["ask", "what are milia", "--index", str(cli_index)],
        cwd=workdir,
        env={"CITEQA_CALIBRATION_PATH": str(bad)},
    )
    assert done.returncode == 2
    message = one_line(done.stderr)
    assert str(bad) in message and "citeqa eval --calibrate" in message


def test_calibrate_into_the_index_then_ask_uses_it(cli_index: Path, workdir: Path, tmp_path: Path) -> None:
    """`citeqa eval --calibrate --questions MY.jsonl --index DIR` writes DIR/calibration.json; `citeqa ask`
    over DIR then says it uses the index's own calibration; an explicit CITEQA_CALIBRATION_PATH wins; a
    calibration fitted for another model is refused with a message naming it."""
    from citeqa.answerability import DEFAULT_CALIBRATION_PATH
    from eval.seed_set import DEFAULT_SEED_SET

    index = tmp_path / "index"
    shutil.copytree(cli_index, index)
    lines = [json.loads(line) for line in DEFAULT_SEED_SET.read_text(encoding="utf-8").splitlines() if line]
    chosen = [q for q in lines if q["answerable"]][:10] + [q for q in lines if not q["answerable"]][:6]
    questions = tmp_path / "labelled.jsonl"
    questions.write_text("".join(json.dumps(q) + "\n" for q in chosen), encoding="utf-8")
    done = run_cli(["eval", "--calibrate", "--questions", str(questions), "--index", str(index)], cwd=workdir)
    assert done.returncode == 0, done.stderr
    written = index / "calibration.json"
    assert f"wrote {written}" in one_line(done.stdout)
    assert json.loads(written.read_text())["fitted_on"]["eval_set"] == "labelled.jsonl"

    asked = run_cli(["ask", "what are milia", "--index", str(index), "-k", "1"], cwd=workdir)
    assert asked.returncode == 0, asked.stderr
    assert f"answerability calibration: the index's own, {written}" in one_line(asked.stderr)
    configured = run_cli(
        ["ask", "what are milia", "--index", str(index), "-k", "1"],
        cwd=workdir,
        env={"CITEQA_CALIBRATION_PATH": str(DEFAULT_CALIBRATION_PATH)},
    )
    assert configured.returncode == 0 and "the packaged default" in one_line(configured.stderr)

    record = json.loads(written.read_text()) | {"model": "sentence-transformers/another-model"}
    written.write_text(json.dumps(record), encoding="utf-8")
    refused = run_cli(["ask", "what are milia", "--index", str(index)], cwd=workdir)
    assert refused.returncode == 2
    message = one_line(refused.stderr)
    assert (
        str(written) in message
        and "'sentence-transformers/another-model'" in message
        and "refused" in message
    )
