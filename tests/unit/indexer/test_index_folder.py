"""The index folder: its manifest, atomic replacement (also across a crash mid-build), recovery of an
interrupted swap, refusal to load anything damaged or built for another model, and staleness."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from support import BAILEY_ID, FailingEncoder, folder_digest, swap_leftovers

from corpus.types import Document
from indexer import index_folder
from indexer.build import IndexSettings, build_index
from indexer.chunking import ChunkerSettings
from indexer.embedding import DEFAULT_MODEL, SentenceTransformerEncoder
from indexer.errors import IndexMismatchError
from indexer.index_folder import corpus_fingerprint, recover_interrupted_swap, sha256_file
from indexer.load import LoadedIndex, load_index
from indexer.staleness import index_is_current


def read_manifest(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")


def expect_refusal(folder: Path, *fragments: str, expected_model: str | None = None) -> str:
    with pytest.raises(IndexMismatchError) as caught:
        load_index(folder, expected_model=expected_model)
    message = str(caught.value)
    assert "rebuild" in message, message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


# --- the manifest ---------------------------------------------------------------------------------


def test_manifest_describes_the_index(
    default_index_path: Path, default_documents: list[Document], loaded_index: LoadedIndex
) -> None:
    manifest = read_manifest(default_index_path)
    assert manifest["format"] == "citeqa-index"
    assert manifest["model"]["name"] == DEFAULT_MODEL
    assert manifest["model"]["dimension"] == 384
    assert manifest["chunker"] == asdict(IndexSettings().chunker)
    assert set(manifest["chunker"]) >= {"max_words", "overlap_words"}
    assert manifest["embed_title"] == IndexSettings().embed_title
    assert manifest["corpus"]["fingerprint"] == corpus_fingerprint(default_documents)
    assert manifest["counts"] == {"documents": 2, "passages": len(loaded_index.passages)}
    created = datetime.fromisoformat(manifest["created_at"])
    assert created.tzinfo is not None
    assert [shard["passages"] for shard in manifest["shards"]] == [len(loaded_index.passages)]


def test_manifest_checksums_every_file(default_index_path: Path) -> None:
    files = read_manifest(default_index_path)["files"]
    on_disk = sorted(
        p.relative_to(default_index_path).as_posix()
        for p in default_index_path.rglob("*")
        if p.is_file() and p.name != "manifest.json"
    )
    assert sorted(files) == on_disk
    assert {"documents.jsonl", "passages.jsonl", "shards/dense-000.faiss"} <= set(files)
    assert any(name.startswith("bm25/") for name in files)
    for name, entry in files.items():
        path = default_index_path / name
        assert entry["sha256"] == sha256_file(path)
        assert entry["bytes"] == path.stat().st_size


def test_index_files_hold_the_documents_and_passages(
    default_index_path: Path, default_documents: list[Document], loaded_index: LoadedIndex
) -> None:
    assert loaded_index.documents == {d.doc_id: d for d in default_documents}
    lines = (default_index_path / "passages.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["passage_id"] for line in lines] == list(range(len(loaded_index.passages)))
    assert len(loaded_index.bm25) == len(loaded_index.dense) == len(loaded_index.passages)


def test_shard_size_splits_the_dense_index(
    tmp_path: Path,
    default_documents: list[Document],
    encoder: SentenceTransformerEncoder,
    loaded_index: LoadedIndex,
) -> None:
    path = tmp_path / "sharded"
    build_index(default_documents, encoder, path, IndexSettings(shard_size=10))
    manifest = read_manifest(path)
    n = len(loaded_index.passages)
    assert [s["first_passage_id"] for s in manifest["shards"]] == list(range(0, n, 10))
    sharded = load_index(path)
    question = encoder.encode(["are milia contagious"])
    scores, ids = sharded.dense.search(question, n)
    expected_scores, expected_ids = loaded_index.dense.search(question, n)
    assert ids.tolist() == expected_ids.tolist()
    assert scores == pytest.approx(expected_scores, abs=1e-4)


# --- atomic replacement ---------------------------------------------------------------------------


def test_rebuild_replaces_the_index_and_leaves_nothing_behind(
    index_copy: Path, documents_by_id: dict[str, Document], encoder: SentenceTransformerEncoder
) -> None:
    before = read_manifest(index_copy)
    build_index([documents_by_id[BAILEY_ID]], encoder, index_copy)
    after = read_manifest(index_copy)
    assert after["counts"]["documents"] == 1
    assert after["corpus"]["fingerprint"] != before["corpus"]["fingerprint"]
    assert list(load_index(index_copy).documents) == [BAILEY_ID]
    assert swap_leftovers(index_copy) == []


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
    assert swap_leftovers(index_copy) == []
    assert len(load_index(index_copy, expected_model=DEFAULT_MODEL).passages) > 0


def test_crash_while_writing_the_staged_folder_leaves_the_previous_index(
    index_copy: Path, default_documents: list[Document], encoder: SentenceTransformerEncoder
) -> None:
    """Everything is embedded and written to the temporary folder; the crash comes at the manifest."""

    class CrashAtManifest:
        """Embeds for real; reading its name (only the manifest does) crashes."""

        def __init__(self, inner: SentenceTransformerEncoder) -> None:
            self.inner = inner
            self.dimension = inner.dimension
            self.calls = 0

        @property
        def name(self) -> str:
            raise RuntimeError("simulated crash while writing the manifest")

        def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
            self.calls += 1
            return self.inner.encode(texts, batch_size=batch_size)

    before = folder_digest(index_copy)
    crashing = CrashAtManifest(encoder)
    with pytest.raises(RuntimeError, match="manifest"):
        build_index(default_documents, crashing, index_copy)
    assert crashing.calls >= 1
    assert folder_digest(index_copy) == before
    assert swap_leftovers(index_copy) == []
    load_index(index_copy)


def test_crash_between_the_two_renames_is_recovered(
    index_copy: Path,
    default_documents: list[Document],
    encoder: SentenceTransformerEncoder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The old index was moved aside and the crash came before the new one was moved in."""
    before = folder_digest(index_copy)
    real_replace = os.replace

    def crash_on_moving_in(src: Any, dst: Any) -> None:
        if Path(dst) == index_copy:
            raise OSError("simulated crash between the renames")
        real_replace(src, dst)

    monkeypatch.setattr(index_folder.os, "replace", crash_on_moving_in)
    with pytest.raises(OSError, match="simulated"):
        build_index(default_documents, encoder, index_copy)
    monkeypatch.undo()

    assert not index_copy.exists()
    assert [name.split(".old-")[0] for name in swap_leftovers(index_copy)] == [".index"]
    loaded = load_index(index_copy)  # recovers the displaced index before reading it
    assert folder_digest(index_copy) == before
    assert swap_leftovers(index_copy) == []
    assert len(loaded.passages) > 0


def test_recover_interrupted_swap_puts_back_the_old_folder(index_copy: Path) -> None:
    before = folder_digest(index_copy)
    displaced = index_copy.parent / ".index.old-1700000000000000000"
    index_copy.rename(displaced)
    recover_interrupted_swap(index_copy)
    assert folder_digest(index_copy) == before
    assert not displaced.exists()


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


# --- loading refuses damaged indexes --------------------------------------------------------------


def test_loads_with_the_matching_model(index_copy: Path) -> None:
    assert load_index(index_copy, expected_model=DEFAULT_MODEL).model_name == DEFAULT_MODEL


@pytest.mark.parametrize("name", ["passages.jsonl", "documents.jsonl", "shards/dense-000.faiss"])
def test_refuses_a_tampered_file(index_copy: Path, name: str) -> None:
    path = index_copy / name
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle] = (data[middle] + 1) % 256 or 1  # same size, different content
    path.write_bytes(bytes(data))
    expect_refusal(index_copy, name, "checksum")


def test_refuses_a_tampered_bm25_file(index_copy: Path) -> None:
    name = next(
        n for n in read_manifest(index_copy)["files"] if n.startswith("bm25/") and n.endswith(".json")
    )
    path = index_copy / name
    path.write_text(path.read_text(encoding="utf-8").replace("1", "2", 1), encoding="utf-8")
    expect_refusal(index_copy, name, "checksum")


@pytest.mark.parametrize("name", ["passages.jsonl", "shards/dense-000.faiss"])
def test_refuses_a_truncated_file(index_copy: Path, name: str) -> None:
    path = index_copy / name
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    expect_refusal(index_copy, name)


@pytest.mark.parametrize("name", ["passages.jsonl", "documents.jsonl", "shards/dense-000.faiss", "bm25"])
def test_refuses_a_missing_file(index_copy: Path, name: str) -> None:
    path = index_copy / name
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink()
    expect_refusal(index_copy, "missing")


@pytest.mark.parametrize(
    "manifest_text",
    ["", "{not json", '["a list"]', '{"format": "something-else"}', "\udcff"],
    ids=["empty", "invalid-json", "not-an-object", "other-format", "bad-bytes"],
)
def test_refuses_a_corrupt_manifest(index_copy: Path, manifest_text: str) -> None:
    (index_copy / "manifest.json").write_bytes(manifest_text.encode("utf-8", "surrogateescape"))
    expect_refusal(index_copy, "manifest.json")


def test_refuses_a_missing_manifest(index_copy: Path) -> None:
    (index_copy / "manifest.json").unlink()
    expect_refusal(index_copy, "no index", str(index_copy))


def test_refuses_a_missing_folder(tmp_path: Path) -> None:
    expect_refusal(tmp_path / "nothing-here", "no index")


def test_refuses_another_format_version(index_copy: Path) -> None:
    manifest = read_manifest(index_copy)
    write_manifest(index_copy, {**manifest, "format_version": 999})
    expect_refusal(index_copy, "format_version")


def test_refuses_a_different_configured_model(index_copy: Path) -> None:
    message = expect_refusal(index_copy, DEFAULT_MODEL, "other/model", expected_model="other/model")
    assert "rebuild" in message


def test_refuses_a_manifest_whose_checksum_was_edited(index_copy: Path) -> None:
    manifest = read_manifest(index_copy)
    manifest["files"]["passages.jsonl"]["sha256"] = "0" * 64
    write_manifest(index_copy, manifest)
    expect_refusal(index_copy, "passages.jsonl", "checksum")


def test_refuses_a_passage_that_does_not_quote_its_document(index_copy: Path) -> None:
    """Even with checksums made consistent, a passage must equal its document's text[start:end]."""
    path = index_copy / "passages.jsonl"
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    records[3]["start"] += 1
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    manifest = read_manifest(index_copy)
    manifest["files"]["passages.jsonl"] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    write_manifest(index_copy, manifest)
    expect_refusal(index_copy, "passage 3")


def test_refuses_counts_that_do_not_match(index_copy: Path) -> None:
    manifest = read_manifest(index_copy)
    manifest["counts"]["passages"] += 1
    write_manifest(index_copy, manifest)
    expect_refusal(index_copy, "counts")


def test_refuses_data_files_the_manifest_does_not_list(index_copy: Path) -> None:
    manifest = read_manifest(index_copy)
    bm25 = [name for name in manifest["files"] if name.startswith("bm25/")]
    for name in bm25:
        del manifest["files"][name]
    write_manifest(index_copy, manifest)
    expect_refusal(index_copy, "bm25")


# --- staleness ------------------------------------------------------------------------------------


def test_index_is_current_after_build(default_index_path: Path, default_documents: list[Document]) -> None:
    assert index_is_current(default_index_path, default_documents, DEFAULT_MODEL, IndexSettings())
    # batch and shard sizes do not change what the index holds
    assert index_is_current(
        default_index_path, default_documents, DEFAULT_MODEL, IndexSettings(batch_size=3, shard_size=7)
    )


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
    ]:
        assert not index_is_current(default_index_path, default_documents, model, settings)


def test_index_is_stale_when_damaged_or_missing(
    index_copy: Path, default_documents: list[Document], tmp_path: Path
) -> None:
    assert index_is_current(index_copy, default_documents, DEFAULT_MODEL, IndexSettings())
    (index_copy / "passages.jsonl").write_text("", encoding="utf-8")
    assert not index_is_current(index_copy, default_documents, DEFAULT_MODEL, IndexSettings())
    assert not index_is_current(tmp_path / "nothing", default_documents, DEFAULT_MODEL, IndexSettings())
