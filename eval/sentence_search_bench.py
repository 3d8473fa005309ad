"""Per-query cost of sentence-level retrieval for the answer (citeqa.sentence_search); a benchmark:

    python -m eval.sentence_search_bench [--questions 100] [--candidates 10] [--sizes 10000,100000,300000]

On the medquad-dev index (built by eval.answer_corpora on first use): the time of ``top_sentences`` alone
and of ``Answerer.analyze`` (hybrid, top 5) with and without sentence candidates, over its first
``--questions`` questions (each asked once to warm the caches, then timed). Then the brute-force product
alone over random unit vectors of each ``--sizes`` row count (384 floats), to show where the size limit
(citeqa.sentence_search.MAX_BRUTE_FORCE_SENTENCES) stands. Medians and 95th percentiles in milliseconds;
the machine is shared, so read ratios more than absolute numbers.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence

import numpy as np

from citeqa.answer_model import load_answer_model
from citeqa.answers import Answerer
from citeqa.sentence_search import top_sentences


def timed(calls: Sequence[Callable[[], object]]) -> tuple[float, float]:
    """Median and 95th percentile (ms) of each call, run once."""
    times = []
    for call in calls:
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return float(np.median(times)), float(np.percentile(times, 95))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--candidates", type=int, default=10)
    parser.add_argument("--sizes", default="10000,100000,300000")
    args = parser.parse_args(argv)

    from eval.answer_corpora import MEDQUAD_DEV, dataset_answerer
    from eval.beir import load_beir_dataset

    base = dataset_answerer()
    searcher = base.searcher
    index = searcher.index
    rows = sum(len(s.reader.sentences or ()) for s in index.segments)
    print(f"medquad-dev index: {len(index.passages)} passages, {rows} stored sentence rows")
    questions = [q.text for q in load_beir_dataset(MEDQUAD_DEV).queries.values()][: args.questions]
    vectors = [searcher.encode_question(q) for q in questions]
    model = load_answer_model()
    plain = Answerer(searcher, answer_model=model, sentence_candidates=0)
    wide = Answerer(searcher, answer_model=model, sentence_candidates=args.candidates)
    wide.caches = plain.caches
    for q in questions:  # warm: every sentence vector and term set cached, as a running service has them
        plain.analyze(q, 5)
        wide.analyze(q, 5)
    k = args.candidates
    print(f"| measure ({len(questions)} questions) | median ms | p95 ms |")
    print("|---|---|---|")
    for name, calls in (
        (f"top_sentences k={k}", [lambda v=v: top_sentences(index, v, k) for v in vectors]),
        ("analyze, no sentence candidates", [lambda q=q: plain.analyze(q, 5) for q in questions]),
        (f"analyze, {k} sentence candidates", [lambda q=q: wide.analyze(q, 5) for q in questions]),
    ):
        median, p95 = timed(calls)
        print(f"| {name} | {median:.2f} | {p95:.2f} |")
    rng = np.random.default_rng(0)
    for size in (int(s) for s in args.sizes.split(",")):
        matrix = rng.standard_normal((size, 384), dtype=np.float32)
        matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)

        def search(v: np.ndarray, m: np.ndarray = matrix) -> np.ndarray:
            scores = m @ v
            return np.argpartition(-scores, 3 * k)[: 3 * k]

        median, p95 = timed([lambda v=v: search(v) for v in vectors[:30]])
        print(f"| brute force, {size:,} random sentence vectors | {median:.2f} | {p95:.2f} |")
        del matrix


if __name__ == "__main__":
    main()
