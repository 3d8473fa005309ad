"""The scale benchmark at smoke sizes (random clustered vectors, no model): report rows per index type and
size, recall numbers in [0, 1], the plot; and the embedding-like vector generator."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from eval import scale_bench
from eval.scale_bench import ALL_TYPES, embedding_like_vectors, random_base, run_scale_bench


def test_smoke_run_writes_rows_per_type_and_size_and_a_plot(tmp_path: Path) -> None:
    out = tmp_path / "scale"
    payload = run_scale_bench(out, sizes=(2_000, 5_000), smoke=True)

    assert sorted(p.name for p in out.iterdir()) == ["latency.png", "report.md", "results.json"]
    assert (out / "latency.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((out / "results.json").read_text(encoding="utf-8")) == json.loads(json.dumps(payload))
    rows = payload["results"]
    assert [(r["passages"], r["kind"]) for r in rows] == [(n, k) for n in (2_000, 5_000) for k in ALL_TYPES]
    for row in rows:
        assert 0.0 <= row["recall_at_10"] <= 1.0 and 0.0 <= row["tuned_recall_at_10"] <= 1.0
        assert 0 < row["p50_ms"] <= row["p99_ms"]
        assert row["index_bytes_per_passage"] >= 4 * scale_bench.SMOKE.dimension  # at least the vectors
        assert [load["mmap"] for load in row["loads"]] == [False, True]
        assert row["spec"]["kind"] == row["kind"]
    flat = [r for r in rows if r["kind"] == "flat"]
    assert all(r["recall_at_10"] == 1.0 for r in flat)  # exact is exact
    report = (out / "report.md").read_text(encoding="utf-8")
    for kind in ALL_TYPES:
        assert report.count(f"| {kind} |") == 2
    assert "![p50 latency vs corpus size](latency.png)" in report


def test_main_rejects_unknown_types_and_tiny_sizes(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        scale_bench.main(["--smoke", "--types", "lsh", "--out", str(tmp_path)])
    with pytest.raises(SystemExit):
        scale_bench.main(["--smoke", "--sizes", "10", "--out", str(tmp_path)])


def test_embedding_like_vectors_are_unit_deterministic_and_near_their_base() -> None:
    base = random_base(300, 16, seed=1)
    first = embedding_like_vectors(base, 1_000, seed=5, chunk=128)
    assert first.shape == (1_000, 16) and first.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(first, embedding_like_vectors(base, 1_000, seed=5, chunk=128))
    nearest_base = (first @ base.T).max(axis=1)
    isotropic = np.random.default_rng(0).standard_normal((1_000, 16)).astype(np.float32)
    isotropic /= np.linalg.norm(isotropic, axis=1, keepdims=True)
    assert nearest_base.mean() > (isotropic @ base.T).max(axis=1).mean()  # structured, not uniform noise


def test_build_profile_times_the_encoder_inside_a_real_build(encoder, tmp_path: Path) -> None:
    from eval.build_profile import profile_build

    result = profile_build(encoder, 60, tmp_path / "profile")
    assert result["passages"] > 0
    assert 0 < result["encode_seconds"] < result["build_seconds"]
    assert 0 < result["encode_share"] < 1
    assert result["warm_cache_build_seconds"] > 0
    assert "build_index" in (tmp_path / "profile" / "profile.txt").read_text(encoding="utf-8")
    assert json.loads((tmp_path / "profile" / "build_profile.json").read_text(encoding="utf-8")) == result


def test_given_base_is_used_as_real_rows_then_as_the_shape_of_larger_sizes(tmp_path: Path) -> None:
    base_path = tmp_path / "base.npy"
    np.save(base_path, random_base(800, 16, seed=2))
    payload = run_scale_bench(tmp_path / "out", (500, 1_500), True, ("flat",), base_path)
    small, large = payload["results"]
    assert small["vectors"].startswith("real encoder")
    assert large["vectors"].startswith("random, embedding-like")
    assert (small["passages"], large["passages"]) == (500, 1_500)
