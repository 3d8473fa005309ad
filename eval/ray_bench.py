"""The sharded index and Ray benchmark (issue 15), side by side on one real corpus:

    python -m eval.ray_bench [--dataset ../shared/benchmarks/medquad-dev] [--documents 1000] [--shards 3]
                             [--out var/bench/ray] [--skip-ray-serve]

1. build throughput: the same documents built into ``--shards`` shards in this process
   (``build_sharded_index``, the encoder with all cores) and on a local Ray cluster (``build_on_ray``: Ray
   Data, an embedding actor per CPU), neither with an embedding cache; Ray's time includes starting the
   cluster and loading the model in every actor, as a user waits for it;
2. query fan-out in one process: the corpus's questions (hybrid, top 10) against the same documents in
   1, 2, 3 and 4 shards (in-process shard clients, citeqa.sharded.local) and in one unsharded folder,
   p50 / p99 and CPU time, with the ranking checked equal to the unsharded one; every configuration
   answers every question once before it is timed (the sentence vectors of the results are then cached,
   as the service reads them from the index), and the second pass is timed;
3. over HTTP on Ray Serve (``citeqa serve --engine ray``, one replica per shard): the same questions,
   one at a time, p50 / p99.

Writes OUT/report.md and OUT/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from eval.beir import load_beir_dataset
from eval.bench import load_average, machine_info, machine_markdown

DEFAULT_DATASET = Path("../shared/benchmarks/medquad-dev")


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def first_lines(corpus: Path, count: int, out: Path) -> Path:
    """The first ``count`` documents of a corpus.jsonl, as a corpus.jsonl of their own at ``out``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with corpus.open("rb") as source, out.open("wb") as target:
        target.writelines(line for _, line in zip(range(count), source, strict=False))
    return out


def build_side_by_side(corpus: Path, shards: int, root: Path) -> dict[str, Any]:
    """The corpus.jsonl ``corpus`` built into ``shards`` shards in this process (read by the driver) and on
    a local Ray cluster (read by Ray Data)."""
    from corpus.beir import load_beir_corpus
    from indexer.embedding import SentenceTransformerEncoder
    from indexer.embedding_cache import EmbeddingCache
    from indexer.ray_build import build_on_ray, start_ray
    from indexer.ray_corpus import scan_corpus
    from indexer.shards import build_sharded_index

    encoder = SentenceTransformerEncoder()
    started = time.perf_counter()
    documents = load_beir_corpus(corpus)
    # The local build fills a cache the other shard counts of part 2 reuse (it is empty at the start).
    cache = EmbeddingCache(root / "cache")
    reports = build_sharded_index(documents, encoder, root / f"local-{shards}", shards, cache=cache)
    local_seconds = time.perf_counter() - started
    passages = sum(r.passages for r in reports)
    load_before = load_average()
    ray_started = time.perf_counter()
    start_ray(None)
    scan = scan_corpus(corpus, shards)
    ray = build_on_ray(scan, encoder.name, encoder.dimension, root / f"ray-{shards}")
    ray_seconds = time.perf_counter() - ray_started  # with Ray's start and the first pass over the corpus
    import ray as ray_module

    ray_module.shutdown()
    return {
        "documents": len(documents),
        "passages": passages,
        "local_seconds": local_seconds,
        "local_passages_per_second": passages / local_seconds,
        "ray_seconds": ray_seconds,
        "ray_passages_per_second": passages / ray_seconds,
        "ray_embedders": ray.embedders,
        "ray_over_local": local_seconds / ray_seconds,
        "load_average_before_ray": load_before,
    }


def fan_out(documents: list[Any], queries: list[str], root: Path, shards: int) -> list[dict[str, Any]]:
    from citeqa.answers import Answerer
    from citeqa.search import Searcher
    from indexer.build import build_index
    from indexer.embedding import SentenceTransformerEncoder
    from indexer.embedding_cache import EmbeddingCache
    from indexer.load import load_index
    from indexer.shards import build_sharded_index
    from service.settings import Settings
    from service.wiring import build_encoder, build_sharded, sharded_answerer_factory

    encoder = SentenceTransformerEncoder()
    cache = EmbeddingCache(root / "cache")
    build_index(documents, encoder, root / "single", cache=cache)
    encoder = build_encoder(Settings())  # questions as the service encodes them (and FAISS as it searches)
    rows = []
    live, base = build_sharded(Settings(index_path=root / f"local-{shards}"), encoder)
    single = Answerer(
        Searcher(load_index(root / "single"), encoder, base.searcher.fusion),
        base.calibration,
        base.dedup,
        answer_model=base.answer_model,
    )
    live.close()
    reference = {
        q: [(r.citation.doc_id, r.citation.start) for r in single.respond(q, 10).results] for q in queries
    }
    rows.append(timed("unsharded folder", single, queries, reference))
    for count in range(1, 5):
        folder = root / f"local-{count}"
        if not folder.exists():
            build_sharded_index(documents, encoder, folder, count, cache=cache)
        live, base = build_sharded(Settings(index_path=folder), encoder)
        answerer = sharded_answerer_factory(live, base)(live.current)
        rows.append(
            timed(f"{count} shard{'s' if count > 1 else ''}, in process", answerer, queries, reference)
        )
        live.close()
    return rows


def timed(label: str, answerer: Any, queries: list[str], reference: dict[str, list[Any]]) -> dict[str, Any]:
    # A first pass warms the sentence vectors of every result (the service reads them from the index or
    # its cache; only the fan-out and the answer layer are timed), as the reference pass did.
    for question in queries:
        answerer.respond(question, 10)
    times, cpu, same = [], [], 0
    for question in queries:
        started, began = time.perf_counter(), time.process_time()
        response = answerer.respond(question, 10)
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - began) * 1000)
        same += [(r.citation.doc_id, r.citation.start) for r in response.results] == reference[question]
    return {
        "label": label,
        "p50_ms": percentile(times, 50),
        "p99_ms": percentile(times, 99),
        "cpu_p50_ms": percentile(cpu, 50),
        "same_ranking": same / len(queries),
        "load_average": load_average(),
    }


def over_ray_serve(folder: Path, queries: list[str], port: int = 8799) -> dict[str, Any]:
    import httpx

    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("CITEQA_API_KEYS", None)
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "citeqa"),
            "serve",
            "--engine",
            "ray",
            "--index",
            str(folder),
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError("citeqa serve --engine ray stopped before it was ready")
            try:
                if httpx.get(f"{url}/ready", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(1)
        ready_seconds = time.perf_counter() - started
        times = []
        with httpx.Client(base_url=url, timeout=60) as http:
            for question in queries:  # warm, as part 2
                http.get("/search", params={"q": question, "k": 10})
            for question in queries:
                began = time.perf_counter()
                assert http.get("/search", params={"q": question, "k": 10}).status_code == 200
                times.append((time.perf_counter() - began) * 1000)
        return {
            "ready_seconds": ready_seconds,
            "p50_ms": percentile(times, 50),
            "p99_ms": percentile(times, 99),
            "load_average": load_average(),
        }
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def report(results: dict[str, Any]) -> str:
    build = results["build"]
    lines = [
        "# citeqa sharded index and Ray benchmark",
        "",
        f"`{results['command']}` started {results['started']}.",
        "",
        machine_markdown(results["machine"]),
        "",
        f"Corpus: the first {build['documents']:,} documents of {results['dataset']} ({build['passages']:,} "
        f"passages), {results['shards']} shards; questions: {results['questions']} of its queries.",
        "",
        "## 1. Build, side by side (no embedding cache)",
        "",
        "| engine | seconds | passages/s |",
        "|---|---:|---:|",
        f"| local (this process) | {build['local_seconds']:.1f} | {build['local_passages_per_second']:.1f} |",
        f"| Ray Data, {build['ray_embedders']} embedding actors (incl. cluster start) "
        f"| {build['ray_seconds']:.1f} | {build['ray_passages_per_second']:.1f} |",
        "",
        f"Ray / local throughput: **{build['ray_over_local']:.2f}** (target >= 0.8). "
        f"Load average before the Ray build: {build['load_average_before_ray']}.",
        "",
        "## 2. Query fan-out in one process (hybrid, top 10, one question at a time)",
        "",
        "CPU time is the process's (all its threads) per question: on a shared machine it varies less than",
        "wall time.",
        "",
        "| index | p50 ms | p99 ms | CPU p50 ms | ranking equal to the unsharded folder | load average |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for row in results["fan_out"]:
        lines.append(
            f"| {row['label']} | {row['p50_ms']:.1f} | {row['p99_ms']:.1f} | {row['cpu_p50_ms']:.1f} "
            f"| {row['same_ranking']:.2f} | {row['load_average']} |"
        )
    serve = results.get("ray_serve")
    if serve:
        lines += [
            "",
            f"## 3. Over HTTP on Ray Serve ({results['shards']} shards, 1 replica each, GET /search k=10)",
            "",
            f"Ready after {serve['ready_seconds']:.0f} s (cluster start, deployments, model load in the "
            f"ingress). p50 **{serve['p50_ms']:.1f} ms**, p99 {serve['p99_ms']:.1f} ms "
            f"(load average {serve['load_average']}).",
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--shards", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("var/bench/ray"))
    parser.add_argument("--skip-ray-serve", action="store_true")
    parser.add_argument(
        "--skip-build",
        action="store_true",
        help="reuse OUT/work and OUT/results.json's part 1 (parts 2-3 again)",
    )
    parser.add_argument("--keep-work", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    dataset = load_beir_dataset(args.dataset)
    documents = dataset.corpus[: args.documents]
    kept = {d.doc_id for d in documents}
    queries = [
        q.text for qid, q in dataset.queries.items() if any(doc in kept for doc in dataset.qrels.get(qid, {}))
    ][: args.questions]
    root = args.out / "work"
    if not (args.keep_work or args.skip_build):
        shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "command": "python -m eval.ray_bench " + " ".join(argv if argv is not None else sys.argv[1:]),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine_info(),
        "dataset": str(args.dataset),
        "shards": args.shards,
        "questions": len(queries),
    }
    if args.skip_build:
        results["build"] = json.loads((args.out / "results.json").read_text())["build"]
    else:
        corpus = first_lines(args.dataset / "corpus.jsonl", args.documents, root / "corpus" / "corpus.jsonl")
        results["build"] = build_side_by_side(corpus, args.shards, root)
    print(json.dumps(results["build"]), flush=True)
    results["fan_out"] = fan_out(documents, queries, root, args.shards)
    print(json.dumps(results["fan_out"]), flush=True)
    if not args.skip_ray_serve:
        results["ray_serve"] = over_ray_serve(root / f"ray-{args.shards}", queries)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2, default=str))
    (args.out / "report.md").write_text(report(results))
    print(report(results))
    print(f"median of fan-out p50s: {statistics.median(r['p50_ms'] for r in results['fan_out']):.1f} ms")


if __name__ == "__main__":
    main()
