"""`citeqa index --if-stale` (what `make run` does) over a damaged index: it said "up to date" for a
manifest whose dimension no longer matched its segments, and `citeqa serve` then refused the folder, so
`make run` neither served nor rebuilt; an index it did rebuild for damage was rebuilt without a word of
why. Now the staleness check opens the folder as the service does, and the rebuild names the damage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from corpus import DEFAULT_CORPUS_DIR
from corpus.loader import load_documents
from indexer.embedding import DEFAULT_MODEL
from indexer.errors import IndexMismatchError
from indexer.load import load_index
from service.cli.app import app


def said(output: str) -> str:
    return " ".join(output.split())


def wrong_dimension(index: Path) -> str:
    path = index / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["model"]["dimension"] = 768
    path.write_text(json.dumps(manifest), encoding="utf-8")
    return "FAISS dimension 384 differs from the manifest"


def truncated_faiss(index: Path) -> str:
    (faiss_file,) = index.glob("segments/*/dense.faiss")
    faiss_file.write_bytes(faiss_file.read_bytes()[:100])
    return f"index file {faiss_file} does not match its checksum in manifest.json"


def null_version(index: Path) -> str:
    """A hand-edited counter: every command ended on a TypeError traceback (int(None)). Found in review."""
    path = index / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["version"] = None
    path.write_text(json.dumps(manifest), encoding="utf-8")
    return f"{path} has version null, not a whole number of at least 1"


def test_a_manifest_counter_that_is_not_a_number_is_one_line(index_copy: Path) -> None:
    why = null_version(index_copy)
    for command in (["ask", "milia", "--index", str(index_copy)], ["serve", "--index", str(index_copy)]):
        done = CliRunner().invoke(app, command, env={"COLUMNS": "400"})
        assert done.exit_code == 2, done.output
        assert why in said(done.output) and "Traceback" not in done.output


@pytest.mark.parametrize("damage", [wrong_dimension, truncated_faiss, null_version])
def test_index_if_stale_rebuilds_a_damaged_index_and_says_why(index_copy: Path, damage) -> None:
    why = damage(index_copy)
    with pytest.raises(IndexMismatchError):
        load_index(index_copy, expected_model=DEFAULT_MODEL)
    command = ["index", "--corpus", str(DEFAULT_CORPUS_DIR), "--index", str(index_copy), "--if-stale"]
    done = CliRunner().invoke(app, command, env={"COLUMNS": "400"})  # long paths on one line
    assert done.exit_code == 0, done.output
    assert "is up to date" not in said(done.output)
    assert f"{why}: rebuilding it from the corpus at {DEFAULT_CORPUS_DIR}" in said(done.output), done.output
    load_index(index_copy, expected_model=DEFAULT_MODEL)  # what `citeqa serve` opens next


def unreadable_manifest(index: Path) -> None:
    (index / "manifest.json").write_text('{"format": "citeqa-index", ', encoding="utf-8")


def newer_format(index: Path) -> None:
    path = index / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["format_version"] = 99
    path.write_text(json.dumps(manifest), encoding="utf-8")


def missing_manifest(index: Path) -> None:
    (index / "manifest.json").unlink()


@pytest.mark.parametrize("damage", [unreadable_manifest, missing_manifest])
def test_a_manifest_that_cannot_be_read_is_not_sent_to_citeqa_rebuild(index_copy: Path, damage) -> None:
    """`citeqa serve` refused such a folder with "rebuild it from its stored documents with `citeqa
    rebuild`", and `citeqa rebuild` refused it with the same advice: without its manifest the live
    segments are unknown. The message now names the one fix that works, a build from the corpus."""
    damage(index_copy)
    for command in (["verify"], ["rebuild"]):
        done = CliRunner().invoke(app, [*command, "--index", str(index_copy)], env={"COLUMNS": "400"})
        assert done.exit_code == 2, done.output
        assert "citeqa rebuild" not in said(done.output)
        assert f"rebuild it from the corpus with `citeqa index --index {index_copy}`" in said(done.output)
    command = ["index", "--corpus", str(DEFAULT_CORPUS_DIR), "--index", str(index_copy)]
    assert CliRunner().invoke(app, command).exit_code == 0  # the fix named works
    load_index(index_copy, expected_model=DEFAULT_MODEL)


def test_make_run_over_an_index_of_a_newer_format_moves_it_aside_whole(
    index_copy: Path, tmp_path: Path
) -> None:
    """An index folder written by a newer citeqa (run an older one: a rollback) was refused by `citeqa
    serve`, `verify` and `rebuild` with "rebuild it from the corpus with `citeqa index`", and `make run`
    rebuilt it from the corpus: the folder, and the documents written into it, were gone. Now the
    refusals say a newer citeqa wrote it, and a build moves it aside, whole, before building."""
    (tmp_path / "seals.txt").write_text("Harbor seals can hold their breath for thirty minutes.\n")
    added = CliRunner().invoke(app, ["add", str(tmp_path / "seals.txt"), "--index", str(index_copy)])
    assert added.exit_code == 0, added.output
    newer_format(index_copy)
    before = {p.relative_to(index_copy): p.read_bytes() for p in index_copy.rglob("*") if p.is_file()}
    aside = index_copy.with_name("index.newer-format")
    for command in (["verify"], ["rebuild"], ["add", str(tmp_path / "seals.txt")]):
        done = CliRunner().invoke(app, [*command, "--index", str(index_copy)], env={"COLUMNS": "400"})
        assert done.exit_code == 2, done.output
        assert (
            f"index at {index_copy} was written by a newer citeqa (manifest.json has format_version 99; this "
            "citeqa reads up to 2): serve it with the citeqa that wrote it"
        ) in said(done.output)
        assert f"moves the newer folder aside, whole, to {aside.name}" in said(done.output)
    command = ["index", "--corpus", str(DEFAULT_CORPUS_DIR), "--index", str(index_copy), "--if-stale"]
    done = CliRunner().invoke(app, command, env={"COLUMNS": "400"})
    assert done.exit_code == 0, done.output
    assert (
        f"index at {index_copy} was written by a newer citeqa (format_version 99; this citeqa reads up to "
        f"2): moved it aside, whole, to {aside}"
    ) in said(done.output)
    assert {p.relative_to(aside): p.read_bytes() for p in aside.rglob("*") if p.is_file()} == before
    assert set(load_index(index_copy, expected_model=DEFAULT_MODEL).documents) == {
        d.doc_id for d in load_documents(DEFAULT_CORPUS_DIR)
    }


def test_an_index_of_a_newer_format_given_as_dot_is_refused_and_moved_aside(
    index_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--index .` from inside an index folder a newer citeqa wrote ended `citeqa verify` (and serve) on a
    traceback (ValueError: PosixPath('.') has an empty name) while naming where a build would move it, and
    `citeqa index --index .` on "error: PosixPath('.') has an empty name"."""
    newer_format(index_copy)
    monkeypatch.chdir(index_copy)
    aside = index_copy.with_name("index.newer-format")
    done = CliRunner().invoke(app, ["verify", "--index", "."], env={"COLUMNS": "400"})
    assert done.exit_code == 2 and not isinstance(done.exception, ValueError), done.output
    assert "was written by a newer citeqa" in said(done.output)
    assert f"moves the newer folder aside, whole, to {aside.name}" in said(done.output)
    command = ["index", "--corpus", str(DEFAULT_CORPUS_DIR), "--index", "."]
    done = CliRunner().invoke(app, command, env={"COLUMNS": "400"})
    assert done.exit_code == 0, done.output
    assert f"moved it aside, whole, to {aside}" in said(done.output)
    assert json.loads((aside / "manifest.json").read_text(encoding="utf-8"))["format_version"] == 99
    load_index(index_copy, expected_model=DEFAULT_MODEL)


def test_a_manifest_that_names_no_model_is_refused_by_name_and_rebuilt_with_its_writes(
    index_copy: Path, tmp_path: Path
) -> None:
    """A manifest without its "model" (a hand edit, a manifest from a tool that wrote part of it) ended
    `citeqa verify`, `citeqa serve` and `make run` on a traceback (KeyError: 'model'). Now it is a damage
    like any other: named, and `make run` rebuilds the index from its stored documents, the writes kept."""
    (tmp_path / "seals.txt").write_text("Harbor seals can hold their breath for thirty minutes.\n")
    added = CliRunner().invoke(app, ["add", str(tmp_path / "seals.txt"), "--index", str(index_copy)])
    assert added.exit_code == 0, added.output
    path = index_copy / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    del manifest["model"]
    path.write_text(json.dumps(manifest), encoding="utf-8")
    why = f"{path} names no model (its name and dimension)"
    with pytest.raises(IndexMismatchError, match="names no model"):
        load_index(index_copy, expected_model=DEFAULT_MODEL)
    done = CliRunner().invoke(app, ["verify", "--index", str(index_copy)], env={"COLUMNS": "400"})
    assert done.exit_code == 2, done.output
    assert f"{why}; rebuild it from its stored documents with `citeqa rebuild" in said(done.output)
    command = ["index", "--corpus", str(DEFAULT_CORPUS_DIR), "--index", str(index_copy), "--if-stale"]
    done = CliRunner().invoke(app, command, env={"COLUMNS": "400"})
    assert done.exit_code == 0, done.output
    assert f"{why}: rebuilding it from its stored documents, the writes kept" in said(done.output)
    rebuilt = load_index(index_copy, expected_model=DEFAULT_MODEL)
    assert "seals" in rebuilt.documents and len(rebuilt.documents) == 3


def test_make_run_keeps_the_writes_of_an_index_whose_manifest_lost_its_version(
    index_copy: Path, tmp_path: Path
) -> None:
    """A manifest without its "version" was taken for a fresh build of version 1: `make run` rebuilt
    the index from the corpus, and the document written into it was gone."""
    (tmp_path / "seals.txt").write_text("Harbor seals can hold their breath for thirty minutes.\n")
    added = CliRunner().invoke(app, ["add", str(tmp_path / "seals.txt"), "--index", str(index_copy)])
    assert added.exit_code == 0, added.output
    path = index_copy / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    del manifest["version"]
    path.write_text(json.dumps(manifest), encoding="utf-8")
    command = ["index", "--corpus", str(DEFAULT_CORPUS_DIR), "--index", str(index_copy), "--if-stale"]
    done = CliRunner().invoke(app, command, env={"COLUMNS": "400"})
    assert done.exit_code == 0, done.output
    assert f"index at {index_copy} has been changed by writes" in said(done.output)
    assert "kept as it is" in said(done.output) and "indexed" not in said(done.output)
    assert "seals" in load_index(index_copy, expected_model=DEFAULT_MODEL).documents


def test_index_if_stale_rebuilds_a_damaged_index_changed_by_writes_from_its_stored_documents(
    index_copy: Path, tmp_path: Path
) -> None:
    """An index changed by writes is kept by `make run` (a build from the corpus would drop them); when
    it was also damaged, `--if-stale` said "kept as it is" and `citeqa serve` then refused it, so `make
    run` neither served nor rebuilt. Now it rebuilds it from its stored documents, the writes kept."""
    (tmp_path / "seals.txt").write_text("Harbor seals can hold their breath for thirty minutes.\n")
    added = CliRunner().invoke(app, ["add", str(tmp_path / "seals.txt"), "--index", str(index_copy)])
    assert added.exit_code == 0, added.output
    for faiss_file in index_copy.glob("segments/*/dense.faiss"):
        faiss_file.write_bytes(faiss_file.read_bytes()[:100])
    command = ["index", "--corpus", str(DEFAULT_CORPUS_DIR), "--index", str(index_copy), "--if-stale"]
    done = CliRunner().invoke(app, command, env={"COLUMNS": "400"})
    assert done.exit_code == 0, done.output
    assert "does not match its checksum in manifest.json: rebuilding it from its stored documents" in said(
        done.output
    )
    rebuilt = load_index(index_copy, expected_model=DEFAULT_MODEL)  # what `citeqa serve` opens next
    assert "seals" in rebuilt.documents and len(rebuilt.documents) == 3


def wrong_counts(index: Path) -> str:
    path = index / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["counts"]["passages"] += 1
    path.write_text(json.dumps(manifest), encoding="utf-8")
    return "the manifest says 2 and 26"


@pytest.mark.parametrize("damage", [wrong_dimension, wrong_counts])
def test_verify_finds_what_the_service_refuses(index_copy: Path, damage) -> None:
    """`citeqa verify` checked checksums alone: "19 files match their checksums", and `citeqa serve` then
    refused the same folder (a manifest whose dimension or counts no longer match its segments). It now
    opens the commit as the service does."""
    why = damage(index_copy)
    with pytest.raises(IndexMismatchError, match=why):
        load_index(index_copy, expected_model=DEFAULT_MODEL)
    done = CliRunner().invoke(app, ["verify", "--index", str(index_copy)], env={"COLUMNS": "400"})
    assert done.exit_code == 2, done.output
    assert why in said(done.output)


def test_verify_of_a_sound_index_says_what_it_opened(index_copy: Path) -> None:
    done = CliRunner().invoke(app, ["verify", "--index", str(index_copy)], env={"COLUMNS": "400"})
    assert done.exit_code == 0, done.output
    assert "files match their checksums" in done.output and "(2 documents, 25 passages)" in done.output
