"""Durability for real: `citeqa serve` as a subprocess on a free loopback port, a stream of writes, SIGKILL
at a random moment, restart; every acknowledged document must be there, whole, and found by a query.
Then an index file is corrupted: the service refuses to start with a clear message, and
`citeqa rebuild` rebuilds the index from the stored documents.

Bounded: ROUNDS kill points (the numbers of kill points and writes are printed). Every write is a commit
and merges are frequent (CITEQA_MERGE_SEGMENTS_PER_TIER=2: a background merge after every other write), so
kills land inside commits and inside merges.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import httpx
from support import CITEQA_BIN, cli_env, one_line, run_cli

from indexer.load import load_index

KEY = "durability-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
ROUNDS = int(os.environ.get("CITEQA_KILL_ROUNDS", "8"))  # each restart loads the model (5-15 s)
SEED = 20261124
START_TIMEOUT = 120.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`citeqa serve` in a subprocess; ``kill`` sends SIGKILL (no shutdown: a merge under way is cut)."""

    def __init__(self, index: Path, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**cli_env(), "CITEQA_API_KEYS": KEY, "CITEQA_MERGE_SEGMENTS_PER_TIER": "2"}
        self.log = log.open("ab")
        self.process = subprocess.Popen(
            [str(CITEQA_BIN), "serve", "--index", str(index), "--port", str(self.port)],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"citeqa serve exited with {self.process.returncode}"
            try:
                if httpx.get(f"{self.url}/ready", timeout=2, trust_env=False).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError("citeqa serve did not become ready")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self.log.close()


class WriteStream:
    """Puts documents (new ones, and new versions of earlier ones) until stopped; records what was sent
    and what was acknowledged."""

    def __init__(self, url: str, round_number: int, rng: random.Random) -> None:
        self.url = url
        self.round = round_number
        self.rng = rng
        self.sent: dict[str, list[str]] = {}
        self.acknowledged: dict[str, str] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        with httpx.Client(base_url=self.url, headers=AUTH, timeout=30, trust_env=False) as client:
            n = 0
            while not self.stop.is_set():
                n += 1
                if self.acknowledged and self.rng.random() < 0.3:
                    doc_id = self.rng.choice(sorted(self.acknowledged))
                else:
                    doc_id = f"r{self.round}-d{n}"
                text = f"Kill round {self.round} write {n} for {doc_id}. " + " ".join(
                    f"marker{self.round}x{n}w{i}" for i in range(self.rng.randint(5, 200))
                )
                self.sent.setdefault(doc_id, []).append(text)
                try:
                    response = client.put(f"/documents/{doc_id}", json={"title": doc_id, "text": text})
                except httpx.TransportError:
                    return  # the server died: this write was not acknowledged
                assert response.status_code == 200, response.text
                self.acknowledged[doc_id] = text


def test_acknowledged_writes_survive_sigkill(index_copy: Path, tmp_path: Path) -> None:
    rng = random.Random(SEED)
    log = tmp_path / "serve.log"
    sent: dict[str, list[str]] = {}
    acknowledged: dict[str, str] = {}
    writes = kills = 0
    for round_number in range(ROUNDS):
        server = Server(index_copy, log)
        try:
            server.wait_ready()
            check_state(server.url, sent, acknowledged)
            stream = WriteStream(server.url, round_number, rng)
            stream.thread.start()
            time.sleep(rng.uniform(0.3, 3.0))
        finally:
            server.kill()
        kills += 1
        stream.thread.join(timeout=30)
        for doc_id, texts in stream.sent.items():
            sent.setdefault(doc_id, []).extend(texts)
        acknowledged.update(stream.acknowledged)
        writes += sum(len(t) for t in stream.sent.values())
    server = Server(index_copy, log)
    try:
        server.wait_ready()
        check_state(server.url, sent, acknowledged)
    finally:
        server.kill()
    print(
        f"\ndurability: {kills} SIGKILL points, {writes} writes sent, "
        f"{len(acknowledged)} documents acknowledged"
    )
    assert kills == ROUNDS and len(acknowledged) >= ROUNDS


def check_state(url: str, sent: dict[str, list[str]], acknowledged: dict[str, str]) -> None:
    """Every acknowledged document is there with its acknowledged text or a later sent one (a write whose
    answer the kill cut off may be durable); no document has text that was never sent whole."""
    with httpx.Client(base_url=url, timeout=30, trust_env=False) as client:
        listed = {d["doc_id"] for d in client.get("/documents").json()["documents"]}
        assert set(acknowledged) <= listed
        for doc_id in listed & set(sent):
            text = client.get(f"/documents/{doc_id}").json()["text"]
            assert text in sent[doc_id], f"{doc_id} has text that was never sent whole"
            if doc_id in acknowledged:
                later = sent[doc_id][sent[doc_id].index(acknowledged[doc_id]) :]
                assert text in later, f"{doc_id} lost its acknowledged text"
        for doc_id in sorted(acknowledged):
            body = {"question": f"kill round write {doc_id}", "top_k": 1, "filters": {"doc_id": [doc_id]}}
            results = client.post("/query", json=body).json()["results"]
            assert [r["citation"]["doc_id"] for r in results] == [doc_id]


def test_corrupt_index_is_refused_then_rebuilt_from_stored_documents(
    index_copy: Path, tmp_path: Path
) -> None:
    documents = sorted(load_index(index_copy).documents)
    shard = next((index_copy / "segments").glob("*/dense.faiss"))
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])

    refused = run_cli(["serve", "--index", str(index_copy), "--port", str(free_port())], cwd=tmp_path)
    assert refused.returncode != 0
    message = one_line(refused.stderr)
    assert "does not match its checksum" in message and "citeqa rebuild" in message
    assert "Traceback" not in refused.stderr + refused.stdout

    rebuilt = run_cli(["rebuild", "--index", str(index_copy)], cwd=tmp_path)
    assert rebuilt.returncode == 0, rebuilt.stderr
    server = Server(index_copy, tmp_path / "serve.log")
    try:
        server.wait_ready()
        listed = httpx.get(f"{server.url}/documents", trust_env=False).json()["documents"]
        assert sorted(d["doc_id"] for d in listed) == documents
        answer = httpx.post(f"{server.url}/query", json={"question": "milia"}, trust_env=False).json()
        assert answer["results"] and answer["index_version"] >= 2
    finally:
        server.kill()


def test_damaged_stored_documents_are_named_plainly(index_copy: Path, tmp_path: Path) -> None:
    stored = next((index_copy / "segments").glob("*/documents.arrow"))
    stored.write_bytes(stored.read_bytes()[:-40])
    result = run_cli(["rebuild", "--index", str(index_copy)], cwd=tmp_path)
    assert result.returncode != 0
    assert "stored documents" in one_line(result.stderr)
    assert "Traceback" not in result.stderr
