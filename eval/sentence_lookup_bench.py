"""Micro-benchmark (not a test) of the two code paths sentence storage changes, robust to a loaded machine
(timeit: the minimum of repeats):

    python -m eval.sentence_lookup_bench --index DIR [--dataset BEIR_DIR] [--questions 50]

1. The sentence-vector lookup of one response (SentenceCaches.sentence_vectors over the sentences of the first
   10 results): the stored vectors (citeqa.stored_sentences, the default) against the same vectors in a plain
   dict (the previous release's preloaded path).
2. Sentence-level fusion's extra work: SegmentedVectors.best_sentence_scores over one question's candidates.
"""

from __future__ import annotations

import argparse
import timeit
from collections.abc import Sequence
from pathlib import Path

from citeqa.answers import Answerer
from citeqa.search import Searcher
from citeqa.sentence_caches import SentenceCaches
from citeqa.sentence_scoring import result_sentences
from citeqa.stored_sentences import StoredSentenceVectors
from eval.beir import load_beir_dataset
from indexer.load import load_index
from service.settings import Settings
from service.wiring import build_encoder


def per_call_ms(call: object, calls: int, number: int = 20, repeat: int = 5) -> float:
    best = min(timeit.repeat(call, number=number, repeat=repeat))  # type: ignore[arg-type]
    return best / number / calls * 1e3


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m eval.sentence_lookup_bench", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--dataset", type=Path, default=Path("../shared/benchmarks/medquad-dev"))
    parser.add_argument("--questions", type=int, default=50)
    args = parser.parse_args(argv)
    index = load_index(args.index)
    encoder = build_encoder(Settings())
    stored = StoredSentenceVectors(index)
    stored.warm()
    plain = dict(stored.items())
    answerer = Answerer(Searcher(index, encoder))
    questions = [q.text for q in load_beir_dataset(args.dataset).queries.values()][: args.questions]
    texts_of = []
    for question in questions:
        doc_ids, spans, _ = result_sentences(answerer.results(question, "hybrid")[:10], index.documents)
        texts_of.append(
            [index.documents[d].text[s.start : s.end] for d, s in zip(doc_ids, spans, strict=True)]
        )
    from_store, from_dict = SentenceCaches(stored=stored), SentenceCaches(preloaded=plain)

    def lookups(caches: SentenceCaches) -> None:
        for texts in texts_of:
            caches.sentence_vectors(texts, encoder)

    stored_ms = per_call_ms(lambda: lookups(from_store), len(texts_of))
    dict_ms = per_call_ms(lambda: lookups(from_dict), len(texts_of))
    searcher = Searcher(index, encoder)
    candidates = []
    for question in questions:
        query = searcher.encode_question(question)
        candidates.append((searcher.candidates(question, 100, query=query).ids, query))
    best_ms = per_call_ms(
        lambda: [index.dense.best_sentence_scores(ids, query) for ids, query in candidates],
        len(candidates),
        5,
    )
    sentences = sum(len(t) for t in texts_of) / len(texts_of)
    print(f"sentences per response (first 10 results): {sentences:.0f}")
    print(f"lookup per response: stored {stored_ms:.3f} ms, in-memory dict {dict_ms:.3f} ms")
    size = sum(len(ids) for ids, _ in candidates) / len(candidates)
    print(f"candidates per question: {size:.0f}; best_sentence_scores per question: {best_ms:.3f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
