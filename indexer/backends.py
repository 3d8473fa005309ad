"""Choosing the encoder backend and its threads at the edge (service settings, CLI options).

Threads: each uvicorn worker is a process with its own encoder, so a worker should use cores // workers
threads (at least 1): more makes the workers' thread pools fight for the same cores (oversubscription),
which costs more than it gains on a loaded machine. On N cores, run min(N, 4) workers... the single-question
encode of a small model gains little past 2 threads, so for throughput prefer workers = N, threads = 1, and
for the lowest latency of one user at a time workers = 1, threads = N.
"""

from __future__ import annotations

import os
from pathlib import Path

from indexer.embedding import Encoder, SentenceTransformerEncoder
from indexer.onnx_encoder import DEFAULT_ONNX_CACHE, Backend, OnnxEncoder


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_threads(workers: int = 1, cores: int | None = None) -> int:
    """Threads per worker process: the cores shared out among the workers, at least one."""
    return max(1, (cores or available_cores()) // max(1, workers))


# A served query searches FAISS with one vector: OpenMP threads only add barriers (measured on a busy
# 2-core machine: exact search over 10k vectors 0.42 ms p50 with one thread, 64 ms with two; see
# eval/scale_bench.py, which times single-query search with one thread for the same reason).
SERVING_FAISS_THREADS = 1


def limit_threads(threads: int, faiss_threads: int = SERVING_FAISS_THREADS) -> None:
    """Intra-op threads of torch and FAISS in this process (ONNX Runtime takes them per session)."""
    import faiss
    import torch

    torch.set_num_threads(threads)
    faiss.omp_set_num_threads(faiss_threads)


def make_encoder(
    model: str,
    backend: Backend = "torch",
    threads: int | None = None,
    onnx_cache: Path = DEFAULT_ONNX_CACHE,
    spin_between_runs: bool = True,
) -> Encoder:
    """The question/passage encoder of ``model`` on ``backend`` with ``threads`` (default: all cores);
    ``spin_between_runs``: see indexer.onnx_encoder.session_options (ONNX backends)."""
    threads = threads or default_threads()
    limit_threads(threads)
    if backend == "torch":
        return SentenceTransformerEncoder(model)
    return OnnxEncoder(model, backend, onnx_cache, threads, spin_between_runs)
