"""Benchmark (not a test): index build throughput and query latency per mode, in process and over HTTP.

    python -m eval.bench [--synthetic-passages 10000] [--queries 200] [--modes hybrid,dense,bm25]
                         [--out var/bench] [--smoke]

For each corpus (the default corpus with the seed questions, then a generated one, see eval.synthetic):
build the index with one SentenceTransformerEncoder loaded once, time the bare encoding of the same
passages (the floor of a build), load the index, time Searcher.search per mode, then serve the same
searcher with uvicorn on 127.0.0.1 (a free port, in a thread of this process) and time POST /query per
mode with one keep-alive httpx client. Markdown goes to stdout and OUT/report.md, every number to
OUT/results.json, progress to stderr. The server is always stopped and the indexes are deleted.

The pieces (corpus specs, timers, the loopback server, the report) are separate functions so other
encoders, other engines, larger corpora and load tests can reuse them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from citeqa.fusion import FusionSettings
from citeqa.search import Searcher
from citeqa.types import SEARCH_MODES, SearchMode
from corpus import DEFAULT_CORPUS_DIR
from corpus.types import Document
from indexer.build import IndexSettings, build_index, embedding_text
from indexer.chunking import chunk_corpus
from indexer.embedding import DEFAULT_MODEL, Encoder, embed_batches
from indexer.load import LoadedIndex, load_index

HOST = "127.0.0.1"
SERVER_THREAD = "citeqa-bench-server"
SMOKE = {"synthetic_passages": 200, "queries": 10, "warmup": 2}
FULL = {"synthetic_passages": 10_000, "queries": 200, "warmup": 5}
VERSIONED = ("citeqa", "torch", "sentence-transformers", "faiss-cpu", "bm25s", "fastapi", "uvicorn", "httpx")
LOAD_KEYS = ("load_average_start", "load_average_end")
STARTED = time.perf_counter()


def log(message: str) -> None:
    print(f"[bench {time.perf_counter() - STARTED:7.1f}s] {message}", file=sys.stderr, flush=True)


# Configuration.


@dataclass(frozen=True)
class BenchConfig:
    out: Path
    modes: tuple[SearchMode, ...]
    synthetic_passages: int
    queries: int
    warmup: int
    top_k: int
    seed: int
    model: str
    corpus: Path
    keep_index: bool
    smoke: bool


def parse_modes(text: str) -> tuple[SearchMode, ...]:
    modes = tuple(m.strip() for m in text.split(",") if m.strip())
    unknown = [m for m in modes if m not in SEARCH_MODES]
    if not modes or unknown:
        raise argparse.ArgumentTypeError(
            f"modes must be a comma-separated subset of {','.join(SEARCH_MODES)}"
        )
    return modes  # type: ignore[return-value]


def parse_args(argv: Sequence[str] | None = None) -> BenchConfig:
    parser = argparse.ArgumentParser(prog="python -m eval.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--synthetic-passages", type=int, help="synthetic corpus size; 0 skips it")
    parser.add_argument("--queries", type=int, help="timed queries per mode (the question list is cycled)")
    parser.add_argument("--warmup", type=int, help="untimed queries before each timed series")
    parser.add_argument("--modes", type=parse_modes, default=SEARCH_MODES, help="comma-separated modes")
    parser.add_argument("--out", type=Path, default=Path("var/bench"), help="report folder")
    parser.add_argument("--top-k", type=int, default=5, help="passages per query")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic corpus and questions")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="sentence-transformers model name or path")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS_DIR, help="the 'default' corpus")
    parser.add_argument("--keep-index", action="store_true", help="keep the built indexes under --out")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for the test suite")
    args = parser.parse_args(argv)
    sizes = SMOKE if args.smoke else FULL
    config = BenchConfig(
        out=args.out,
        modes=args.modes,
        synthetic_passages=_given(args.synthetic_passages, sizes["synthetic_passages"]),
        queries=_given(args.queries, sizes["queries"]),
        warmup=_given(args.warmup, sizes["warmup"]),
        top_k=args.top_k,
        seed=args.seed,
        model=args.model,
        corpus=args.corpus,
        keep_index=args.keep_index,
        smoke=args.smoke,
    )
    if config.queries < 1 or config.warmup < 0 or config.synthetic_passages < 0 or config.top_k < 1:
        parser.error("--queries and --top-k must be at least 1; --warmup and --synthetic-passages at least 0")
    return config


def _given(value: int | None, default: int) -> int:
    return default if value is None else value


# Measurements.


@dataclass(frozen=True)
class Latency:
    """Milliseconds over ``n`` timed calls."""

    n: int
    p50: float
    p95: float
    p99: float
    mean: float

    @classmethod
    def of(cls, samples_ms: Sequence[float]) -> Latency:
        p50, p95, p99 = np.percentile(np.asarray(samples_ms, dtype=np.float64), [50, 95, 99])
        return cls(len(samples_ms), float(p50), float(p95), float(p99), float(np.mean(samples_ms)))


def cycled(items: Sequence[str], n: int) -> list[str]:
    """The first ``n`` items of ``items`` repeated as often as needed."""
    return [items[i % len(items)] for i in range(n)]


def time_calls(call: Callable[[str], object], questions: Sequence[str], warmup: int) -> list[float]:
    """Milliseconds of ``call(q)`` for each question, after ``warmup`` untimed calls."""
    for question in cycled(questions, warmup):
        call(question)
    samples = []
    for question in questions:
        started = time.perf_counter()
        call(question)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


@dataclass(frozen=True)
class BuildStats:
    documents: int
    passages: int
    build_seconds: float
    passages_per_second: float
    encode_seconds: float
    encode_passages_per_second: float
    overhead_seconds: float
    """Build time not spent encoding: chunking, FAISS, BM25, files, checksums, fsync."""
    load_seconds: float


def encode_floor_seconds(encoder: Encoder, documents: Sequence[Document], settings: IndexSettings) -> float:
    """Seconds to encode exactly the texts a build encodes, in the same batches (nothing else)."""
    titles = {d.doc_id: d.title for d in documents}
    passages = chunk_corpus(list(documents), settings.chunker)
    texts = [embedding_text(p, titles[p.doc_id], settings.embed_title) for p in passages]
    started = time.perf_counter()
    embed_batches(encoder, texts, settings.batch_size)
    return time.perf_counter() - started


def build_and_load(
    documents: Sequence[Document], encoder: Encoder, folder: Path, settings: IndexSettings, source: str
) -> tuple[BuildStats, LoadedIndex]:
    report = build_index(documents, encoder, folder, settings, source)
    log(f"  built {report.passages} passages in {report.seconds:.1f} s; timing the bare encoding")
    encode_seconds = encode_floor_seconds(encoder, documents, settings)
    started = time.perf_counter()
    index = load_index(report.path, expected_model=encoder.name)
    load_seconds = time.perf_counter() - started
    stats = BuildStats(
        documents=report.documents,
        passages=report.passages,
        build_seconds=report.seconds,
        passages_per_second=report.passages_per_second,
        encode_seconds=encode_seconds,
        encode_passages_per_second=report.passages / encode_seconds if encode_seconds > 0 else float("inf"),
        overhead_seconds=report.seconds - encode_seconds,
        load_seconds=load_seconds,
    )
    return stats, index


# The loopback server and the HTTP client.


@contextmanager
def loopback_server(app: Any, startup_timeout: float = 60.0) -> Iterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1 (a free port) in a thread; yield its base URL.

    The socket is bound here, so the port cannot be taken between choosing and binding it. The server
    is stopped and its thread joined when the block exits, whatever happens in it.
    """
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_config=None, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=SERVER_THREAD, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + startup_timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start on {HOST}:{port}")
            time.sleep(0.02)
        yield f"http://{HOST}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout=10)
        sock.close()
        if thread.is_alive():
            log(f"warning: the server thread on port {port} did not stop")


@dataclass
class HttpSeries:
    """Client-side latency of POST /query, the search time the server reported, and the failures."""

    samples_ms: list[float] = field(default_factory=list)
    server_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def post_query(client: Any, series: HttpSeries, question: str, mode: SearchMode, top_k: int) -> None:
    import httpx

    try:
        response = client.post("/query", json={"question": question, "top_k": top_k, "mode": mode})
    except httpx.HTTPError as err:
        series.errors.append(f"{type(err).__name__}: {err}")
        return
    if response.status_code != 200:
        series.errors.append(f"HTTP {response.status_code}: {response.text[:200]}")
        return
    series.server_ms.append(float(response.json()["took_ms"]))


def time_http(client: Any, questions: Sequence[str], mode: SearchMode, top_k: int, warmup: int) -> HttpSeries:
    """Sequential POST /query of each question (after ``warmup`` untimed ones) on one connection."""
    warm = HttpSeries()
    for question in cycled(questions, warmup):
        post_query(client, warm, question, mode, top_k)
    series = HttpSeries(errors=warm.errors)
    series.samples_ms = time_calls(lambda q: post_query(client, series, q, mode, top_k), questions, 0)
    return series


# One corpus.


@dataclass(frozen=True)
class CorpusSpec:
    name: str
    source: str
    documents: list[Document]
    questions: list[str]


@dataclass(frozen=True)
class ModeResult:
    mode: SearchMode
    in_process: Latency
    http: Latency
    http_server: Latency | None
    http_errors: int
    http_error_samples: list[str]


@dataclass(frozen=True)
class CorpusResult:
    name: str
    source: str
    unique_questions: int
    fusion: str
    build: BuildStats
    question_encode: Latency
    modes: list[ModeResult]


def default_corpus(config: BenchConfig) -> CorpusSpec:
    """The default corpus with the seed evaluation questions (answerable or not)."""
    from corpus.sources import load_corpus
    from eval.seed_set import DEFAULT_SEED_SET, load_eval_set

    questions = [q.question for q in load_eval_set(DEFAULT_SEED_SET)]
    return CorpusSpec("default", str(config.corpus), load_corpus(config.corpus), questions)


def synthetic_corpus(config: BenchConfig, work: Path) -> CorpusSpec:
    """A generated corpus, written as BEIR corpus.jsonl and read back the way `citeqa index` reads it."""
    from corpus.sources import load_corpus
    from eval.synthetic import synthetic_documents, synthetic_questions, write_beir_corpus

    generated = synthetic_documents(config.synthetic_passages, seed=config.seed)
    file = write_beir_corpus(generated, work / "corpus.jsonl")
    documents = load_corpus(file)
    questions = synthetic_questions(documents, config.queries, seed=config.seed)
    name = f"synthetic-{config.synthetic_passages}"
    return CorpusSpec(name, f"eval.synthetic, seed {config.seed}", documents, questions)


def searcher_for(index: LoadedIndex, encoder: Encoder, settings: Any) -> Searcher:
    """A Searcher configured like the service's (fusion from Settings) but sharing ``encoder``."""
    fusion = FusionSettings(
        method=settings.fusion_method, rrf_k=settings.fusion_rrf_k, dense_weight=settings.fusion_dense_weight
    )
    return Searcher(index, encoder, fusion)


def fusion_label(fusion: FusionSettings) -> str:
    return f"{fusion.method} (dense weight {fusion.dense_weight:g}, rrf k {fusion.rrf_k:g})"


def measure_modes(
    searcher: Searcher, settings: Any, questions: Sequence[str], config: BenchConfig
) -> list[tuple[SearchMode, Latency, HttpSeries]]:
    """In-process series for every mode, then HTTP series for every mode on one loopback server."""
    import httpx

    from service.app import create_app

    in_process = {}
    for mode in config.modes:
        log(f"  in process: {mode}")
        samples = time_calls(lambda q, m=mode: searcher.search(q, config.top_k, m), questions, config.warmup)
        in_process[mode] = Latency.of(samples)
    http = {}
    with (
        loopback_server(create_app(settings, searcher)) as url,
        httpx.Client(base_url=url, timeout=60.0, trust_env=False) as client,
    ):
        for mode in config.modes:
            log(f"  over HTTP ({url}): {mode}")
            http[mode] = time_http(client, questions, mode, config.top_k, config.warmup)
    return [(mode, in_process[mode], http[mode]) for mode in config.modes]


def bench_corpus(spec: CorpusSpec, encoder: Encoder, config: BenchConfig, work: Path) -> CorpusResult:
    from service.settings import Settings

    log(f"{spec.name}: {len(spec.documents)} documents from {spec.source}; building the index")
    stats, index = build_and_load(spec.documents, encoder, work / "index", IndexSettings(), spec.source)
    # No response cache: repeated questions would time a dictionary lookup, not a query.
    settings = Settings(index_path=index.path, model=encoder.name, response_cache_size=0)
    searcher = searcher_for(index, encoder, settings)
    questions = cycled(spec.questions, config.queries)
    log(f"  single-question encoding ({len(questions)} questions)")
    question_encode = Latency.of(time_calls(lambda q: encoder.encode([q]), questions, config.warmup))
    modes = [
        ModeResult(
            mode=mode,
            in_process=local,
            http=Latency.of(series.samples_ms),
            http_server=Latency.of(series.server_ms) if series.server_ms else None,
            http_errors=len(series.errors),
            http_error_samples=series.errors[:5],
        )
        for mode, local, series in measure_modes(searcher, settings, questions, config)
    ]
    fusion = fusion_label(searcher.fusion)
    return CorpusResult(spec.name, spec.source, len(set(questions)), fusion, stats, question_encode, modes)


# The machine and the report.


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except (OSError, ValueError, IndexError):
        pass
    return None


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def package_versions() -> dict[str, str]:
    versions = {}
    for name in VERSIONED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def machine_info() -> dict[str, Any]:
    import torch

    return {
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_gib": memory_gib(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        LOAD_KEYS[0]: load_average(),
        "versions": package_versions(),
    }


def _ms(value: float) -> str:
    return f"{value:.2f}"


def build_table(b: BuildStats) -> list[str]:
    return [
        "| documents | passages | build s | passages/s | encode-only s | encode passages/s | "
        "build overhead s | index load s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {b.documents} | {b.passages} | {b.build_seconds:.2f} | {b.passages_per_second:.1f} "
        f"| {b.encode_seconds:.2f} | {b.encode_passages_per_second:.1f} "
        f"| {b.overhead_seconds:.2f} | {b.load_seconds:.3f} |",
    ]


def latency_table(modes: Sequence[ModeResult]) -> list[str]:
    lines = [
        "| mode | in-process p50 | p95 | p99 | mean | HTTP p50 | p95 | p99 | mean "
        "| server took p50 | HTTP errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for m in modes:
        local, http = m.in_process, m.http
        server = _ms(m.http_server.p50) if m.http_server else "-"
        lines.append(
            f"| {m.mode} | {_ms(local.p50)} | {_ms(local.p95)} | {_ms(local.p99)} | {_ms(local.mean)} "
            f"| {_ms(http.p50)} | {_ms(http.p95)} | {_ms(http.p99)} | {_ms(http.mean)} | {server} "
            f"| {m.http_errors} |"
        )
    return lines


def corpus_markdown(result: CorpusResult) -> str:
    b, q = result.build, result.question_encode
    lines = [
        f"## {result.name}: {b.documents} documents, {b.passages} passages ({result.source})",
        "",
        *build_table(b),
        "",
        f"Latency in ms over {q.n} queries per mode ({result.unique_questions} distinct questions). "
        f"Encoding one question alone (the floor of dense and hybrid): p50 {_ms(q.p50)}, "
        f"p95 {_ms(q.p95)}, p99 {_ms(q.p99)}. Hybrid fusion: {result.fusion}.",
        "",
        *latency_table(result.modes),
    ]
    return "\n".join(lines)


def machine_markdown(machine: dict[str, Any]) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in machine["versions"].items())
    start, end = (" ".join(f"{x:.2f}" for x in machine.get(k, [])) for k in LOAD_KEYS)
    return "\n".join(
        [
            f"- machine: {machine['cpu_model']}, {machine['cpu_count']} logical CPUs "
            f"({machine['cpus_usable']} usable), {machine['memory_gib']} GiB RAM",
            f"- torch threads {machine['torch_threads']}; Python {machine['python']}; {machine['platform']}",
            f"- date {machine['date']}; load average (1/5/15 min): {start} at start, {end} at end",
            f"- {versions}",
        ]
    )


def report_markdown(results: Sequence[CorpusResult], machine: dict[str, Any], config: BenchConfig) -> str:
    sections = [
        "# citeqa benchmark",
        "",
        machine_markdown(machine),
        f"- model {config.model}; top_k {config.top_k}; {config.warmup} warm-up queries per series; "
        f"modes {', '.join(config.modes)}" + ("; SMOKE sizes" if config.smoke else ""),
        "- build: IndexSettings() defaults, no embedding cache; encode-only = the same passages through "
        "the same encoder in the same batches; overhead = build minus encode-only (noisy: it can even "
        "come out negative when other processes compete for the CPUs)",
        "- in process: Searcher.search; HTTP: POST /query to uvicorn on 127.0.0.1 in a thread of the "
        "same process (client and server share the GIL), one keep-alive httpx client, sequential; "
        "server took = the took_ms the response reports",
    ]
    for result in results:
        sections += ["", corpus_markdown(result)]
    return "\n".join(sections) + "\n"


def write_report(out: Path, markdown: str, payload: dict[str, Any]) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    report, results = out / "report.md", out / "results.json"
    report.write_text(markdown, encoding="utf-8")
    results.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    return report, results


# Entry point.


def load_encoder(model: str) -> Encoder:
    from indexer.embedding import SentenceTransformerEncoder

    log(f"loading the encoder {model}")
    encoder = SentenceTransformerEncoder(model)
    encoder.encode(["warm-up"])
    return encoder


def run_corpus(
    make_spec: Callable[[Path], CorpusSpec], encoder: Encoder, config: BenchConfig, label: str
) -> CorpusResult:
    """Benchmark one corpus in a fresh work folder under ``config.out``, deleted afterwards."""
    work = Path(tempfile.mkdtemp(prefix=f"work-{label}-", dir=config.out))
    try:
        return bench_corpus(make_spec(work), encoder, config, work)
    finally:
        if config.keep_index:
            log(f"  kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_args(argv)
    config.out.mkdir(parents=True, exist_ok=True)
    machine = machine_info()
    encoder = load_encoder(config.model)
    results = [run_corpus(lambda _work: default_corpus(config), encoder, config, "default")]
    if config.synthetic_passages > 0:
        results.append(run_corpus(lambda work: synthetic_corpus(config, work), encoder, config, "synthetic"))
    machine[LOAD_KEYS[1]] = load_average()
    markdown = report_markdown(results, machine, config)
    payload = {
        "machine": machine,
        "config": {**asdict(config), "out": str(config.out), "corpus": str(config.corpus)},
        "corpora": [asdict(r) for r in results],
    }
    report, results_file = write_report(config.out, markdown, payload)
    print(markdown)
    log(f"wrote {report} and {results_file}")
    errors = sum(m.http_errors for r in results for m in r.modes)
    if errors:
        log(f"error: {errors} HTTP requests failed; see {results_file}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
