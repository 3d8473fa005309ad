"""The index folder (format 2): a manifest (the commit point) naming immutable segments with checksums,
segment tables that hold the documents and exact passages, a build into an existing folder as one commit,
the staged-folder swap of a fresh build (also across a crash), refusal to load anything damaged or built
for another model, clean-up of what no commit names, and staleness."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import pytest
from support import (
    BAILEY_ID,
    FailingEncoder,
    assert_exact_sentences,
    folder_digest,
    remove_sentence_files,
    swap_leftovers,
)

from corpus.types import Document
from indexer import index_folder
from indexer import segment as segment_module
from indexer.build import IndexSettings, build_index
from indexer.chunking import ChunkerSettings, chunk_document
from indexer.commit_point import PENDING_MAX_AGE_SECONDS, merge_lock_path
from indexer.embedding import DEFAULT_MODEL, SentenceTransformerEncoder
from indexer.errors import IndexMismatchError
from indexer.faiss_factory import IndexSpec
from indexer.format1 import is_format1
from indexer.index_folder import content_hash, corpus_fingerprint, recover_interrupted_swap, sha256_file
from indexer.lexical import K1, SEGMENT_FILES, B
from indexer.live import LiveIndex
from indexer.load import LoadedIndex, load_index
from indexer.recover import rebuild_from_stored
from indexer.segment import PENDING_PREFIX, SEGMENTS, read_arrow
from indexer.staleness import changed_by_writes, index_is_current, index_lacks_sentences, live_version

FORMAT1_DATA = Path(__file__).resolve().parents[2] / "data" / "format1"
SEGMENT_FILE_NAMES = [
    "documents.arrow",
    "passages.arrow",
    "dense.faiss",
    "lexical/lexical_terms.arrow",
    "lexical/lexical_rows.npy",
]
QUESTION = "are milia contagious"


def read_manifest(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")


def on_disk(folder: Path) -> list[str]:
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.name != "manifest.json"
    )


def segment_names(folder: Path) -> list[str]:
    return [entry["name"] for entry in read_manifest(folder)["segments"]]


def segment_path(folder: Path, name: str) -> str:
    """The relative path of file ``name`` of the folder's first segment."""
    return f"{SEGMENTS}/{segment_names(folder)[0]}/{name}"


def expect_refusal(
    folder: Path, *fragments: str, expected_model: str | None = None, checksums: bool = True
) -> str:
    with pytest.raises(IndexMismatchError) as caught:
        load_index(folder, expected_model=expected_model, checksums=checksums)
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


def flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle] = (data[middle] + 1) % 256 or 1  # same size, different content
    path.write_bytes(bytes(data))


def format1_copy(tmp_path: Path) -> Path:
    path = tmp_path / "index"
    shutil.copytree(FORMAT1_DATA / "index", path)
    return path


def note(doc_id: str, title: str, text: str) -> Document:
    return Document(doc_id=doc_id, title=title, text=text)


NOTES = [
    note("seals", "Harbor seals", "Harbor seals rest on rocky shores between dives. They hold their breath."),
    note("bread", "Rye bread", "A dense rye loaf needs a long bake of at least 70 minutes."),
    note("tides", "Tide pools", "Tide pools hold anemones and small crabs. Visit them at low tide."),
]


@pytest.fixture
def deleted_copy(index_copy: Path, encoder: SentenceTransformerEncoder) -> Iterator[Path]:
    """The default index after one delete: its segment now names a deletes file."""
    live = LiveIndex.open(index_copy, encoder, background_merges=False)
    try:
        live.delete([BAILEY_ID])
    finally:
        live.close()
    yield index_copy


def deletes_file(folder: Path) -> str:
    (entry,) = [e for e in read_manifest(folder)["segments"] if e["deletes"]]
    return str(entry["deletes"])


# --- the manifest ---------------------------------------------------------------------------------


def test_manifest_describes_the_index(
    default_index_path: Path, default_documents: list[Document], loaded_index: LoadedIndex
) -> None:
    manifest = read_manifest(default_index_path)
    assert manifest["format"] == "citeqa-index"
    assert manifest["format_version"] == 2
    assert manifest["model"] == {"name": DEFAULT_MODEL, "dimension": 384, "normalized": True}
    assert manifest["chunker"] == asdict(IndexSettings().chunker)
    assert set(manifest["chunker"]) >= {"max_words", "overlap_words"}
    assert manifest["embed_title"] == IndexSettings().embed_title
    assert manifest["bm25_title"] == IndexSettings().bm25_title
    assert manifest["index_type"] == "auto"
    assert manifest["bm25"]["method"] == "lucene"
    assert (manifest["bm25"]["k1"], manifest["bm25"]["b"]) == (K1, B)
    assert manifest["corpus"]["fingerprint"] == corpus_fingerprint(default_documents)
    n = len(loaded_index.passages)
    assert manifest["counts"] == {"documents": 2, "passages": n}
    assert (manifest["version"], manifest["generation"]) == (1, 1)
    assert (loaded_index.version, loaded_index.generation) == (1, 1)
    assert datetime.fromisoformat(manifest["created_at"]).tzinfo is not None
    (entry,) = manifest["segments"]
    assert (entry["documents"], entry["passages"]) == (2, n)
    assert (entry["deletes"], entry["deleted_documents"]) == (None, 0)
    spec = IndexSpec.from_manifest(entry["index"], 384)
    assert (spec.kind, spec.dimension) == ("flat", 384)  # 25 passages: exact search
    (segment,) = loaded_index.segments
    assert segment.reader.name == entry["name"]
    assert isinstance(faiss.downcast_index(segment.reader.dense), faiss.IndexFlatIP)


def test_manifest_checksums_every_file_of_the_commit(default_index_path: Path) -> None:
    manifest = read_manifest(default_index_path)
    files = manifest["files"]
    assert sorted(files) == on_disk(default_index_path)
    (name,) = segment_names(default_index_path)
    expected = {
        f"{SEGMENTS}/{name}/{f}"
        for f in (
            "documents.arrow",
            "passages.arrow",
            "dense.faiss",
            "sentences.arrow",
            "sentence_vectors.npy",
        )
    }
    expected |= {f"{SEGMENTS}/{name}/lexical/{f}" for f in SEGMENT_FILES}
    expected |= {f"{SEGMENTS}/{name}/sentence_lexical/{f}" for f in SEGMENT_FILES}
    assert set(files) == expected
    for relative, entry in files.items():
        path = default_index_path / relative
        assert entry["sha256"] == sha256_file(path)
        assert entry["bytes"] == path.stat().st_size


def test_segment_tables_hold_the_documents_and_exact_passages(
    default_index_path: Path, default_documents: list[Document], loaded_index: LoadedIndex
) -> None:
    folder = default_index_path / SEGMENTS / segment_names(default_index_path)[0]
    documents = read_arrow(folder / "documents.arrow")
    assert documents.column("doc_id").to_pylist() == [d.doc_id for d in default_documents]
    assert documents.column("text").to_pylist() == [d.text for d in default_documents]
    assert documents.column("content_hash").to_pylist() == [content_hash(d) for d in default_documents]
    assert dict(loaded_index.documents) == {d.doc_id: d for d in default_documents}

    table = read_arrow(folder / "passages.arrow").to_pydict()
    expected = []
    for document in default_documents:
        expected.extend(chunk_document(document, IndexSettings().chunker, len(expected)))
    assert list(zip(table["doc_row"], table["start"], table["end"], strict=True)) == [
        ([d.doc_id for d in default_documents].index(p.doc_id), p.start, p.end) for p in expected
    ]
    assert list(loaded_index.passages) == expected
    for passage in loaded_index.passages:
        assert loaded_index.documents[passage.doc_id].text[passage.start : passage.end] == passage.text
    assert len(loaded_index.bm25) == len(loaded_index.dense) == len(loaded_index.passages)
    assert_exact_sentences(loaded_index)
    sentences = read_arrow(folder / "sentences.arrow")
    assert sentences.num_rows == read_manifest(default_index_path)["segments"][0]["sentences"] > len(expected)


def test_shard_size_splits_a_build_into_segments(
    tmp_path: Path,
    default_documents: list[Document],
    encoder: SentenceTransformerEncoder,
    loaded_index: LoadedIndex,
) -> None:
    path = tmp_path / "sharded"
    build_index(default_documents, encoder, path, IndexSettings(shard_size=1))
    manifest = read_manifest(path)
    n = len(loaded_index.passages)
    entries = manifest["segments"]
    assert len(entries) == len(default_documents) == 2  # a document is never split between segments
    assert sum(e["passages"] for e in entries) == n and all(e["documents"] == 1 for e in entries)
    assert sorted(manifest["files"]) == on_disk(path)
    sharded = load_index(path)
    assert [len(s.reader.doc_ids) for s in sharded.segments] == [1, 1]
    assert list(sharded.passages) == list(loaded_index.passages)
    question = encoder.encode([QUESTION])
    scores, ids = sharded.dense.search(question, n)
    expected_scores, expected_ids = loaded_index.dense.search(question, n)
    assert ids.tolist() == expected_ids.tolist()
    assert scores == pytest.approx(expected_scores, abs=1e-4)
    bm25_scores, bm25_ids = sharded.bm25.search(QUESTION, n)
    expected_bm25_scores, expected_bm25_ids = loaded_index.bm25.search(QUESTION, n)
    assert bm25_ids.tolist() == expected_bm25_ids.tolist()
    assert bm25_scores == pytest.approx(expected_bm25_scores, rel=1e-5)


# --- a build into an existing folder: one commit --------------------------------------------------


def test_build_into_an_existing_folder_is_one_commit_that_replaces_every_segment(
    index_copy: Path, documents_by_id: dict[str, Document], encoder: SentenceTransformerEncoder
) -> None:
    before = read_manifest(index_copy)
    old_names = segment_names(index_copy)
    reader = load_index(index_copy)  # a reader that still has the old commit open
    build_index([documents_by_id[BAILEY_ID]], encoder, index_copy, version=2)
    after = read_manifest(index_copy)
    assert after["generation"] == before["generation"] + 1
    assert after["version"] == 2
    assert after["counts"]["documents"] == 1
    assert after["corpus"]["fingerprint"] == corpus_fingerprint([documents_by_id[BAILEY_ID]])
    new_names = segment_names(index_copy)
    assert new_names and not set(new_names) & set(old_names)
    assert sorted(p.name for p in (index_copy / SEGMENTS).iterdir()) == sorted(new_names)
    assert sorted(after["files"]) == on_disk(index_copy)
    assert list(load_index(index_copy).documents) == [BAILEY_ID]
    assert swap_leftovers(index_copy) == []
    # The old commit's open segment still reads (its files were unlinked, not changed).
    assert len(reader.documents) == 2 and reader.passages[len(reader.passages) - 1].text


@pytest.mark.parametrize(
    "error", [RuntimeError("simulated crash"), KeyboardInterrupt()], ids=["exception", "interrupt"]
)
def test_crash_while_embedding_leaves_the_previous_index(
    index_copy: Path,
    default_documents: list[Document],
    encoder: SentenceTransformerEncoder,
    error: BaseException,
) -> None:
    before = folder_digest(index_copy)
    failing = FailingEncoder(encoder, fail_on=2, error=error)
    with pytest.raises(type(error)):
        build_index(default_documents, failing, index_copy, IndexSettings(batch_size=4))
    assert failing.calls == 2  # the first batch went through, the second crashed
    assert folder_digest(index_copy) == before
    assert sorted(p.name for p in (index_copy / SEGMENTS).iterdir()) == segment_names(index_copy)
    assert swap_leftovers(index_copy) == []
    assert len(load_index(index_copy, expected_model=DEFAULT_MODEL).passages) > 0


# --- a fresh build: the staged folder and its swap ------------------------------------------------


def crash_on_second_segment(monkeypatch: pytest.MonkeyPatch, error: BaseException) -> list[int]:
    """Make the second segment's write crash (the first is written whole before it)."""
    real = segment_module.fsync_files
    calls: list[int] = []

    def failing(paths: Any) -> None:
        calls.append(len(paths))
        if len(calls) == 2:
            raise error
        real(paths)

    monkeypatch.setattr(segment_module, "fsync_files", failing)
    return calls


@pytest.mark.parametrize(
    "error", [OSError("simulated disk failure"), KeyboardInterrupt()], ids=["os", "interrupt"]
)
def test_fresh_build_crashing_mid_write_leaves_nothing(
    tmp_path: Path,
    default_documents: list[Document],
    encoder: SentenceTransformerEncoder,
    monkeypatch: pytest.MonkeyPatch,
    error: BaseException,
) -> None:
    destination = tmp_path / "fresh" / "index"
    calls = crash_on_second_segment(monkeypatch, error)
    with pytest.raises(type(error)):
        build_index(default_documents, encoder, destination, IndexSettings(shard_size=1))
    assert len(calls) == 2
    assert not destination.exists()
    assert swap_leftovers(destination) == []
    assert [p.name for p in destination.parent.iterdir()] == []


def test_fresh_build_crashing_mid_write_over_a_format1_folder_leaves_it(
    tmp_path: Path,
    default_documents: list[Document],
    encoder: SentenceTransformerEncoder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    destination = format1_copy(tmp_path)
    before = folder_digest(destination)
    calls = crash_on_second_segment(monkeypatch, OSError("simulated disk failure"))
    with pytest.raises(OSError, match="simulated"):
        build_index(default_documents, encoder, destination, IndexSettings(shard_size=1))
    assert len(calls) == 2
    assert folder_digest(destination) == before
    assert swap_leftovers(destination) == []
    assert is_format1(destination)


@pytest.mark.parametrize(
    "model", [{"name": "other/model"}, {"dimension": 768}], ids=["model-name", "dimension"]
)
def test_rebuild_from_stored_records_the_model_it_embedded_with(
    index_copy: Path, encoder: SentenceTransformerEncoder, model: dict[str, Any]
) -> None:
    """A manifest naming a model that is not installed (or a wrong dimension) is refused at start with
    `citeqa rebuild` as the fix; the rebuild re-embedded with the configured model but kept the old
    model block, so the rebuilt index was refused again. Now it records the encoder's."""
    manifest = read_manifest(index_copy)
    manifest["model"].update(model)
    (index_copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(IndexMismatchError, match="rebuild"):
        load_index(index_copy, expected_model=DEFAULT_MODEL)
    rebuild_from_stored(index_copy, encoder)
    rebuilt = load_index(index_copy, expected_model=DEFAULT_MODEL)
    expected = {"name": encoder.name, "dimension": encoder.dimension, "normalized": True}
    assert rebuilt.manifest["model"] == expected
    assert rebuilt.manifest["counts"] == manifest["counts"]


def test_fresh_build_over_a_format1_folder_swaps_in_a_format2_index(
    tmp_path: Path, default_documents: list[Document], encoder: SentenceTransformerEncoder
) -> None:
    destination = format1_copy(tmp_path)
    build_index(default_documents, encoder, destination)
    assert not is_format1(destination)
    assert read_manifest(destination)["format_version"] == 2
    assert sorted(read_manifest(destination)["files"]) == on_disk(destination)  # nothing of format 1 left
    assert swap_leftovers(destination) == []
    assert len(load_index(destination).documents) == 2


def crash_between_the_renames(monkeypatch: pytest.MonkeyPatch, destination: Path, build: Any) -> None:
    real_replace = os.replace

    def crash_on_moving_in(src: Any, dst: Any) -> None:
        if Path(dst) == destination:
            raise OSError("simulated crash between the renames")
        real_replace(src, dst)

    monkeypatch.setattr(index_folder.os, "replace", crash_on_moving_in)
    with pytest.raises(OSError, match="simulated"):
        build()
    monkeypatch.undo()


def test_crash_between_the_two_renames_leaves_the_previous_folder_to_recover(
    tmp_path: Path,
    default_documents: list[Document],
    encoder: SentenceTransformerEncoder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The old folder (format 1: a fresh build swaps over it) was moved aside and the crash came before
    the new one was moved in."""
    destination = format1_copy(tmp_path)
    before = folder_digest(destination)
    crash_between_the_renames(
        monkeypatch, destination, lambda: build_index(default_documents, encoder, destination)
    )
    assert not destination.exists()
    assert [name.split(".old-")[0] for name in swap_leftovers(destination)] == [".index"]
    recover_interrupted_swap(destination)
    assert folder_digest(destination) == before
    assert swap_leftovers(destination) == []
    assert is_format1(destination)


def test_loading_recovers_a_crash_between_the_two_renames(
    tmp_path: Path,
    default_documents: list[Document],
    encoder: SentenceTransformerEncoder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    destination = format1_copy(tmp_path)
    before = folder_digest(destination)
    crash_between_the_renames(
        monkeypatch, destination, lambda: build_index(default_documents, encoder, destination)
    )
    # The next load puts the displaced folder back before reading it (here: a format-1 folder).
    expect_refusal(destination, "citeqa upgrade")
    assert folder_digest(destination) == before
    assert swap_leftovers(destination) == []


def test_recover_interrupted_swap_puts_back_the_old_folder(index_copy: Path) -> None:
    before = folder_digest(index_copy)
    displaced = index_copy.parent / ".index.old-1700000000000000000"
    index_copy.rename(displaced)
    recover_interrupted_swap(index_copy)
    assert folder_digest(index_copy) == before
    assert not displaced.exists()
    load_index(index_copy)


def test_recover_takes_the_newest_displaced_folder(index_copy: Path, tmp_path: Path) -> None:
    older = tmp_path / ".index.old-1700000000000000000"
    shutil.copytree(index_copy, older)
    (older / "marker").write_text("older", encoding="utf-8")
    newer = tmp_path / ".index.old-1800000000000000000"
    index_copy.rename(newer)
    recover_interrupted_swap(index_copy)
    assert index_copy.is_dir() and not newer.exists()
    assert not (index_copy / "marker").exists()
    assert older.exists()


def test_recover_leaves_an_existing_index_alone(index_copy: Path, tmp_path: Path) -> None:
    displaced = tmp_path / ".index.old-1700000000000000000"
    displaced.mkdir()
    before = folder_digest(index_copy)
    recover_interrupted_swap(index_copy)
    assert folder_digest(index_copy) == before
    assert displaced.exists()


def test_recover_without_anything_to_recover(tmp_path: Path) -> None:
    recover_interrupted_swap(tmp_path / "never-built")
    assert not (tmp_path / "never-built").exists()


# --- clean-up of what no commit names -------------------------------------------------------------


def test_a_commit_removes_unnamed_segments_and_superseded_deletes(
    index_copy: Path, encoder: SentenceTransformerEncoder
) -> None:
    live = LiveIndex.open(index_copy, encoder, background_merges=False)
    try:
        built = set(segment_names(index_copy))
        live.put(NOTES)  # one new segment holding the three notes
        (notes_segment,) = set(segment_names(index_copy)) - built
        segments = index_copy / SEGMENTS
        old = time.time() - PENDING_MAX_AGE_SECONDS - 60
        stale_pending = segments / f"{PENDING_PREFIX}seg-0000001-deadbeef"
        young_pending = segments / f"{PENDING_PREFIX}seg-0000001-cafebabe"
        orphan = segments / "seg-0000001-0badf00d"
        for folder in (stale_pending, young_pending, orphan):
            folder.mkdir()
            (folder / "documents.arrow").write_bytes(b"left by a crash")
        os.utime(stale_pending, (old, old))
        os.utime(orphan, (old, old))

        with merge_lock_path(index_copy).open("a") as merging:  # a merge runs (in another process)
            fcntl.flock(merging.fileno(), fcntl.LOCK_EX)
            live.delete(["seals"])
            fcntl.flock(merging.fileno(), fcntl.LOCK_UN)
        first = deletes_file(index_copy)
        assert first.startswith(f"{SEGMENTS}/{notes_segment}/deletes-")
        assert not stale_pending.exists()
        assert not orphan.exists()
        assert young_pending.is_dir()  # may be that merge's, still writing
        assert (index_copy / first).is_file()

        live.delete(["bread"])  # no merge runs: a pending segment was left by a crash
        assert not young_pending.exists()
        second = deletes_file(index_copy)
        manifest = read_manifest(index_copy)
        assert second != first and second in manifest["files"] and first not in manifest["files"]
        assert not (index_copy / first).exists()
        assert np.load(index_copy / second).tolist() == [0, 1]  # every deleted row, not only the new one
        assert sorted(manifest["files"]) == [
            p for p in on_disk(index_copy) if not p.startswith(f"{SEGMENTS}/{PENDING_PREFIX}")
        ]
        reloaded = load_index(index_copy)
        assert set(reloaded.documents) == {*(d.doc_id for d in reloaded.documents.values()), "tides"}
        assert "seals" not in reloaded.documents and "bread" not in reloaded.documents
        assert len(reloaded.documents) == 3
    finally:
        live.close()


# --- loading refuses damaged indexes --------------------------------------------------------------


def test_loads_with_the_matching_model(index_copy: Path) -> None:
    assert load_index(index_copy, expected_model=DEFAULT_MODEL).model_name == DEFAULT_MODEL


@pytest.mark.parametrize("name", SEGMENT_FILE_NAMES)
def test_refuses_a_tampered_segment_file(index_copy: Path, name: str) -> None:
    relative = segment_path(index_copy, name)
    flip_a_byte(index_copy / relative)
    expect_refusal(index_copy, relative, "checksum", "rebuild")


@pytest.mark.parametrize("name", SEGMENT_FILE_NAMES)
def test_refuses_a_truncated_segment_file(index_copy: Path, name: str) -> None:
    path = index_copy / segment_path(index_copy, name)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    # Without checksums too: the size alone is checked.
    expect_refusal(index_copy, segment_path(index_copy, name), "rebuild", checksums=False)


@pytest.mark.parametrize("name", [*SEGMENT_FILE_NAMES, "lexical", ""])
def test_refuses_a_missing_segment_file(index_copy: Path, name: str) -> None:
    path = index_copy / segment_path(index_copy, name)
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink()
    expect_refusal(index_copy, "missing", "rebuild")


def test_refuses_a_tampered_deletes_file(deleted_copy: Path) -> None:
    relative = deletes_file(deleted_copy)
    assert len(load_index(deleted_copy).documents) == 1
    flip_a_byte(deleted_copy / relative)
    expect_refusal(deleted_copy, relative, "checksum", "rebuild")


def test_refuses_a_truncated_or_missing_deletes_file(deleted_copy: Path) -> None:
    path = deleted_copy / deletes_file(deleted_copy)
    path.write_bytes(path.read_bytes()[:-4])
    expect_refusal(deleted_copy, deletes_file(deleted_copy), "rebuild", checksums=False)
    path.unlink()
    expect_refusal(deleted_copy, deletes_file(deleted_copy), "missing", "rebuild")


@pytest.mark.parametrize(
    "manifest_text",
    ["", "{not json", '["a list"]', '{"format": "something-else"}', "\udcff"],
    ids=["empty", "invalid-json", "not-an-object", "other-format", "bad-bytes"],
)
def test_refuses_a_corrupt_manifest(index_copy: Path, manifest_text: str) -> None:
    (index_copy / "manifest.json").write_bytes(manifest_text.encode("utf-8", "surrogateescape"))
    expect_refusal(index_copy, "manifest.json", "rebuild")


def test_refuses_a_missing_manifest(index_copy: Path) -> None:
    (index_copy / "manifest.json").unlink()
    expect_refusal(index_copy, "no index", str(index_copy), "rebuild")


def test_refuses_a_missing_folder(tmp_path: Path) -> None:
    expect_refusal(tmp_path / "nothing-here", "no index", "rebuild")


def test_refuses_another_format_version(index_copy: Path) -> None:
    write_manifest(index_copy, {**read_manifest(index_copy), "format_version": 999})
    expect_refusal(index_copy, "format_version 999", "rebuild")


def test_refuses_a_different_configured_model(index_copy: Path) -> None:
    expect_refusal(index_copy, DEFAULT_MODEL, "other/model", "rebuild", expected_model="other/model")


@pytest.mark.parametrize("name", ["passages.arrow", "dense.faiss"])
def test_refuses_a_manifest_whose_checksum_was_edited(index_copy: Path, name: str) -> None:
    manifest = read_manifest(index_copy)
    relative = segment_path(index_copy, name)
    manifest["files"][relative]["sha256"] = "0" * 64
    write_manifest(index_copy, manifest)
    expect_refusal(index_copy, relative, "checksum", "rebuild")


def test_refuses_a_deletes_checksum_that_was_edited(deleted_copy: Path) -> None:
    manifest = read_manifest(deleted_copy)
    relative = deletes_file(deleted_copy)
    manifest["files"][relative]["sha256"] = "0" * 64
    write_manifest(deleted_copy, manifest)
    expect_refusal(deleted_copy, relative, "checksum", "rebuild")


@pytest.mark.parametrize("key", ["documents", "passages"])
def test_refuses_counts_that_do_not_match(index_copy: Path, key: str) -> None:
    manifest = read_manifest(index_copy)
    manifest["counts"][key] += 1
    write_manifest(index_copy, manifest)
    expect_refusal(index_copy, "the manifest says", "rebuild")


@pytest.mark.parametrize("key", ["documents", "passages"])
def test_refuses_segment_counts_that_do_not_match(index_copy: Path, key: str) -> None:
    manifest = read_manifest(index_copy)
    manifest["segments"][0][key] += 1
    manifest["counts"][key] += 1
    write_manifest(index_copy, manifest)
    expect_refusal(index_copy, manifest["segments"][0]["name"], "do not match the manifest counts")


# --- staleness ------------------------------------------------------------------------------------


def test_index_is_current_after_build(default_index_path: Path, default_documents: list[Document]) -> None:
    assert index_is_current(default_index_path, default_documents, DEFAULT_MODEL, IndexSettings())
    # batch and shard sizes do not change what the index holds
    assert index_is_current(
        default_index_path, default_documents, DEFAULT_MODEL, IndexSettings(batch_size=3, shard_size=7)
    )


def test_an_index_without_sentence_vectors_is_stale(
    index_copy: Path, default_documents: list[Document]
) -> None:
    """A folder of the release before sentence vectors were stored: `--if-stale` rebuilds it."""
    assert not index_lacks_sentences(index_copy)
    remove_sentence_files(index_copy)
    assert index_lacks_sentences(index_copy)
    assert not index_is_current(index_copy, default_documents, DEFAULT_MODEL, IndexSettings())
    assert load_index(index_copy).segments[0].reader.sentences is None  # it still loads and serves


def test_index_is_stale_after_a_document_changes(
    default_index_path: Path, default_documents: list[Document]
) -> None:
    first, second = default_documents
    changes = [
        [replace(first, text=first.text + " One more sentence."), second],
        [first, replace(second, title="Another title")],
        [first, replace(second, url="https://example.test/milia")],
        [first, replace(second, metadata={**second.metadata, "language": "fr"})],
        [first],
        [second, first],
    ]
    for documents in changes:
        assert not index_is_current(default_index_path, documents, DEFAULT_MODEL, IndexSettings())


def test_index_is_stale_for_other_settings(
    default_index_path: Path, default_documents: list[Document]
) -> None:
    for model, settings in [
        ("other/model", IndexSettings()),
        (DEFAULT_MODEL, IndexSettings(ChunkerSettings(max_words=60))),
        (DEFAULT_MODEL, IndexSettings(ChunkerSettings(overlap_words=0))),
        (DEFAULT_MODEL, IndexSettings(embed_title=False)),
        (DEFAULT_MODEL, IndexSettings(bm25_title=False)),
        (DEFAULT_MODEL, IndexSettings(index_type="flat")),
    ]:
        assert not index_is_current(default_index_path, default_documents, model, settings)


@pytest.mark.parametrize("name", ["passages.arrow", "lexical/lexical_rows.npy"])
def test_index_is_stale_when_damaged_or_missing(
    index_copy: Path, default_documents: list[Document], tmp_path: Path, name: str
) -> None:
    assert index_is_current(index_copy, default_documents, DEFAULT_MODEL, IndexSettings())
    flip_a_byte(index_copy / segment_path(index_copy, name))
    assert not index_is_current(index_copy, default_documents, DEFAULT_MODEL, IndexSettings())
    assert not index_is_current(tmp_path / "nothing", default_documents, DEFAULT_MODEL, IndexSettings())


def test_changed_by_writes_after_a_write_not_after_a_build(
    index_copy: Path, default_documents: list[Document], encoder: SentenceTransformerEncoder
) -> None:
    assert not changed_by_writes(index_copy) and live_version(index_copy) == 1
    live = LiveIndex.open(index_copy, encoder, background_merges=False)
    try:
        live.put(NOTES[:1])
    finally:
        live.close()
    assert changed_by_writes(index_copy) and live_version(index_copy) == 2
    assert not index_is_current(index_copy, default_documents, DEFAULT_MODEL, IndexSettings())
    build_index(default_documents, encoder, index_copy, version=3)
    assert not changed_by_writes(index_copy) and live_version(index_copy) == 3
    assert index_is_current(index_copy, default_documents, DEFAULT_MODEL, IndexSettings())


def test_nothing_is_changed_by_writes_without_an_index(tmp_path: Path) -> None:
    assert not changed_by_writes(tmp_path / "nothing") and live_version(tmp_path / "nothing") == 0
