"""Run by the txtai virtual environment's python (not the project's): index passages with txtai and time
dense and hybrid queries. Standard library + txtai only, so it runs without citeqa installed.

    var/txtai-venv/bin/python eval/txtai_probe.py INPUT.json OUTPUT.json

INPUT: {"model": local model path, "warmup": int, "corpora": [{"name", "passages": [[id, text], ...],
"timed": [question, ...], "ranked": [question, ...]}]}. OUTPUT: per corpus and mode ("dense", "hybrid" =
txtai's hybrid: True, its BM25 scoring fused with the dense scores), the query milliseconds of the
"timed" questions and the top-10 passage ids of the "ranked" questions (scored by the caller). With
"http": true, also "hybrid_http": the same hybrid index saved and served by txtai's own API (`uvicorn
txtai.api:app`, CONFIG naming the saved index, on 127.0.0.1), the "timed" questions sent as GET /search over
one kept-alive connection (as the caller times citeqa's POST /query); the server is stopped afterwards.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from importlib import metadata
from pathlib import Path


def probe(model: str, corpus: dict, warmup: int, http: bool = False) -> dict:
    from txtai import Embeddings

    out = {}
    for mode, hybrid in (("dense", False), ("hybrid", True)):
        embeddings = Embeddings(path=model, content=False, hybrid=hybrid)
        started = time.perf_counter()
        embeddings.index([(int(pid), text, None) for pid, text in corpus["passages"]])
        index_seconds = time.perf_counter() - started
        for question in corpus["timed"][:warmup]:
            embeddings.search(question, 10)
        samples = []
        for question in corpus["timed"]:
            started = time.perf_counter()
            embeddings.search(question, 10)
            samples.append((time.perf_counter() - started) * 1000)
        ranked = [[int(pid) for pid, _ in embeddings.search(q, 10)] for q in corpus["ranked"]]
        out[mode] = {"samples_ms": samples, "ranked": ranked, "index_seconds": index_seconds}
        if hybrid and http and corpus["timed"]:
            out["hybrid_http"] = {"samples_ms": time_over_http(embeddings, corpus["timed"], warmup)}
    return out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def time_over_http(embeddings, questions: list, warmup: int) -> list:
    """Milliseconds per GET /search of txtai's API serving ``embeddings`` (saved to a temporary folder)."""
    with tempfile.TemporaryDirectory(prefix="txtai-api-") as tmp:
        folder = Path(tmp) / "index"
        embeddings.save(str(folder))
        config = Path(tmp) / "config.yml"
        # "embeddings" turns the search routes on; the index itself (model, hybrid) is loaded from ``path``.
        config.write_text(f"path: {folder}\nembeddings:\n  hybrid: true\n", encoding="utf-8")
        port = free_port()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "txtai.api:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            env={**os.environ, "CONFIG": str(config)},
        )
        try:
            connection = wait_for(port, server)
            for question in questions[:warmup]:
                get(connection, question)
            samples = []
            for question in questions:
                started = time.perf_counter()
                get(connection, question + " ?")  # worded as citeqa's HTTP questions are
                samples.append((time.perf_counter() - started) * 1000)
            connection.close()
            return samples
        finally:
            server.terminate()
            server.wait(timeout=30)


def get(connection: http.client.HTTPConnection, question: str) -> list:
    connection.request("GET", "/search?" + urllib.parse.urlencode({"query": question, "limit": 10}))
    response = connection.getresponse()
    body = response.read()
    if response.status != 200:
        raise RuntimeError(f"txtai API answered {response.status}: {body[:200]!r}")
    return json.loads(body)


def wait_for(port: int, server: subprocess.Popen, timeout: float = 300.0) -> http.client.HTTPConnection:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"txtai API exited with {server.returncode}")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            get(connection, "warm-up")
            return connection
        except (OSError, http.client.HTTPException):
            connection.close()
            time.sleep(0.5)
    raise RuntimeError("txtai API did not answer in time")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="eval/txtai_probe.py",
        description="Run by eval.query_bench in the txtai virtual environment: index passages with txtai "
        "and time its queries (see this file's docstring for INPUT and OUTPUT).",
    )
    parser.add_argument("source", metavar="INPUT", help="the request JSON that eval.query_bench writes")
    parser.add_argument("target", metavar="OUTPUT", help="where the timings and rankings are written")
    args = parser.parse_args(argv)
    source, target = args.source, args.target
    with open(source, encoding="utf-8") as f:
        request = json.load(f)
    result = {
        "txtai": metadata.version("txtai"),
        "torch": metadata.version("torch"),
        "corpora": {
            c["name"]: probe(request["model"], c, request["warmup"], request.get("http", False))
            for c in request["corpora"]
        },
    }
    with open(target, "w", encoding="utf-8") as f:
        json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
