"""The scale benchmark: each FAISS index type at 10k, 100k and 1M passages.

    python -m eval.scale_bench [--sizes 10000,100000,1000000] [--out var/bench/scale] [--smoke]

For each size and index type: build seconds (training, adding, and tuning efSearch / nprobe to recall@10 >=
0.95), recall@10 against exact search on held-out queries, single-query search p50/p99 (k=10), index bytes per
passage, and, in a fresh process each, load seconds and RSS with and without memory-mapping.

Vectors, said plainly:
- up to REAL_MAX passages (10k), the real encoder on synthetic passages (eval.synthetic), queried with the
  encoded synthetic questions;
- above it, random vectors shaped like those embeddings (``embedding_like_vectors``: a real embedding plus
  Gaussian noise with the real embeddings' covariance, normalized), because embedding 100k passages takes
  about an hour on this machine. Isotropic random unit vectors would be the wrong test: in 384 dimensions
  every point is almost equally far from every other, so no index finds neighbours better than a scan;
- in a smoke run, the same construction from a small random base, and no model at all.

Writes report.md (Markdown table), results.json and latency.png (p50 latency vs corpus size per type).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from matplotlib.figure import Figure

from indexer.faiss_factory import (
    FLAT_MAX_VECTORS,
    IndexSpec,
    build_typed,
    choose_index_spec,
    prepare_loaded,
    recall_at_k,
    tune_search_parameter,
)

DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
SMOKE_SIZES = (2_000, 5_000)
DEFAULT_OUT = Path("var/bench/scale")
REAL_MAX = 10_000
NOISE_SCALE = 0.5
K = 10
SEARCH_THREADS = 1
TYPE_STYLES = {
    "flat": {"color": "#1b6ca8", "marker": "o"},
    "hnsw": {"color": "#e07b00", "marker": "s"},
    "ivf": {"color": "#3a9d23", "marker": "^"},
}


@dataclass(frozen=True)
class ScaleConfig:
    queries: int
    warmup: int
    dimension: int


FULL = ScaleConfig(queries=200, warmup=10, dimension=384)
SMOKE = ScaleConfig(queries=20, warmup=2, dimension=32)


@dataclass(frozen=True)
class LoadProbe:
    mmap: bool
    seconds: float
    rss_delta_mb: float
    rss_after_search_mb: float


@dataclass(frozen=True)
class TypeResult:
    passages: int
    vectors: str
    kind: str
    spec: dict[str, Any]
    build_seconds: float
    tuned_recall_at_10: float
    recall_at_10: float
    p50_ms: float
    p99_ms: float
    index_bytes_per_passage: float
    loads: tuple[LoadProbe, ...]


def log(message: str) -> None:
    print(f"[scale_bench] {message}", file=sys.stderr, flush=True)


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.where(norms > 0, norms, 1)).astype(np.float32)


def embedding_like_vectors(base: np.ndarray, n: int, seed: int, chunk: int = 100_000) -> np.ndarray:
    """``n`` unit vectors, each a random row of ``base`` plus NOISE_SCALE x Gaussian noise with the
    covariance of ``base``: the spread and anisotropy of real embeddings, at any size."""
    rng = np.random.default_rng(seed)
    centred = base - base.mean(axis=0)
    covariance = centred.T @ centred / max(len(base) - 1, 1)
    eigenvalues, eigenvectors = np.linalg.eigh(covariance.astype(np.float64))
    shape = (eigenvectors * np.sqrt(np.clip(eigenvalues, 0, None))).astype(np.float32)
    out = np.empty((n, base.shape[1]), dtype=np.float32)
    for first in range(0, n, chunk):
        rows = min(chunk, n - first)
        noise = rng.standard_normal((rows, base.shape[1]), dtype=np.float32) @ shape.T
        out[first : first + rows] = unit_rows(base[rng.integers(0, len(base), rows)] + NOISE_SCALE * noise)
    return out


def random_base(n: int, dimension: int, seed: int) -> np.ndarray:
    """A small clustered base for smoke runs (no model)."""
    rng = np.random.default_rng(seed)
    centres = unit_rows(rng.standard_normal((max(n // 50, 2), dimension)))
    noise = rng.standard_normal((n, dimension)) * (0.4 / np.sqrt(dimension))
    return unit_rows(centres[rng.integers(0, len(centres), n)] + noise)


def real_vectors(n: int, n_queries: int, cache: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The real encoder's vectors of n synthetic passages and of synthetic questions (kept in ``cache``
    as .npy, so a second run at other sizes does not encode them again)."""
    files = [cache / f"real-{n}-{what}.npy" for what in ("passages", f"queries-{n_queries}")] if cache else []
    if files and all(f.is_file() for f in files):
        return np.load(files[0]), np.load(files[1])
    from eval.bench import load_encoder
    from eval.synthetic import synthetic_documents, synthetic_questions
    from indexer.build import IndexSettings, embedding_text
    from indexer.chunking import chunk_corpus
    from indexer.embedding import DEFAULT_MODEL, embed_batches

    encoder = load_encoder(DEFAULT_MODEL)
    settings = IndexSettings()
    documents = synthetic_documents(int(n * 1.05) + 10)
    titles = {d.doc_id: d.title for d in documents}
    passages = list(chunk_corpus(documents, settings.chunker))[:n]
    texts = [embedding_text(p, titles[p.doc_id], settings.embed_title) for p in passages]
    started = time.perf_counter()
    vectors = embed_batches(encoder, texts, settings.batch_size)
    log(f"encoded {len(texts)} synthetic passages in {time.perf_counter() - started:.0f} s")
    queries = embed_batches(encoder, synthetic_questions(documents, n_queries, seed=1), settings.batch_size)
    if files:
        files[0].parent.mkdir(parents=True, exist_ok=True)
        np.save(files[0], vectors)
        np.save(files[1], queries)
    return vectors, queries


ALL_TYPES = ("flat", "hnsw", "ivf")


def time_single_queries(index: faiss.Index, queries: np.ndarray, warmup: int, threads: int) -> list[float]:
    """Milliseconds per single-query search with ``threads`` OpenMP threads (restored afterwards).

    One thread is what a server answering one query per request wants: on a busy machine, OpenMP's
    barrier across 2 threads turned a 0.4 ms flat search of 10k vectors into 60 ms (measured here)."""
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(threads)
    try:
        for row in queries[:warmup]:
            index.search(row[None, :], K)
        samples = []
        for row in queries:
            started = time.perf_counter()
            index.search(row[None, :], K)
            samples.append((time.perf_counter() - started) * 1000)
    finally:
        faiss.omp_set_num_threads(before)
    return samples


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def probe_load(path: str, spec_view: dict[str, Any], mmap: bool, queries: np.ndarray) -> dict[str, float]:
    """In a fresh process: seconds and RSS growth to load ``path``, and RSS after searching ``queries``."""
    before = rss_mb()
    started = time.perf_counter()
    flags = faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY if mmap else 0
    index = faiss.read_index(path, flags)
    prepare_loaded(index, IndexSpec(**spec_view))
    seconds = time.perf_counter() - started
    loaded = rss_mb()
    index.search(queries, K)
    return {"seconds": seconds, "rss_delta_mb": loaded - before, "rss_after_search_mb": rss_mb() - before}


def load_probes(path: Path, spec: IndexSpec, queries: np.ndarray) -> tuple[LoadProbe, ...]:
    probes = []
    context = multiprocessing.get_context("spawn")
    for mmap in (False, True):
        with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
            result = pool.submit(probe_load, str(path), spec.manifest_view(), mmap, queries).result()
        probes.append(LoadProbe(mmap=mmap, **result))
    return tuple(probes)


def bench_type(
    kind: str,
    vectors: np.ndarray,
    queries: np.ndarray,
    expected: np.ndarray,
    label: str,
    config: ScaleConfig,
    work: Path,
) -> TypeResult:
    n = len(vectors)
    spec = choose_index_spec(n, vectors.shape[1], kind)
    started = time.perf_counter()
    index = build_typed(vectors, spec)
    spec, tuned = tune_search_parameter(index, vectors, spec)
    build_seconds = time.perf_counter() - started
    _, found = index.search(queries, K)
    samples = time_single_queries(index, queries, config.warmup, SEARCH_THREADS)
    path = work / f"{kind}-{n}.faiss"
    faiss.write_index(index, str(path))
    size = path.stat().st_size
    del index
    loads = load_probes(path, spec, queries)
    path.unlink()
    result = TypeResult(
        passages=n,
        vectors=label,
        kind=kind,
        spec=spec.manifest_view(),
        build_seconds=build_seconds,
        tuned_recall_at_10=tuned,
        recall_at_10=recall_at_k(expected, found),
        p50_ms=float(np.percentile(samples, 50)),
        p99_ms=float(np.percentile(samples, 99)),
        index_bytes_per_passage=size / n,
        loads=loads,
    )
    log(
        f"{n} {kind}: build {build_seconds:.1f} s, recall@10 {result.recall_at_10:.3f}, "
        f"p50 {result.p50_ms:.2f} ms"
    )
    return result


def load_base(path: Path) -> np.ndarray:
    """Real embeddings: an .npy file, or every *.vectors.npy of an embedding cache folder (name order)."""
    files = [path] if path.is_file() else sorted(path.rglob("*.vectors.npy"))
    if not files:
        raise SystemExit(f"no embeddings (.npy) at {path}")
    return unit_rows(np.concatenate([np.load(f) for f in files]))


def vectors_for(
    n: int, config: ScaleConfig, smoke: bool, base: dict[str, np.ndarray], cache: Path
) -> tuple[np.ndarray, np.ndarray, str]:
    """(passage vectors, query vectors, label) for size ``n``; ``base`` keeps the real vectors for reuse.

    With ``base["given"]`` (real embeddings from --base), sizes up to its length take its rows (queries:
    held-out embedding-like draws), and larger sizes are embedding-like vectors made from it."""
    if "given" in base:
        given = base["given"]
        queries = embedding_like_vectors(given, config.queries, seed=n + 1)
        if n <= len(given):
            return given[:n], queries, f"real encoder (cached embeddings, {n} of {len(given)})"
        data = embedding_like_vectors(given, n, seed=n)
        return data, queries, f"random, embedding-like (from {len(given)} real)"
    if smoke:
        if "vectors" not in base:
            base["vectors"] = random_base(1000, config.dimension, seed=0)
        data = embedding_like_vectors(base["vectors"], n + config.queries, seed=n)
        return data[:n], data[n:], "random, clustered (smoke)"
    if n <= REAL_MAX:
        vectors, queries = real_vectors(n, config.queries, cache)
        base["vectors"], base["queries"] = vectors, queries
        return vectors, queries, "real encoder, synthetic passages"
    if "vectors" not in base:
        base["vectors"], base["queries"] = real_vectors(REAL_MAX, config.queries, cache)
    data = embedding_like_vectors(base["vectors"], n + config.queries, seed=n)
    return data[:n], data[n:], f"random, embedding-like (from {len(base['vectors'])} real)"


def run_scale_bench(
    out: Path,
    sizes: Sequence[int] = DEFAULT_SIZES,
    smoke: bool = False,
    types: Sequence[str] = ALL_TYPES,
    base_path: Path | None = None,
) -> dict[str, Any]:
    """Run each index type at each size; write report.md, results.json, latency.png into ``out``.

    Flat is run at every size too: it is the exact reference, and its latency the reason for the others."""
    config = SMOKE if smoke else FULL
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    results: list[TypeResult] = []
    base: dict[str, np.ndarray] = {"given": load_base(base_path)} if base_path else {}
    payload: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        for n in sizes:
            vectors, queries, label = vectors_for(n, config, smoke, base, out / "cache")
            exact = faiss.IndexFlatIP(vectors.shape[1])
            exact.add(vectors)
            _, expected = exact.search(queries, K)
            del exact
            for kind in types:
                results.append(bench_type(kind, vectors, queries, expected, label, config, Path(tmp)))
                payload = write_outputs(out, results, sizes, types, config, smoke)  # rows kept if stopped
            del vectors
    return payload


def write_outputs(
    out: Path,
    results: Sequence[TypeResult],
    sizes: Sequence[int],
    types: Sequence[str],
    config: ScaleConfig,
    smoke: bool,
) -> dict[str, Any]:
    payload = {
        "smoke": smoke,
        "sizes": list(sizes),
        "types": list(types),
        "config": asdict(config),
        "machine": machine(),
        "flat_max_vectors": FLAT_MAX_VECTORS,
        "results": [asdict(r) for r in results],
    }
    (out / "results.json").write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    (out / "report.md").write_text(report_markdown(results, payload), encoding="utf-8")
    latency_plot(results, out / "latency.png")
    return payload


def machine() -> dict[str, Any]:
    from eval.bench import cpu_model, load_average, memory_gib

    return {
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "memory_gib": memory_gib(),
        "faiss": faiss.__version__,
        "faiss_threads": faiss.omp_get_max_threads(),
        "load_average_end": load_average(),
    }


def _params(spec: dict[str, Any]) -> str:
    if spec["kind"] == "hnsw":
        return f"M={spec['hnsw_m']} efC={spec['ef_construction']} efSearch={spec['search_parameter']}"
    if spec["kind"] == "ivf":
        return f"nlist={spec['nlist']} nprobe={spec['search_parameter']}"
    return "exact"


def report_markdown(results: Sequence[TypeResult], payload: dict[str, Any]) -> str:
    m = payload["machine"]
    lines = [
        "# citeqa scale benchmark",
        "",
        f"Machine: {m['cpu_model']}, {m['cpu_count']} CPUs, {m['memory_gib']} GiB, faiss {m['faiss']} "
        f"({m['faiss_threads']} threads to build, {SEARCH_THREADS} to search), load average at the end "
        f"{m['load_average_end']} (a shared machine: timings are contended). One query at a time, k=10, "
        f"{payload['config']['queries']} queries. Recall@10 against exact (IndexFlatIP) search on them.",
        "Build includes training (IVF) and tuning efSearch/nprobe to recall@10 >= 0.95 on queries made from "
        "the data. Load and RSS: a fresh process reads the index file (in memory) or maps it (mmap); RSS "
        "growth after loading and after one batch search.",
        "",
        "| passages | vectors | type | parameters | build s | recall@10 | p50 ms | p99 ms | bytes/passage "
        "| load s | load s (mmap) | RSS MB | RSS MB (mmap, after search) |",
        "|---:|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        read, mapped = r.loads
        lines.append(
            f"| {r.passages:,} | {r.vectors} | {r.kind} | {_params(r.spec)} | {r.build_seconds:.1f} "
            f"| {r.recall_at_10:.3f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.index_bytes_per_passage:,.0f} "
            f"| {read.seconds:.3f} | {mapped.seconds:.3f} | {read.rss_delta_mb:,.0f} "
            f"| {mapped.rss_delta_mb:,.0f} ({mapped.rss_after_search_mb:,.0f}) |"
        )
    lines += [
        "",
        f"`index_type=auto` picks flat up to {payload['flat_max_vectors']:,} vectors per shard, IVF above.",
        "",
        "![p50 latency vs corpus size](latency.png)",
        "",
    ]
    return "\n".join(lines)


def latency_plot(results: Sequence[TypeResult], path: Path) -> Path:
    from eval.plots import save

    figure = Figure(figsize=(7, 4.5))
    axes = figure.add_subplot()
    for kind, style in TYPE_STYLES.items():
        rows = sorted((r.passages, r.p50_ms, r.p99_ms) for r in results if r.kind == kind)
        if not rows:
            continue
        n, p50, p99 = (np.asarray(column) for column in zip(*rows, strict=True))
        axes.plot(n, p50, label=f"{kind} p50", linewidth=2, **style)
        axes.plot(n, p99, linestyle="--", alpha=0.6, label=f"{kind} p99", **style)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("corpus size (passages)", fontsize=11)
    axes.set_ylabel("single-query search latency, k=10 (ms)", fontsize=11)
    axes.set_title("FAISS search latency vs corpus size, per index type", fontsize=12)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=9)
    figure.tight_layout()
    return save(figure, path)


def parse_sizes(text: str) -> tuple[int, ...]:
    sizes = tuple(int(part) for part in text.split(",") if part.strip())
    if not sizes or min(sizes) < 100:
        raise argparse.ArgumentTypeError("sizes are comma-separated integers of at least 100")
    return sizes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.scale_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=parse_sizes, default=None, help="comma-separated corpus sizes")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="report folder")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, random vectors, no model")
    parser.add_argument(
        "--base", type=Path, default=None, help="real embeddings to use (.npy, or an embedding cache folder)"
    )
    parser.add_argument(
        "--types", default=",".join(ALL_TYPES), help="comma-separated index types (flat, hnsw, ivf)"
    )
    args = parser.parse_args(argv)
    sizes = args.sizes or (SMOKE_SIZES if args.smoke else DEFAULT_SIZES)
    types = tuple(t for t in args.types.split(",") if t)
    if not types or set(types) - set(ALL_TYPES):
        parser.error(f"--types takes a comma-separated list of {', '.join(ALL_TYPES)}")
    run_scale_bench(args.out, sizes, args.smoke, types, args.base)
    log(f"wrote {args.out / 'report.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
