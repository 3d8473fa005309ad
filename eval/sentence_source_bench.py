"""Benchmark (not a test): what reading sentence vectors from the index costs a query, against the plain
in-memory dict of text -> vector that start-up embedding used to fill, and what sentence-level fusion adds.

    python -m eval.sentence_source_bench --index DIR [--dataset BEIR_DIR] [--queries 200] [--warmup 20]

One process, one index, one encoder; per question, alternately and each series first in turn (so a change of
the machine's load, and the work the series share, hit every series alike): the default answer
(Answerer.respond, hybrid, k=5) with the stored vectors (citeqa.stored_sentences), the same with the same
vectors copied into a dict as ``preloaded`` (the previous release's path), and the stored path with sentence-
level fusion (``--sentence-weight``). Questions come from the dataset's queries.jsonl. Response and question
caches are off; the question's encoding is in every series.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path

from citeqa.answers import Answerer
from citeqa.search import Searcher
from eval.beir import load_beir_dataset
from eval.bench import Latency, load_average
from indexer.load import load_index
from service.settings import Settings
from service.wiring import build_answerer, build_encoder


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m eval.sentence_source_bench", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--dataset", type=Path, default=Path("../shared/benchmarks/medquad-dev"))
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--sentence-weight", type=float, default=0.5)
    args = parser.parse_args(argv)
    questions = [q.text for q in load_beir_dataset(args.dataset).queries.values()]
    settings = Settings(index_path=args.index, response_cache_size=0, question_cache_size=0)
    encoder = build_encoder(settings)
    index = load_index(settings.index_path, expected_model=settings.model)
    stored = build_answerer(settings, Searcher(index, encoder))
    in_memory = Answerer(stored.searcher, stored.calibration, stored.dedup, answer_model=stored.answer_model)
    in_memory.caches.stored = {}
    in_memory.preload_sentences(dict(stored.stored_sentences.items()))
    fusion = replace(stored.searcher.fusion, sentence_weight=args.sentence_weight)
    sentences = Answerer(
        Searcher(stored.searcher.index, encoder, fusion),
        stored.calibration,
        stored.dedup,
        answer_model=stored.answer_model,
    )
    series = {
        "stored (default)": stored,
        "in-memory dict (previous)": in_memory,
        "sentence fusion": sentences,
    }
    samples: dict[str, list[float]] = {name: [] for name in series}
    load_start = load_average()
    for number, question in enumerate(questions[: args.warmup + args.queries]):
        # Each series goes first in turn: the first to see a question pays for what all share (its
        # passages' sentence splits, their documents), the others find it done.
        names = list(series)
        for name in names[number % len(names) :] + names[: number % len(names)]:
            answerer = series[name]
            started = time.perf_counter()
            answerer.respond(question, 5, "hybrid")
            if number >= args.warmup:
                samples[name].append((time.perf_counter() - started) * 1000)
    result = {
        "index": str(args.index),
        "passages": len(stored.searcher.index.passages),
        "queries": args.queries,
        "sentence_weight": args.sentence_weight,
        "load": [load_start, load_average()],
        "latency_ms": {name: asdict(Latency.of(values)) for name, values in samples.items()},
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
