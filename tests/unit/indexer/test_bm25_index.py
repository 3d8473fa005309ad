"""BM25 over passages that hold no term at all (symbols, punctuation): an index all the same, that
finds nothing, instead of a crash (a write could leave the index with only such documents)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from indexer.bm25_index import Bm25Index


@pytest.mark.parametrize(
    "build",
    [
        lambda texts: Bm25Index.build(texts),
        lambda texts: Bm25Index.build_from_tokens(Bm25Index.tokenize(texts)),
    ],
    ids=["build", "build_from_tokens"],
)
def test_passages_without_terms_make_an_empty_index(build: Callable[[list[str]], Bm25Index]) -> None:
    index = build(["!!! ???", "🍞 — …", "   "])
    assert len(index) == 3
    scores, ids = index.search("bread", 3)
    assert len(scores) == len(ids) == 0
    assert index.scores("bread").tolist() == [0.0, 0.0, 0.0]


def test_terms_still_score_beside_passages_without_any() -> None:
    index = Bm25Index.build_from_tokens(Bm25Index.tokenize(["rye bread bakes long", "!!!"]))
    scores, ids = index.search("rye", 2)
    assert ids.tolist() == [0] and scores[0] > 0
