"""Benchmark (not a test): what one question costs the encoder, in wall time and in CPU time, by batch size.

    python -m eval.encode_cost [--backends onnx,onnx-int8,torch] [--batches 1,4,16,32] [--threads N]
                               [--repeats 3] [--out var/bench/encode-cost]

The seed set's questions are encoded in batches of each size (as the service's micro-batching would group
concurrent questions), ``repeats`` passes after a warm-up pass. Per backend and batch size: wall
milliseconds per batch and per question, and CPU milliseconds per question (this process, every thread,
user and system). Then the idle cost: CPU used while the process waits 10 ms after each of 20 single
questions, which is what the encoder's pool threads burn between a service's questions, with ONNX Runtime's
spinning between runs (the default) and without (CITEQA_ENCODER_SPIN=false).

What it says on a CPU (stop 26, 2 cores): the fp32 model costs about 4.2 ms of CPU per question at every
batch size, so micro-batching saves almost nothing on this model: throughput under load is bounded by
cores / (encoder CPU + the rest of a request), not by per-call overhead. Writes OUT/encode_cost.json and
OUT/report.md (the Markdown table it prints).
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from eval.bench import load_average
from eval.seed_set import load_eval_set
from indexer.backends import default_threads, make_encoder
from indexer.embedding import DEFAULT_MODEL, Encoder

DEFAULT_BATCHES = (1, 4, 16, 32)
IDLE_ROUNDS, IDLE_WAIT = 20, 0.01


@dataclass(frozen=True)
class BatchCost:
    backend: str
    batch: int
    wall_ms_per_batch: float
    wall_ms_per_question: float
    cpu_ms_per_question: float


def cpu_seconds() -> float:
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime


def batch_cost(
    encoder: Encoder, backend: str, questions: Sequence[str], size: int, repeats: int
) -> BatchCost:
    batches = [list(questions[i : i + size]) for i in range(0, len(questions), size)]
    for batch in batches:  # warm-up: first runs allocate
        encoder.encode(batch, batch_size=size)
    cpu, started = cpu_seconds(), time.perf_counter()
    for _ in range(repeats):
        for batch in batches:
            encoder.encode(batch, batch_size=size)
    wall, used = time.perf_counter() - started, cpu_seconds() - cpu
    calls, texts = repeats * len(batches), repeats * len(questions)
    return BatchCost(backend, size, wall / calls * 1000, wall / texts * 1000, used / texts * 1000)


def idle_cpu_ms(encoder: Encoder, questions: Sequence[str]) -> float:
    """CPU milliseconds used while waiting IDLE_WAIT after each of IDLE_ROUNDS single questions."""
    idle = 0.0
    for number in range(IDLE_ROUNDS):
        encoder.encode([questions[number % len(questions)]])
        before = cpu_seconds()
        time.sleep(IDLE_WAIT)
        idle += cpu_seconds() - before
    return idle * 1000


def report(costs: Sequence[BatchCost], idle: dict[str, float], meta: dict[str, object]) -> str:
    lines = [
        f"# Encoder cost per question ({meta['questions']} seed questions, {meta['threads']} threads)",
        "",
        f"Load average at start {meta['load_start']}, at end {meta['load_end']}.",
        "",
        "| backend | batch | wall per batch (ms) | wall per question (ms) | CPU per question (ms) |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {c.backend} | {c.batch} | {c.wall_ms_per_batch:.2f} | {c.wall_ms_per_question:.2f} "
        f"| {c.cpu_ms_per_question:.2f} |"
        for c in costs
    ]
    waited = IDLE_ROUNDS * IDLE_WAIT * 1000
    lines += ["", f"CPU used while idle ({IDLE_ROUNDS} waits of {IDLE_WAIT * 1000:g} ms after a question):"]
    lines += [""]
    lines += [f"- {backend}: {ms:.1f} ms in {waited:g} ms of waiting" for backend, ms in idle.items()]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.encode_cost", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--backends", default="onnx,onnx-int8,torch", help="comma-separated: torch, onnx, onnx-int8"
    )
    parser.add_argument("--batches", default=",".join(map(str, DEFAULT_BATCHES)))
    parser.add_argument("--threads", type=int, default=None, help="encoder threads (default: all cores)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--out", type=Path, default=Path("var/bench/encode-cost"))
    args = parser.parse_args(argv)
    questions = [q.question for q in load_eval_set()]
    load_start = load_average()
    costs: list[BatchCost] = []
    idle: dict[str, float] = {}
    sizes = [int(b) for b in args.batches.split(",")]
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        encoder = make_encoder(args.model, backend, args.threads)  # type: ignore[arg-type]
        costs += [batch_cost(encoder, backend, questions, size, args.repeats) for size in sizes]
        if backend == "torch":
            idle[backend] = idle_cpu_ms(encoder, questions)
            continue
        idle[f"{backend}, spinning between runs (default)"] = idle_cpu_ms(encoder, questions)
        stopped = make_encoder(args.model, backend, args.threads, spin_between_runs=False)  # type: ignore[arg-type]
        idle[f"{backend}, CITEQA_ENCODER_SPIN=false"] = idle_cpu_ms(stopped, questions)
    meta = {
        "questions": len(questions),
        "threads": args.threads or default_threads(),
        "load_start": load_start,
        "load_end": load_average(),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    payload = {"meta": meta, "costs": [asdict(c) for c in costs], "idle_cpu_ms": idle}
    (args.out / "encode_cost.json").write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    markdown = report(costs, idle, meta)
    (args.out / "report.md").write_text(markdown, encoding="utf-8")
    print(markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
