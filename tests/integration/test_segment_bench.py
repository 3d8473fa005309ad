"""The segmented-index benchmark at smoke size, for real: a synthetic format-2 index written as 8 segments
and merged, LiveIndex writes, a fresh process opening it and answering with the real model, `citeqa serve`
with one worker (queries before and after writes) and with two (writes, then queries while writes stream
in). The report and results.json hold every row of issue 14's benchmark."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval import segment_bench
from eval.segment_bench import SIZE_ROWS, run_segment_bench

SIZE = 2_000


def test_smoke_run_reports_every_row(tmp_path: Path) -> None:
    out = tmp_path / "segments"
    payload = run_segment_bench(out, sizes=(SIZE,), smoke=True)

    assert sorted(p.name for p in out.iterdir()) == ["report.md", "results.json"]  # work/ removed
    assert json.loads((out / "results.json").read_text(encoding="utf-8")) == json.loads(json.dumps(payload))
    row = payload["per_size"][str(SIZE)]
    assert row["passages"] >= SIZE and row["documents"] > 0

    # 1. writes through LiveIndex: every write timed, in the order add then delete
    config = segment_bench.SMOKE
    for op in ("add", "delete"):
        assert row["live_writes"][op]["n"] == config.live_writes
        assert 0 < row["live_writes"][op]["p50_ms"] <= row["live_writes"][op]["p99_ms"]
    assert row["live_writes"]["merge_errors"] == []
    assert row["live_writes"]["segments_after_adds"] >= row["live_writes"]["segments_before"]
    # 2. and 4. a fresh process opened the index and answered one question with the real model
    opened = row["open"]
    assert opened["hits"] > 0
    for key in ("open_seconds", "first_query_seconds", "model_seconds", "open_to_first_answer_seconds"):
        assert opened[key] > 0
    assert opened["rss_bytes_per_passage_mmap"] > 0 and opened["rss_bytes_per_passage_read"] > 0
    kinds = row["disk_bytes"]
    assert all(kinds[k] > 0 for k in ("documents", "passages", "dense", "lexical"))
    assert kinds["total"] == sum(v for k, v in kinds.items() if k != "total")
    assert kinds["dense"] >= 4 * segment_bench.DIMENSION * row["passages"]  # at least the vectors
    # 5. the merge took the 8 segments into one
    merge = row["merge"]
    assert (merge["segments_before"], merge["segments_after"]) == (segment_bench.MERGE_SEGMENTS, 1)
    assert merge["passages"] == row["passages"] and merge["passages_per_second"] > 0
    # 3. queries over HTTP, fresh and after the writes, with the FAISS type of every segment
    http = payload["http_queries"]
    assert http["writes"] == config.http_writes_largest
    assert http["fresh"]["n"] == http["after_writes"]["n"] == config.queries
    assert [s["kind"] for s in http["segments_before"]] == ["flat"]
    assert all(s["kind"] in ("flat", "ivf", "hnsw") for s in http["segments_after_writes"])
    assert http["after_writes"]["index_versions"][0] > http["fresh"]["index_versions"][-1]
    # 6. and 7. two workers
    writes = payload["http_writes_two_workers"]
    assert writes["add"]["n"] == writes["delete"]["n"] == config.http_writes_small
    load = payload["load_with_writes"]
    assert load["requests"] > 0 and load["writes"] > 0
    assert load["failed"] == 0 and load["write_failures"] == 0
    assert load["responses_without_one_version"] == 0 and load["versions_seen"]

    report = (out / "report.md").read_text(encoding="utf-8")
    for label, _ in SIZE_ROWS:
        line = next(line for line in report.splitlines() if line.startswith(f"| {label} |"))
        assert " - |" not in line, line  # every cell measured
    for heading in (
        "## Per size",
        "## 3. Queries over HTTP",
        "## 6. One-document writes over HTTP",
        "## 7. `--workers 2` under query load",
        "## Targets (issue 14)",
    ):
        assert heading in report
    assert "Synthetic data, every size" in report
    for target in (
        "| 1. write p50 <= 50 ms",
        "| 2. open -> first answer",
        "| 3. query p50",
        "| 6. HTTP write",
        "| 7.",
    ):
        assert target in report


def test_main_rejects_tiny_sizes(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        segment_bench.main(["--smoke", "--sizes", "10", "--out", str(tmp_path)])
