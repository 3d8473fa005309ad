"""The benchmark end to end at smoke sizes (real model, real uvicorn on loopback), and eval.synthetic."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from citeqa.types import SEARCH_MODES
from corpus.sources import load_corpus
from corpus.types import Document
from eval import bench
from eval.synthetic import synthetic_documents, synthetic_questions, write_beir_corpus
from indexer.chunking import ChunkerSettings, chunk_corpus


def test_bench_smoke_writes_a_consistent_report(tmp_path: Path) -> None:
    out = tmp_path / "bench"
    assert bench.main(["--smoke", "--out", str(out)]) == 0

    assert sorted(p.name for p in out.iterdir()) == ["report.md", "results.json"]  # work folders removed
    assert not any(t.name == bench.SERVER_THREAD for t in threading.enumerate())  # server stopped
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    corpora = results["corpora"]
    assert [c["name"] for c in corpora] == ["default", f"synthetic-{bench.SMOKE['synthetic_passages']}"]
    for corpus in corpora:
        assert corpus["build"]["documents"] > 0
        assert corpus["build"]["passages"] > 0
        assert corpus["build"]["passages_per_second"] > 0
        assert [m["mode"] for m in corpus["modes"]] == list(SEARCH_MODES)
        for mode in corpus["modes"]:
            assert mode["http_errors"] == 0, mode["http_error_samples"]
            for series in (mode["in_process"], mode["http"]):
                assert series["n"] == bench.SMOKE["queries"]
                assert 0 < series["p50"] <= series["p95"] <= series["p99"]
    report = (out / "report.md").read_text(encoding="utf-8")
    assert all(f"| {mode} |" in report for mode in SEARCH_MODES)
    assert results["machine"]["cpu_count"] and results["machine"]["torch_threads"]


def test_explicit_sizes_override_smoke_defaults(tmp_path: Path) -> None:
    config = bench.parse_args(["--smoke", "--queries", "3", "--modes", "bm25,dense", "--out", str(tmp_path)])
    assert (config.queries, config.synthetic_passages, config.modes) == (3, 200, ("bm25", "dense"))
    with pytest.raises(SystemExit):
        bench.parse_args(["--modes", "fuzzy"])


def test_synthetic_documents_are_deterministic_per_seed() -> None:
    first = synthetic_documents(300, seed=1)
    assert synthetic_documents(300, seed=1) == first
    other = synthetic_documents(300, seed=2)
    assert [d.text for d in other] != [d.text for d in first]
    assert synthetic_questions(first, 20, seed=1) == synthetic_questions(first, 20, seed=1)
    assert synthetic_questions(first, 20, seed=1) != synthetic_questions(first, 20, seed=2)


@pytest.mark.parametrize("target", [200, 1000, 5000])
def test_synthetic_passage_count_is_near_the_target(target: int) -> None:
    documents = synthetic_documents(target, seed=3)
    passages = sum(1 for _ in chunk_corpus(documents, ChunkerSettings()))
    assert 0.7 * target <= passages <= 1.3 * target


def test_synthetic_documents_look_like_articles() -> None:
    documents = synthetic_documents(500)
    assert len({d.doc_id for d in documents}) == len(documents)
    assert all(d.title and len(d.text.split("\n\n")) >= 3 for d in documents)
    assert any(d.author is None for d in documents) and any(d.author for d in documents)
    assert any(d.url is None for d in documents) and any(d.url for d in documents)
    assert any("Dr. " in d.text for d in documents) and any('"' in d.text for d in documents)


def test_beir_corpus_round_trips_through_load_corpus(tmp_path: Path) -> None:
    documents = synthetic_documents(200, seed=5)
    file = write_beir_corpus(documents, tmp_path / "synthetic")
    assert file == tmp_path / "synthetic" / "corpus.jsonl"
    loaded = load_corpus(tmp_path / "synthetic")

    def fields(d: Document) -> tuple[str | None, ...]:
        return (d.doc_id, d.title, d.text, d.author, d.publisher, d.url, d.metadata.get("condition"))

    assert [fields(d) for d in loaded] == [fields(d) for d in documents]


def test_query_bench_smoke_reports_every_backend_against_its_floor(tmp_path: Path) -> None:
    from eval import query_bench

    assert query_bench.main(["--smoke", "--backends", "torch,onnx-int8", "--out", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert [b["backend"] for b in results["backends"]] == ["torch", "onnx-int8"]
    for backend in results["backends"]:
        assert min(backend["floor"]["p50"], backend["in_process"]["p50"], backend["http"]["p50"]) > 0
        assert 0 < backend["http_alone"]["p50"] < backend["http"]["p50"]  # a query costs more than no work
        assert backend["in_process_over_floor"] > 0
        assert 0 <= backend["quality"]["recall@5"] <= 1 and 0 <= backend["quality"]["mrr@10"] <= 1
    assert results["backends"][0]["cosine_to_torch_min"] > 0.9999
    assert 0.9 < results["backends"][1]["cosine_to_torch_min"] < 1.0
    if results["txtai"] is not None:  # only where var/txtai-venv exists
        assert {"dense", "hybrid"} <= results["txtai"].keys()
    assert "| torch |" in (tmp_path / "report.md").read_text(encoding="utf-8")
