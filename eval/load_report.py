"""The load test's results and its report (eval.load_bench runs it): the level table (workers, batching,
concurrency, throughput, latency, shed, errors, load average), the cold-start table and the latency plot."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from eval.plots import save

TOP_K = 5


@dataclass(frozen=True)
class LevelResult:
    """One bounded run at one concurrency against one server setting (latency in milliseconds, of the
    answered requests). ``shed``: requests answered 503 (queue full; the client waited Retry-After), not
    errors. ``load_average``: the machine's 1-minute load average at the end of the level.
    ``server_cpu_ms``: CPU time of the server's processes (every thread, user and system) per answered
    request during the level (nan where /proc cannot be read)."""

    workers: int
    concurrency: int
    seconds: float
    requests: int
    errors: int
    throughput_rps: float
    p50_ms: float
    p99_ms: float
    mean_ms: float
    error_samples: list[str] = field(default_factory=list)
    batching: bool = True
    shed: int = 0
    load_average: float = math.nan
    server_cpu_ms: float = math.nan


@dataclass(frozen=True)
class ColdStart:
    label: str
    args: list[str]
    env: dict[str, str]
    seconds: list[float]
    """Seconds from spawning the process to the first 200 answer of POST /query, one per repeat."""

    @property
    def median(self) -> float:
        return float(np.median(self.seconds))


def best_workers(levels: Sequence[LevelResult]) -> int:
    """The workers setting with the highest throughput at the highest concurrency (fewer workers on a tie)."""
    top = max(r.concurrency for r in levels)
    return max(
        (r for r in levels if r.concurrency == top), key=lambda r: (r.throughput_rps, -r.workers)
    ).workers


def setting_label(workers: int, batching: bool) -> str:
    return f"{workers} worker{'s' if workers > 1 else ''}, batching {'on' if batching else 'off'}"


def latency_plot(levels: Sequence[LevelResult], path: Path, title: str = "") -> Path:
    """p50 (solid) and p99 (dashed) latency per concurrency, one colour per server setting."""
    figure = Figure(figsize=(7.5, 5), layout="constrained")
    axes = figure.add_subplot()
    colours = ["#1b6ca8", "#e07b00", "#3a9d23", "#9b2d86", "#b22222", "#555555"]
    settings = sorted({(r.workers, not r.batching) for r in levels})
    for i, (workers, off) in enumerate(settings):
        rows = sorted(
            (r for r in levels if (r.workers, not r.batching) == (workers, off)), key=lambda r: r.concurrency
        )
        xs = [r.concurrency for r in rows]
        colour = colours[i % len(colours)]
        label = setting_label(workers, not off)
        axes.plot(xs, [r.p50_ms for r in rows], color=colour, marker="o", linewidth=2, label=f"{label}, p50")
        axes.plot(
            xs,
            [r.p99_ms for r in rows],
            color=colour,
            marker="^",
            linewidth=2,
            linestyle="--",
            label=f"{label}, p99",
        )
    concurrency = sorted({r.concurrency for r in levels})
    axes.set_xscale("log", base=2)
    axes.set_yscale("log")
    axes.set_xticks(concurrency, [str(c) for c in concurrency])
    axes.set_xlabel("concurrent clients", fontsize=12)
    axes.set_ylabel("latency per request (ms, log scale)", fontsize=12)
    axes.set_title(title or "citeqa under load: latency percentiles by concurrency", fontsize=13)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=9, title="setting, percentile", title_fontsize=9)
    return save(figure, path)


def levels_table(levels: Sequence[LevelResult]) -> list[str]:
    lines = [
        "| workers | batching | concurrency | seconds | requests | throughput (req/s) | p50 (ms) | p99 (ms) "
        "| server CPU / request (ms) | shed (503) | errors | load avg (1 min) |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in levels:
        lines.append(
            f"| {r.workers} | {'on' if r.batching else 'off'} | {r.concurrency} | {r.seconds:.1f} "
            f"| {r.requests} | {r.throughput_rps:.1f} | {r.p50_ms:.1f} | {r.p99_ms:.1f} "
            f"| {r.server_cpu_ms:.1f} | {r.shed} | {r.errors} | {r.load_average:.2f} |"
        )
    return lines


def cold_table(cold: Sequence[ColdStart]) -> list[str]:
    lines = ["| variant | extra args / env | runs (s) | median (s) |", "|---|---|---|---:|"]
    for c in cold:
        extra = " ".join([*c.args, *(f"{k}={v}" for k, v in c.env.items())]) or "-"
        runs = ", ".join(f"{s:.1f}" for s in c.seconds)
        lines.append(f"| {c.label} | {extra} | {runs} | {c.median:.1f} |")
    return lines


def machine() -> dict[str, Any]:
    from eval.bench import cpu_model, load_average

    return {
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "load_average": load_average(),
    }


def report_markdown(payload: dict[str, Any], levels: Sequence[LevelResult], cold: Sequence[ColdStart]) -> str:
    m = payload["machine"]
    lines = [
        "# citeqa load test",
        "",
        f"`{payload['command']}` on {payload['created_at']}: index `{payload['index']}`, "
        f"{payload['seconds']:g} s per level after a warm-up pass, the {payload['questions']} seed-set "
        f"questions in turn (2 POST /query : 1 GET /search, hybrid, top_k {TOP_K}), response and question "
        "caches off so that every request is computed. Batching off is CITEQA_QUESTION_BATCH_SIZE=1. A "
        "client answered 503 (shed: the queue was full) waits Retry-After before its next request; latency "
        "is of the answered requests.",
        "",
        f"Machine: {m['cpu_model']}, {m['cpu_count']} logical CPUs ({m['cpus_usable']} usable), load average "
        f"{' '.join(f'{x:.2f}' for x in m['load_average'])} at the start and "
        f"{' '.join(f'{x:.2f}' for x in m['load_average_end'])} at the end (1, 5, 15 min), and the 1-minute "
        "load average after each level in the table: when these exceed the CPU count the machine was shared "
        "with other work (the load test's own client counts too), and the numbers are contended and only "
        "comparable with each other.",
        "",
        "## Throughput and latency",
        "",
        *levels_table(levels),
        "",
        f"Best workers setting (throughput at the highest concurrency): **{payload['best_workers']}**.",
        f"Errors over all levels: {sum(r.errors for r in levels)}; shed: {sum(r.shed for r in levels)}.",
        "",
        "## Cold start (process spawn to the first answered POST /query)",
        "",
        *cold_table(cold),
        "",
        f"Plot: `{Path(payload['plot']).name}`.",
    ]
    return "\n".join(lines) + "\n"
