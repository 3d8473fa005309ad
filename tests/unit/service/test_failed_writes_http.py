"""A write that fails half-way on the disk (real HTTP, real model and index; the disk is made to refuse
bytes by the process's file-size limit, RLIMIT_FSIZE, as a full disk refuses them): the failed write
leaves none of its files behind, so the space it took is free for the next write, which succeeds; the
failed one is answered 507 with what to do."""

from __future__ import annotations

import json
import resource
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from support import writable_client

from indexer.load import load_index
from indexer.merging import merged_content
from indexer.segment import PENDING_PREFIX, SEGMENTS
from indexer.writer import write_new_segment

KEY = "test-write-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


@contextmanager
def files_limited_to(size: int) -> Iterator[None]:
    """Every write past ``size`` bytes of a file fails with EFBIG (SIGXFSZ ignored, as a full disk fails
    with ENOSPC), in this process only."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)


def index_files(index: Path) -> set[str]:
    return {p.relative_to(index).as_posix() for p in index.rglob("*")}


@pytest.mark.parametrize("where", ["segment", "manifest"])
def test_a_write_that_fails_on_the_disk_leaves_no_files_and_the_next_write_succeeds(
    index_copy: Path, encoder: Any, where: str
) -> None:
    manifest_bytes = len((index_copy / "manifest.json").read_bytes())
    if where == "segment":  # the new segment's documents file is cut short
        text = " ".join(f"Seals dive for fish number {i} in the cold water." for i in range(600))
        limit = 16_000
    else:  # the segment is written whole; the staged manifest (longer than the old one) is cut short
        text = "Harbor seals can hold their breath for up to thirty minutes."
        limit = manifest_bytes
    document = {"title": "Harbor seals", "text": text}
    with writable_client(index_copy, encoder, api_keys=[KEY]) as client:
        before = index_files(index_copy)
        with files_limited_to(limit):
            failed = client.put("/documents/harbor-seals", json=document, headers=AUTH)
        # 507, saying what happened and what to do (before: 500 "internal error; see server log").
        assert failed.status_code == 507, failed.text
        assert failed.json()["error"] == "insufficient_storage"
        assert "File too large" in failed.json()["message"]
        assert "nothing of it was stored" in failed.json()["message"]
        assert index_files(index_copy) == before  # nothing of the failed write is left on disk
        assert client.get("/documents/harbor-seals").status_code == 404

        done = client.put("/documents/harbor-seals", json=document, headers=AUTH)
        assert done.status_code == 200, done.text
        assert client.get("/documents/harbor-seals").json()["text"] == text
        manifest = json.loads((index_copy / "manifest.json").read_text(encoding="utf-8"))
        named = {entry["name"] for entry in manifest["segments"]}
        on_disk = {p.name for p in (index_copy / "segments").iterdir()}
        assert on_disk == named
        assert not list(index_copy.glob(".manifest.json.tmp-*"))


def test_a_manifest_staged_by_a_writer_killed_before_its_rename_is_removed_by_the_next_write(
    index_copy: Path, encoder: Any
) -> None:
    # What a writer killed between staging its manifest and renaming it over the old one leaves (the
    # staged file is named by the writer's process and thread); before, nothing ever removed it.
    staged = index_copy / ".manifest.json.tmp-4242-139962951399104"
    staged.write_text((index_copy / "manifest.json").read_text(encoding="utf-8"), encoding="utf-8")
    with writable_client(index_copy, encoder, api_keys=[KEY]) as client:
        document = {"title": "Harbor seals", "text": "Harbor seals can hold their breath for thirty minutes."}
        assert client.put("/documents/harbor-seals", json=document, headers=AUTH).status_code == 200
    assert not staged.exists()
    assert not list(index_copy.glob(".manifest.json.tmp-*"))


def test_a_merge_killed_mid_write_leaves_nothing_once_the_restarted_service_writes(
    index_copy: Path, encoder: Any
) -> None:
    # What a service killed while a merge wrote its segment leaves: the merged segment, pending (the
    # merge's own code writes it; the kill comes before its commit). Before, the restarted service kept
    # it for an hour (PENDING_MAX_AGE_SECONDS: it might have been a merge still writing), so the merge
    # it ran again needed the space twice.
    start = load_index(index_copy)
    names = [entry["name"] for entry in start.manifest["segments"]]
    content, origins = merged_content(start, names)
    killed = write_new_segment(index_copy, content, start.generation, "flat", origins)
    pending = index_copy / SEGMENTS / f"{PENDING_PREFIX}{killed.entry['name']}"
    assert pending.is_dir()
    with writable_client(index_copy, encoder, api_keys=[KEY]) as client:  # the restart
        document = {"title": "Harbor seals", "text": "Harbor seals can hold their breath for thirty minutes."}
        assert client.put("/documents/harbor-seals", json=document, headers=AUTH).status_code == 200
        assert not pending.exists()
        assert client.get("/documents/harbor-seals").json()["text"] == document["text"]


def test_every_write_route_declares_its_507_in_the_openapi_document(index_copy: Path, encoder: Any) -> None:
    with writable_client(index_copy, encoder, api_keys=[KEY]) as client:
        paths = client.get("/openapi.json").json()["paths"]
    writes = {
        (path, method): operation
        for path, operations in paths.items()
        for method, operation in operations.items()
        if path.startswith(("/documents", "/index")) and method in ("post", "put", "delete")
    }
    assert len(writes) == 5, sorted(writes)  # POST /documents, /documents/upload, /index/rebuild; PUT, DELETE
    assert [where for where, op in writes.items() if "507" not in op["responses"]] == []
