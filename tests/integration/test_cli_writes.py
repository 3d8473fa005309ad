"""citeqa add / remove: on an index folder directly (each write a commit under the index's write lock, even
beside a service serving the folder), and through a running service with --url and a key (real uvicorn on
loopback)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import one_line, run_cli, write_document

from citeqa.search import Searcher
from eval.bench import loopback_server
from indexer.embedding import DEFAULT_MODEL
from indexer.load import load_index
from service.app import create_app
from service.settings import Settings
from service.wiring import build_answerer

KEY = "cli-key"


def test_add_then_remove_on_the_folder(index_copy: Path, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    write_document(docs, "puffins", "Puffins nest in burrows on sea cliffs.", {"title": "Puffins"})
    (docs / "gannets.md").write_text("# Gannets\n\nGannets dive from thirty metres.\n", encoding="utf-8")
    added = run_cli(["add", str(docs), "--index", str(index_copy)], cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    assert "added 2 documents; index version 2" in added.stdout
    index = load_index(index_copy)  # committed
    assert index.version == 2 and {"puffins", "gannets"} <= set(index.documents)

    removed = run_cli(["remove", "puffins", "--index", str(index_copy)], cwd=tmp_path)
    assert removed.returncode == 0, removed.stderr
    assert "index version 3" in removed.stdout
    assert "puffins" not in load_index(index_copy).documents

    missing = run_cli(["remove", "puffins", "--index", str(index_copy)], cwd=tmp_path)
    assert missing.returncode != 0 and "no document with doc_id 'puffins'" in one_line(missing.stderr)


def test_index_keeps_an_index_changed_by_writes_unless_forced(index_copy: Path, tmp_path: Path) -> None:
    """`make run` (citeqa index --if-stale) must not drop added documents; --force replaces them, and the
    version keeps rising so that no client sees an older version number for newer contents."""
    docs = tmp_path / "docs"
    write_document(docs, "puffins", "Puffins nest in burrows on sea cliffs.", {"title": "Puffins"})
    assert run_cli(["add", str(docs), "--index", str(index_copy)], cwd=tmp_path).returncode == 0
    kept = run_cli(["index", "--index", str(index_copy), "--if-stale"], cwd=tmp_path)
    assert kept.returncode == 0, kept.stderr
    assert "changed by writes (version 2)" in one_line(kept.stdout + kept.stderr)
    assert "puffins" in load_index(index_copy).documents

    refused = run_cli(["index", "--index", str(index_copy)], cwd=tmp_path)
    assert refused.returncode != 0 and "--force" in one_line(refused.stderr)
    assert "puffins" in load_index(index_copy).documents

    forced = run_cli(["index", "--index", str(index_copy), "--force"], cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    rebuilt = load_index(index_copy)
    assert "puffins" not in rebuilt.documents and rebuilt.version == 3
    assert len(rebuilt.manifest["segments"]) == 1  # the build replaced every segment in one commit


@pytest.fixture
def service_url(index_copy: Path, encoder: Any) -> Iterator[str]:
    settings = Settings(index_path=index_copy, model=DEFAULT_MODEL, api_keys=[KEY])
    answerer = build_answerer(settings, Searcher(load_index(index_copy), encoder))
    with loopback_server(create_app(settings, answerer=answerer)) as url:
        yield url


def test_add_and_remove_through_the_service(service_url: str, index_copy: Path, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    write_document(
        docs, "terns", "Arctic terns migrate from pole to pole.", {"title": "Terns", "author": "B"}
    )
    no_key = run_cli(["add", str(docs), "--url", service_url], cwd=tmp_path)
    assert no_key.returncode != 0 and "API key" in one_line(no_key.stderr)
    wrong = run_cli(["add", str(docs), "--url", service_url, "--key", "nope"], cwd=tmp_path)
    assert wrong.returncode != 0 and "refused (403)" in one_line(wrong.stderr)
    added = run_cli(["add", str(docs), "--url", service_url, "--key", KEY], cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    assert "added 1 documents; index version 2" in added.stdout
    removed = run_cli(["remove", "terns", "--url", service_url], cwd=tmp_path, env={"CITEQA_API_KEY": KEY})
    assert removed.returncode == 0, removed.stderr
    assert "index version 3" in removed.stdout

    # Beside the running service, a write to the folder itself is one more commit, which the service
    # then serves (it follows the commit point) and builds on with its own writes.
    beside = run_cli(["add", str(docs), "--index", str(index_copy)], cwd=tmp_path)
    assert beside.returncode == 0, beside.stderr
    assert "index version 4" in beside.stdout
    asked = {"question": "arctic terns migrate", "top_k": 1, "min_version": 4}
    found = httpx.post(f"{service_url}/query", json=asked, trust_env=False).json()
    assert found["index_version"] == 4 and found["results"][0]["citation"]["doc_id"] == "terns"
    again = run_cli(["remove", "terns", "--url", service_url, "--key", KEY], cwd=tmp_path)
    assert again.returncode == 0 and "index version 5" in again.stdout
