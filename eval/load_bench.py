"""Load test (not a test): `citeqa serve` on loopback under concurrent clients, and its cold start.

    python -m eval.load_bench [--index var/index] [--out var/bench] [--workers 1,2] [--batching on,off]
                              [--concurrency 1,8,32,128] [--seconds 10] [--cold-repeats 2] [--smoke]

For each workers setting, with and without micro-batching of questions (CITEQA_QUESTION_BATCH_SIZE=1 turns
it off), start `citeqa serve --workers N` on a free 127.0.0.1 port over the index, wait
until /ready answers and every worker has started, send every question once per worker (warm-up: the answer
layer caches sentence vectors, so a first pass is much slower), then at each concurrency run that many
asyncio httpx clients for a bounded time, each sending the seed set's questions in turn (two POST /query to
one GET /search): throughput, p50/p99 latency, requests shed (503 with Retry-After: the client waits that
long, as a polite client does) and errors (any other non-200 or transport error), and the load average at
the end, per level. The
server is stopped (SIGTERM to its process group, then SIGKILL) whatever happens. Then the cold start:
seconds from spawning `citeqa serve` to its first 200 answer of POST /query, per variant (extra CLI
arguments and environment, e.g. an ONNX cache). Writes OUT/load.md (tables), OUT/load.json and
OUT/load-latency.png.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from eval.load_report import (
    TOP_K,
    ColdStart,
    LevelResult,
    best_workers,
    latency_plot,
    machine,
    report_markdown,
)

__all__ = ["ColdStart", "LevelResult", "best_workers", "run_load_bench"]

HOST = "127.0.0.1"
DEFAULT_INDEX = Path("var/index")
DEFAULT_OUT = Path("var/bench")
DEFAULT_WORKERS = (1, 2)
DEFAULT_CONCURRENCY = (1, 8, 32, 128)
DEFAULT_BATCHING = (True, False)
# Batching off: one question per encode call (the service's default batches the questions that meet).
NO_BATCHING = {"CITEQA_QUESTION_BATCH_SIZE": "1"}
# The smoke run cycles through the first few seed questions only, so that its warm-up is short.
FULL = {"seconds": 10.0, "questions": None, "cold_repeats": 2}
SMOKE = {"seconds": 1.0, "questions": 8, "cold_repeats": 1}
STARTUP_TIMEOUT = 300.0
RETRY_AFTER = 1.0  # seconds: what the service's 503 says (CITEQA_RETRY_AFTER_SECONDS)
REQUEST_TIMEOUT = 120.0
# Every third request is GET /search, the others POST /query.
SEARCH_EVERY = 3
WORKER_STARTED = "Application startup complete"
CITEQA_BIN = Path(sys.executable).parent / "citeqa"
STARTED = time.perf_counter()


def log(message: str) -> None:
    print(f"[load {time.perf_counter() - STARTED:7.1f}s] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class ColdStartVariant:
    """How to start the server for a cold-start measurement: extra `citeqa serve` arguments and env.
    An env value ``FRESH`` is replaced by a new empty folder at every start (an empty cache)."""

    label: str
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)


FRESH = "{fresh}"
DEFAULT_VARIANTS = (
    ColdStartVariant("onnx, caches warm (default)"),
    ColdStartVariant(
        "onnx, no ONNX export or sentence vectors cached",
        env={"CITEQA_ONNX_CACHE_PATH": FRESH, "CITEQA_EMBEDDING_CACHE_PATH": FRESH},
    ),
    ColdStartVariant("torch backend, sentence vectors cached", env={"CITEQA_BACKEND": "torch"}),
)


# The server process.


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def serve_command(index: Path, port: int, workers: int, extra_args: Sequence[str] = ()) -> list[str]:
    program = (
        [str(CITEQA_BIN)]
        if CITEQA_BIN.exists()
        else [sys.executable, "-c", "from service.cli.app import main; main()"]
    )
    return [
        *program,
        "serve",
        *("--host", HOST, "--port", str(port), "--index", str(index), "--workers", str(workers)),
        *extra_args,
    ]


# The servers under load compute every answer: the response and question caches would otherwise answer
# the rotating seed questions from memory after the warm-up pass, and the test would time a dict lookup.
UNCACHED = {"CITEQA_RESPONSE_CACHE_SIZE": "0", "CITEQA_QUESTION_CACHE_SIZE": "0"}


def server_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment without CITEQA_* settings (the CLI options decide), offline, caches off (see
    UNCACHED), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEQA_")}
    env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", **UNCACHED})
    return {**env, **(extra or {})}


@dataclass(frozen=True)
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    spawned_at: float

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(
                f"citeqa serve exited with code {self.process.returncode}:\n{self.log_text()[-2000:]}"
            )


@contextlib.contextmanager
def running_server(
    index: Path,
    workers: int = 1,
    extra_args: Sequence[str] = (),
    extra_env: Mapping[str, str] | None = None,
) -> Iterator[Server]:
    """Spawn `citeqa serve` in its own process group on a free loopback port; always stop it on exit."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="citeqa-load-") as work:
        log_path = Path(work) / "server.log"
        with log_path.open("wb") as log_file:
            spawned_at = time.perf_counter()
            process = subprocess.Popen(
                serve_command(index, port, workers, extra_args),
                env=server_env(extra_env),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                yield Server(f"http://{HOST}:{port}", process, log_path, spawned_at)
            finally:
                stop(process)


def stop(process: subprocess.Popen[bytes], grace: float = 30.0) -> None:
    """SIGTERM the server's process group (uvicorn stops its workers), SIGKILL it if it lingers."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            log(f"warning: server {process.pid} ignored SIGTERM; killing its process group")
    # Workers left behind by a parent that died or was killed share its process group.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    # Orphaned workers are reaped by init, not by us: wait until none is left.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    log(f"warning: processes of the server's group {process.pid} are still there")


def wait_until_ready(server: Server, workers: int, timeout: float = STARTUP_TIMEOUT) -> float:
    """Seconds from spawn until /ready is 200 and all ``workers`` logged their startup."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=server.url, timeout=10, trust_env=False) as client:
        while True:
            server.check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"citeqa serve not ready after {timeout:.0f} s:\n{server.log_text()[-2000:]}"
                )
            try:
                ready = client.get("/ready").status_code == 200
            except httpx.TransportError:
                ready = False
            if ready and server.log_text().count(WORKER_STARTED) >= workers:
                return time.perf_counter() - server.spawned_at
            time.sleep(0.1)


# The load.


def questions_from_seed_set() -> list[str]:
    from eval.seed_set import DEFAULT_SEED_SET, load_eval_set

    return [q.question for q in load_eval_set(DEFAULT_SEED_SET)]


SHED = "shed"


async def one_request(client: httpx.AsyncClient, number: int, question: str) -> str | None:
    """Send request ``number``; None when it was answered with a 200, SHED for a 503 (the queue was
    full), else what went wrong."""
    try:
        if number % SEARCH_EVERY == SEARCH_EVERY - 1:
            response = await client.get("/search", params={"q": question, "k": TOP_K, "mode": "hybrid"})
        else:
            response = await client.post(
                "/query", json={"question": question, "top_k": TOP_K, "mode": "hybrid"}
            )
    except httpx.HTTPError as err:
        return f"{type(err).__name__}: {err}"
    if response.status_code == 503 and "Retry-After" in response.headers:
        return SHED
    if response.status_code != 200:
        return f"HTTP {response.status_code}: {response.text[:200]}"
    return None


@dataclass
class LevelRun:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    shed: int = 0
    wall: float = 0.0


async def run_level(url: str, questions: Sequence[str], concurrency: int, seconds: float) -> LevelRun:
    """``concurrency`` clients send requests back to back until ``seconds`` pass; every request started
    before then is awaited. A client answered 503 waits Retry-After (at most until the end) as a polite
    client would. Latencies (ms) are of the answered requests.

    Each client has its own one-connection httpx client, as separate users would: one shared pool of 128
    connections cost the load generator 12 ms of CPU per request (a whole core at 80 requests/s) on this
    machine, so concurrency 128 measured the generator rather than the service."""
    counter = iter(range(10**12))
    run = LevelRun()
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    # Made before the clock starts: each client builds an SSL context (milliseconds of CPU apiece).
    clients = [
        httpx.AsyncClient(base_url=url, timeout=REQUEST_TIMEOUT, limits=limits, trust_env=False)
        for _ in range(concurrency)
    ]
    # The client's own full collections (60-100 ms each at concurrency 32, logged by a gc.callbacks hook)
    # paused every request in flight: what is alive now is kept out of them, as the server does its index.
    gc.collect()
    gc.freeze()
    try:
        started = time.perf_counter()
        deadline = started + seconds

        async def user(client: httpx.AsyncClient) -> None:
            while time.perf_counter() < deadline:
                number = next(counter)
                sent = time.perf_counter()
                problem = await one_request(client, number, questions[number % len(questions)])
                if problem is None:
                    run.latencies.append((time.perf_counter() - sent) * 1000)
                elif problem == SHED:
                    run.shed += 1
                    await asyncio.sleep(max(0.0, min(RETRY_AFTER, deadline - time.perf_counter())))
                else:
                    run.errors.append(problem)

        await asyncio.gather(*(user(client) for client in clients))
        run.wall = time.perf_counter() - started
        return run
    finally:
        gc.unfreeze()
        await asyncio.gather(*(client.aclose() for client in clients))


async def warm_up(url: str, questions: Sequence[str], workers: int) -> list[str]:
    """Every question ``workers`` times (so each worker likely sees it): the answer layer caches sentence
    vectors, and the first pass over a corpus is much slower than the steady state measured here."""
    limits = httpx.Limits(max_connections=2 * workers)
    async with httpx.AsyncClient(
        base_url=url, timeout=REQUEST_TIMEOUT, limits=limits, trust_env=False
    ) as client:
        numbers = [n for n in range(len(questions) * workers) if n % SEARCH_EVERY != SEARCH_EVERY - 1]
        results = await asyncio.gather(
            *(one_request(client, n, questions[n % len(questions)]) for n in numbers)
        )
    return [problem for problem in results if problem is not None]


def group_cpu_seconds(group: int) -> float:
    """CPU seconds (user + system, every thread) of the live processes of process group ``group``, from
    /proc (Linux); nan elsewhere. A server's workers share its group (running_server starts a session)."""
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total, found = 0, False
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text(encoding="ascii", errors="replace").rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        # After the command's closing parenthesis: state, ppid, pgrp (fields[2]), ..., utime, stime (11, 12).
        if int(fields[2]) == group:
            total += int(fields[11]) + int(fields[12])
            found = True
    return total / ticks if found else math.nan


def measure_level(
    url: str,
    questions: Sequence[str],
    workers: int,
    concurrency: int,
    seconds: float,
    batching: bool = True,
    server_group: int | None = None,
) -> LevelResult:
    cpu_before = group_cpu_seconds(server_group) if server_group is not None else math.nan
    run = asyncio.run(run_level(url, questions, concurrency, seconds))
    cpu_used = (group_cpu_seconds(server_group) if server_group is not None else math.nan) - cpu_before
    samples = np.asarray(run.latencies or [np.nan], dtype=np.float64)
    p50, p99 = (float(v) for v in np.percentile(samples, [50, 99]))
    return LevelResult(
        workers=workers,
        concurrency=concurrency,
        seconds=round(run.wall, 3),
        requests=len(run.latencies) + len(run.errors) + run.shed,
        errors=len(run.errors),
        throughput_rps=len(run.latencies) / run.wall,
        p50_ms=p50,
        p99_ms=p99,
        mean_ms=float(np.mean(samples)),
        error_samples=run.errors[:5],
        batching=batching,
        shed=run.shed,
        load_average=os.getloadavg()[0],
        server_cpu_ms=cpu_used * 1000 / len(run.latencies) if run.latencies else math.nan,
    )


def load_levels(
    index: Path,
    workers: int,
    concurrency: Sequence[int],
    seconds: float,
    questions: Sequence[str],
    batching: bool = True,
    server_settings: Mapping[str, str] | None = None,
) -> list[LevelResult]:
    setting = f"workers={workers} batching={'on' if batching else 'off'}"
    log(f"{setting}: starting citeqa serve over {index}")
    extra_env = {**(server_settings or {}), **({} if batching else NO_BATCHING)}
    with running_server(index, workers, extra_env=extra_env) as server:
        took = wait_until_ready(server, workers)
        log(f"{setting}: ready after {took:.1f} s at {server.url}; warming up")
        warmed = time.perf_counter()
        problems = asyncio.run(warm_up(server.url, questions, workers))
        log(f"{setting}: warm after {time.perf_counter() - warmed:.1f} s ({len(problems)} errors)")
        results = []
        for level in concurrency:
            result = measure_level(
                server.url, questions, workers, level, seconds, batching, server.process.pid
            )
            log(
                f"{setting} concurrency={level}: {result.throughput_rps:.1f} req/s, "
                f"p50 {result.p50_ms:.0f} ms, p99 {result.p99_ms:.0f} ms, "
                f"server CPU {result.server_cpu_ms:.1f} ms/request, {result.shed} shed, "
                f"{result.errors} errors, load {result.load_average:.2f}"
            )
            results.append(result)
            server.check_alive()
        return results


# Cold start.


def cold_start_seconds(
    index: Path, extra_args: Sequence[str] = (), extra_env: Mapping[str, str] | None = None, workers: int = 1
) -> float:
    """Seconds from spawning `citeqa serve` to its first 200 answer of POST /query."""
    body = {"question": "what are milia?", "top_k": 1}
    with running_server(index, workers, extra_args, extra_env) as server:
        deadline = server.spawned_at + STARTUP_TIMEOUT
        with httpx.Client(base_url=server.url, timeout=REQUEST_TIMEOUT, trust_env=False) as client:
            while time.perf_counter() < deadline:
                server.check_alive()
                try:
                    if client.post("/query", json=body).status_code == 200:
                        return time.perf_counter() - server.spawned_at
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
        raise RuntimeError(f"no answer within {STARTUP_TIMEOUT:.0f} s:\n{server.log_text()[-2000:]}")


def measure_cold_start(index: Path, variant: ColdStartVariant, repeats: int) -> ColdStart:
    seconds = []
    for repeat in range(repeats):
        with tempfile.TemporaryDirectory(prefix="citeqa-cold-") as fresh:
            env = {k: fresh if v == FRESH else v for k, v in variant.env.items()}
            seconds.append(cold_start_seconds(index, variant.args, env))
        log(f"cold start ({variant.label}) {repeat + 1}/{repeats}: {seconds[-1]:.1f} s")
    return ColdStart(variant.label, list(variant.args), dict(variant.env), seconds)


def run_load_bench(
    index: Path = DEFAULT_INDEX,
    out: Path = DEFAULT_OUT,
    smoke: bool = False,
    workers: Sequence[int] = DEFAULT_WORKERS,
    concurrency: Sequence[int] = DEFAULT_CONCURRENCY,
    seconds: float | None = None,
    batching: Sequence[bool] = DEFAULT_BATCHING,
    cold_variants: Sequence[ColdStartVariant] = DEFAULT_VARIANTS,
    cold_repeats: int | None = None,
    command: str = "python -m eval.load_bench",
    server_settings: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Run the load test and the cold starts; write OUT/load.md, OUT/load.json, OUT/load-latency.png."""
    sizes = SMOKE if smoke else FULL
    seconds = sizes["seconds"] if seconds is None else seconds
    repeats = sizes["cold_repeats"] if cold_repeats is None else cold_repeats
    index = Path(index).resolve()
    questions = questions_from_seed_set()[: sizes["questions"]]
    started_machine = machine()
    created_at = datetime.now(UTC).isoformat(timespec="seconds")
    levels = [
        result
        for n in workers
        for on in batching
        for result in load_levels(index, n, concurrency, seconds, questions, on, server_settings)
    ]
    if smoke and cold_variants is DEFAULT_VARIANTS:
        cold_variants = DEFAULT_VARIANTS[:1]  # an export and a sentence pass would dominate a smoke run
    cold = [measure_cold_start(index, variant, repeats) for variant in cold_variants] if repeats else []
    out.mkdir(parents=True, exist_ok=True)
    plot = latency_plot(levels, out / "load-latency.png")
    payload = {
        "command": command,
        "created_at": created_at,
        "index": str(index),
        "smoke": smoke,
        "seconds": seconds,
        "questions": len(questions),
        "server_settings": dict(server_settings or {}),
        "machine": {**started_machine, "load_average_end": machine()["load_average"]},
        "levels": [asdict(r) for r in levels],
        "best_workers": best_workers(levels),
        "cold_start": [{**asdict(c), "median": c.median} for c in cold],
        "plot": str(plot),
    }
    (out / "load.json").write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    (out / "load.md").write_text(report_markdown(payload, levels, cold), encoding="utf-8")
    return payload


def int_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        values = ()
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("give comma-separated whole numbers >= 1, e.g. 1,8,32")
    return values


def on_off_list(text: str) -> tuple[bool, ...]:
    values = [v.strip() for v in text.split(",") if v.strip()]
    if not values or any(v not in ("on", "off") for v in values):
        raise argparse.ArgumentTypeError("give on, off or on,off")
    return tuple(v == "on" for v in values)


def setting_pair(text: str) -> tuple[str, str]:
    """NAME=VALUE as the environment variable CITEQA_NAME and its value."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError("give NAME=VALUE, e.g. QUERY_CONCURRENCY=4")
    name = name.strip().upper()
    return (name if name.startswith("CITEQA_") else f"CITEQA_{name}"), value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.load_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--index", type=Path, default=DEFAULT_INDEX, help="index folder to serve")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="report folder")
    parser.add_argument(
        "--workers", type=int_list, default=DEFAULT_WORKERS, help="workers settings, e.g. 1,2"
    )
    parser.add_argument(
        "--batching", type=on_off_list, default=DEFAULT_BATCHING, help="question batching: on,off, on or off"
    )
    parser.add_argument("--concurrency", type=int_list, default=DEFAULT_CONCURRENCY, help="e.g. 1,8,32,128")
    parser.add_argument("--seconds", type=float, help="seconds per level (default 10; 1 with --smoke)")
    parser.add_argument(
        "--cold-repeats", type=int, help="cold starts per variant (default 2; 1 with --smoke; 0: none)"
    )
    parser.add_argument("--smoke", action="store_true", help="1 s per level, one cold start")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        type=setting_pair,
        metavar="NAME=VALUE",
        help="a CITEQA_ setting of the server under load, e.g. --set QUERY_CONCURRENCY=4 (repeatable)",
    )
    args = parser.parse_args(argv)
    command = " ".join(["python -m eval.load_bench", *(argv if argv is not None else sys.argv[1:])])
    payload = run_load_bench(
        args.index,
        args.out,
        args.smoke,
        args.workers,
        args.concurrency,
        args.seconds,
        args.batching,
        cold_repeats=args.cold_repeats,
        command=command,
        server_settings=dict(args.set),
    )
    print((args.out / "load.md").read_text(encoding="utf-8"))
    errors = sum(level["errors"] for level in payload["levels"])
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
