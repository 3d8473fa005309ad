"""The load test end to end at smoke size: real `citeqa serve` processes (1 and 2 workers, question batching
on and off) on loopback, at concurrency 1 to 128 (where the queue sheds: counted, not errors)."""

from __future__ import annotations

import gc
import json
import os
from pathlib import Path

import pytest

from eval import load_bench


def test_load_bench_smoke_reports_every_level_without_errors(
    default_index_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "bench"
    heap: list[str] = []  # the client's heap is frozen for each level's clock, then unfrozen
    for name in ("freeze", "unfreeze"):
        real = getattr(gc, name)
        monkeypatch.setattr(gc, name, lambda name=name, real=real: (heap.append(name), real())[1])
    payload = load_bench.run_load_bench(default_index_path, out, smoke=True)

    assert sorted(p.name for p in out.iterdir()) == ["load-latency.png", "load.json", "load.md"]
    assert (out / "load-latency.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((out / "load.json").read_text(encoding="utf-8")) == payload
    levels = payload["levels"]
    expected = [
        (w, b, c)
        for w in load_bench.DEFAULT_WORKERS
        for b in load_bench.DEFAULT_BATCHING
        for c in load_bench.DEFAULT_CONCURRENCY
    ]
    assert [(r["workers"], r["batching"], r["concurrency"]) for r in levels] == expected
    assert heap == ["freeze", "unfreeze"] * len(expected) and gc.get_freeze_count() == 0
    for row in levels:
        assert row["errors"] == 0, row["error_samples"]
        assert row["requests"] >= row["concurrency"]
        assert row["throughput_rps"] > 0
        assert 0 < row["p50_ms"] <= row["p99_ms"]
        assert row["shed"] >= 0 and row["load_average"] >= 0
        assert row["server_cpu_ms"] > 0  # read from /proc for the server's process group
    assert payload["best_workers"] in load_bench.DEFAULT_WORKERS
    [cold] = payload["cold_start"]
    assert cold["label"] == load_bench.DEFAULT_VARIANTS[0].label
    assert len(cold["seconds"]) == 1 and cold["seconds"][0] > 0
    report = (out / "load.md").read_text(encoding="utf-8")
    assert report.count("\n| 1 | on | ") + report.count("\n| 2 | on | ") == len(expected) // 2
    assert report.count("\n| 1 | off | ") + report.count("\n| 2 | off | ") == len(expected) // 2
    assert f"| {load_bench.DEFAULT_VARIANTS[0].label} | - |" in report


def test_a_server_that_cannot_start_is_reported_and_stopped(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="citeqa serve exited with code"):
        load_bench.cold_start_seconds(tmp_path / "no-index")


def test_the_server_process_group_is_gone_after_the_block(default_index_path: Path) -> None:
    with load_bench.running_server(default_index_path, workers=2) as server:
        load_bench.wait_until_ready(server, workers=2)
        group = server.process.pid
    with pytest.raises(ProcessLookupError):
        os.killpg(group, 0)


def test_best_workers_is_the_highest_throughput_at_the_highest_concurrency() -> None:
    def row(workers: int, concurrency: int, rps: float) -> load_bench.LevelResult:
        return load_bench.LevelResult(workers, concurrency, 1.0, 10, 0, rps, 1.0, 2.0, 1.5)

    assert load_bench.best_workers([row(1, 1, 50), row(1, 32, 30), row(2, 1, 40), row(2, 32, 45)]) == 2
    assert load_bench.best_workers([row(1, 32, 45), row(2, 32, 45)]) == 1


def test_serve_refuses_zero_workers_and_a_missing_index_before_forking(tmp_path: Path) -> None:
    from support import one_line, run_cli

    zero = run_cli(["serve", "--workers", "0"], cwd=tmp_path)
    assert zero.returncode == 2 and "--workers" in zero.stderr
    missing = run_cli(["serve", "--workers", "2", "--index", str(tmp_path / "none")], cwd=tmp_path)
    assert missing.returncode == 2
    assert "no index at" in one_line(missing.stderr)


def test_settings_given_with_set_reach_the_server_under_load(
    default_index_path: Path, tmp_path: Path
) -> None:
    """--set MAX_QUEUED_QUERIES=1 at concurrency 8: the server's queue of one sheds (503, not errors)."""
    assert load_bench.setting_pair("max_queued_queries=1") == ("CITEQA_MAX_QUEUED_QUERIES", "1")
    with pytest.raises(Exception, match="NAME=VALUE"):
        load_bench.setting_pair("QUERY_CONCURRENCY")
    payload = load_bench.run_load_bench(
        default_index_path,
        tmp_path,
        smoke=True,
        workers=(1,),
        concurrency=(8,),
        batching=(True,),
        cold_repeats=0,
        server_settings={"CITEQA_MAX_QUEUED_QUERIES": "1"},
    )
    [level] = payload["levels"]
    assert payload["server_settings"] == {"CITEQA_MAX_QUEUED_QUERIES": "1"}
    assert level["shed"] > 0 and level["errors"] == 0, level
