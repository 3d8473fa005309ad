"""citeqa on a local Ray cluster that the tests start themselves (through the CLI, as an owner would):
a Ray Data build gives the same shards as a local build, and Ray Serve serves them with the service's own
HTTP app, takes writes in the right shard, and loses no request when a replica is killed."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from support import CITEQA_BIN, cli_env, run_cli
from test_server import free_port

from corpus.types import Document
from indexer.load import load_index
from indexer.shards import read_shards_manifest
from service.app import create_app
from service.settings import Settings

pytest.importorskip("ray")

KEY = "ray-test-key"
SHARDS = 3
SERVE_LOGS: dict[str, Path] = {}
QUESTIONS = ["what are milia", "how are milia treated", "can adults get milia", "is it safe to pop milia"]


def small_corpus(documents: list[Document], folder: Path) -> Path:
    """The default articles cut into documents of three lines each, as a BEIR corpus.jsonl."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "corpus.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for document in documents:
            lines = [line for line in document.text.split("\n") if line.strip()]
            for i in range(0, len(lines), 3):
                record = {
                    "_id": f"{document.doc_id}-{i:03d}",
                    "title": document.title,
                    "text": "\n".join(lines[i : i + 3]),
                }
                out.write(json.dumps(record) + "\n")
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, default_documents: list[Document]) -> tuple[Path, Path]:
    """The same corpus built into 3 shards on Ray and in this process."""
    root = tmp_path_factory.mktemp("ray")
    corpus = small_corpus(default_documents, root / "corpus")
    on_ray = run_cli(
        [
            "index",
            "--corpus",
            str(corpus),
            "--index",
            str(root / "ray"),
            "--shards",
            str(SHARDS),
            "--engine",
            "ray",
        ],
        cwd=root,
        timeout=900,
    )
    assert on_ray.returncode == 0, on_ray.stdout + on_ray.stderr
    assert "3 shards (ray)" in on_ray.stdout
    local = run_cli(
        ["index", "--corpus", str(corpus), "--index", str(root / "local"), "--shards", str(SHARDS)], cwd=root
    )
    assert local.returncode == 0, local.stdout + local.stderr
    return root / "ray", root / "local"


def test_a_ray_build_gives_the_shards_of_a_local_build(built: tuple[Path, Path]) -> None:
    assert_same_shards(*built)


def assert_same_shards(on_ray: Path, local: Path) -> None:
    ray_shards, local_shards = read_shards_manifest(on_ray), read_shards_manifest(local)
    assert ray_shards.count == local_shards.count == SHARDS
    assert ray_shards.data["counts"] == local_shards.data["counts"]
    assert ray_shards.data["corpus"] == local_shards.data["corpus"]  # the same fingerprint
    for a, b in zip(ray_shards.shard_folders, local_shards.shard_folders, strict=True):
        one, other = load_index(a), load_index(b)
        assert list(one.documents.values()) == list(other.documents.values())
        spans = [(p.passage_id, p.doc_id, p.start, p.end, p.text) for p in one.passages]
        assert spans == [(p.passage_id, p.doc_id, p.start, p.end, p.text) for p in other.passages]
        ids = np.arange(len(spans))
        np.testing.assert_allclose(one.dense.vectors(ids), other.dense.vectors(ids), atol=1e-5)
        for passage in one.passages:
            assert passage.text == one.documents[passage.doc_id].text[passage.start : passage.end]
        # Sentence vectors are built with the shards, on Ray as locally (the answer layer reads them).
        for ray_segment, local_segment in zip(one.segments, other.segments, strict=True):
            assert ray_segment.reader.has_sentences and local_segment.reader.has_sentences
            np.testing.assert_allclose(
                np.asarray(ray_segment.reader.sentence_vectors),
                np.asarray(local_segment.reader.sentence_vectors),
                atol=1e-5,
            )
            # ... and so are the sentences' postings (BM25 over sentences), equal to the local build's.
            ray_postings, local_postings = (
                ray_segment.reader.sentence_lexical,
                local_segment.reader.sentence_lexical,
            )
            assert ray_postings is not None and local_postings is not None
            assert ray_postings.terms == local_postings.terms
            for name in ("indptr", "rows", "tfs", "lengths"):
                assert np.array_equal(getattr(ray_postings, name), getattr(local_postings, name))
        for question in ("what are milia", "harbor seals"):
            assert np.array_equal(
                one.sentence_bm25.lexical.scores(question), other.sentence_bm25.lexical.scores(question)
            )


def documents_folder(folder: Path, documents: list[Document]) -> Path:
    """A folder of documents in three formats (.txt, .md, .html) with a NAME.json beside one, and a
    file that cannot be read (an empty .md)."""
    folder.mkdir(parents=True, exist_ok=True)
    for n, document in enumerate(documents):
        (folder / f"article-{n}.txt").write_text(document.text, encoding="utf-8")
    (folder / "article-0.json").write_text(
        json.dumps({"doc_id": "first", "title": "First"}), encoding="utf-8"
    )
    (folder / "notes.md").write_text(
        "# Bread notes\n\nA dense rye loaf needs a long bake.\n", encoding="utf-8"
    )
    (folder / "sub").mkdir(exist_ok=True)
    (folder / "sub" / "page.html").write_text(
        "<html><head><title>Rye</title></head><body><p>Rye flour has little gluten.</p></body></html>",
        encoding="utf-8",
    )
    (folder / "sub" / "empty.md").write_text("   \n", encoding="utf-8")
    return folder


def test_ray_data_reads_a_documents_folder_as_a_local_build_does(
    tmp_path: Path, default_documents: list[Document]
) -> None:
    """--engine ray on a folder: a file that cannot be read fails the build as locally (with the hint of
    --skip-bad); with --skip-bad it is reported and left out, and the shards are those of a local build."""
    corpus = documents_folder(tmp_path / "docs", default_documents)
    args = ["index", "--corpus", str(corpus), "--shards", str(SHARDS)]
    refused = run_cli(
        [*args, "--index", str(tmp_path / "refused"), "--engine", "ray"], cwd=tmp_path, timeout=600
    )
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "empty.md" in refused.stderr and "--skip-bad" in refused.stderr
    assert not (tmp_path / "refused").exists()
    on_ray = run_cli(
        [*args, "--index", str(tmp_path / "ray"), "--engine", "ray", "--skip-bad"], cwd=tmp_path, timeout=900
    )
    assert on_ray.returncode == 0, on_ray.stdout + on_ray.stderr
    local = run_cli([*args, "--index", str(tmp_path / "local"), "--skip-bad"], cwd=tmp_path)
    assert local.returncode == 0, local.stdout + local.stderr
    for out in (on_ray.stdout, local.stdout):
        assert "4 document(s) from 4 file(s)" in out and "empty.md" in out
    assert_same_shards(tmp_path / "ray", tmp_path / "local")
    again = run_cli(
        [*args, "--index", str(tmp_path / "ray"), "--engine", "ray", "--skip-bad", "--if-stale"],
        cwd=tmp_path,
        timeout=600,
    )
    assert again.returncode == 0 and "is up to date" in again.stdout + again.stderr, again.stderr


def test_ray_data_refuses_a_doc_id_in_two_files(tmp_path: Path) -> None:
    corpus = tmp_path / "docs"
    corpus.mkdir()
    for name in ("a", "b"):
        (corpus / f"{name}.txt").write_text(f"Document {name} about milia.\n", encoding="utf-8")
        (corpus / f"{name}.json").write_text(json.dumps({"doc_id": "same"}), encoding="utf-8")
    result = run_cli(
        ["index", "--corpus", str(corpus), "--index", str(tmp_path / "ray"), "--engine", "ray"],
        cwd=tmp_path,
        timeout=600,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    message = " ".join(result.stderr.split())
    assert "b.txt: field 'doc_id' duplicates 'same' of" in message and "a.txt" in message


@pytest.fixture(scope="module")
def ray_service(built: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`citeqa serve --engine ray` with 2 replicas per shard on a local cluster, stopped at the end."""
    import shutil

    folder = tmp_path_factory.mktemp("served") / "index"
    shutil.copytree(built[0], folder)
    port = free_port()
    log = (folder.parent / "serve.log").open("w")
    process = subprocess.Popen(
        [
            str(CITEQA_BIN),
            "serve",
            "--engine",
            "ray",
            "--replicas",
            "2",
            "--index",
            str(folder),
            "--port",
            str(port),
        ],
        env={**cli_env(), "CITEQA_API_KEYS": KEY},
        cwd=folder.parent,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    SERVE_LOGS[url] = folder.parent / "serve.log"
    try:
        deadline = time.monotonic() + 600
        while True:
            assert process.poll() is None, (folder.parent / "serve.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "Ray Serve did not become ready in 600 s"
            try:
                if httpx.get(f"{url}/ready", timeout=5, trust_env=False).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(1)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        log.close()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/health", timeout=2, trust_env=False)


def test_ray_serve_answers_as_the_sharded_index_in_one_process(
    ray_service: str, built: tuple[Path, Path]
) -> None:
    with (
        TestClient(create_app(Settings(index_path=built[0]))) as local,
        httpx.Client(base_url=ray_service, timeout=60, trust_env=False) as http,
    ):
        for question in QUESTIONS:
            for mode in ("dense", "bm25", "hybrid"):
                expected = local.get("/search", params={"q": question, "k": 5, "mode": mode}).json()
                served = http.get("/search", params={"q": question, "k": 5, "mode": mode})
                assert served.status_code == 200, served.text
                body = served.json()
                assert [r["citation"] for r in body["results"]] == [
                    r["citation"] for r in expected["results"]
                ]
                assert [r["score"] for r in body["results"]] == pytest.approx(
                    [r["score"] for r in expected["results"]]
                )
                assert body["answer"] == expected["answer"]
        bad = http.post("/query", json={"question": ""})
        assert bad.status_code == 422 and bad.json()["error"]


def test_writes_through_the_ingress_reach_their_shard(ray_service: str) -> None:
    document = {
        "doc_id": "bread-rye",
        "title": "Rye bread",
        "text": "A rye loaf needs a bake of at least 70 minutes.",
    }
    with httpx.Client(base_url=ray_service, timeout=120, trust_env=False) as http:
        refused = http.post("/documents", json={"documents": [document]})
        assert refused.status_code in (401, 403)
        written = http.post(
            "/documents", json={"documents": [document]}, headers={"Authorization": f"Bearer {KEY}"}
        )
        assert written.status_code == 200, written.text
        version = written.json()["index_version"]
        body = http.get(
            "/search", params={"q": "how long to bake rye", "k": 1, "min_version": version}
        ).json()
        assert body["results"][0]["citation"]["doc_id"] == "bread-rye"
        assert http.get("/documents/bread-rye").json()["text"] == document["text"]


def cluster_address(url: str) -> str:
    """The Ray cluster of the service at ``url``, from the line `citeqa serve --engine ray` printed."""
    log = SERVE_LOGS[url].read_text()
    found = re.search(r"\(Ray cluster ([^)]+)\)", log)
    assert found, log[-2000:]
    return found.group(1)


KILL_ONE_REPLICA = """
import ray, sys
ray.init(address="auto", logging_level="ERROR")  # the token of a local cluster is found this way
gcs = ray.get_runtime_context().gcs_address
assert gcs == sys.argv[1], f"connected to the Ray cluster at {gcs}, not the service's at {sys.argv[1]}"
names = [a["name"] for a in ray.util.list_named_actors(all_namespaces=True)
         if a["name"].startswith("SERVE_REPLICA::citeqa#shard-000#")]
assert len(names) == 2, names
ray.kill(ray.get_actor(names[0], namespace="serve"), no_restart=True)
print(names[0])
"""


def test_killing_a_replica_loses_no_request(ray_service: str) -> None:
    statuses: list[int] = []
    stop = threading.Event()

    def ask() -> None:
        with httpx.Client(base_url=ray_service, timeout=120, trust_env=False) as http:
            n = 0
            while not stop.is_set():
                n += 1
                statuses.append(
                    http.get("/search", params={"q": f"what causes milia {n}", "k": 3}).status_code
                )

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(2)
        killed = subprocess.run(
            [sys.executable, "-c", KILL_ONE_REPLICA, cluster_address(ray_service)],
            env=cli_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert killed.returncode == 0, killed.stderr[-2000:]
        before = len(statuses)
        time.sleep(5)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=120)
    assert len(statuses) > before  # requests kept coming after the kill
    assert set(statuses) == {200}, {s: statuses.count(s) for s in set(statuses)}
