"""A question whose one rare word only BM25 can find (found by a probe: "banneton" over a bread note among
long filler documents sank to 94th in hybrid; dense's closest passage was at 0.19 cosine, noise that
min-max fusion stretched over the dense side's whole weight). With nothing close, hybrid ranks by BM25
(citeqa.readable.NOTHING_CLOSE), over HTTP as served."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from support import writable_client

from corpus.types import Document
from indexer.build import IndexSettings, build_index

BREAD = (
    "# Rye bread notes\n\nRye flour has **little gluten**, so rye dough is sticky.\n\n## Baking time\n\n"
    "A rye loaf bakes for about 55 minutes at 230 °C.\n\n- Use a banneton.\n- Score the loaf.\n"
)


def filler() -> list[Document]:
    rng = random.Random(0)
    greek = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu".split()
    letters = " ".join(rng.choice(greek) for _ in range(6000))
    lighthouse = " ".join(f"Sentence number {i} talks about lighthouse keepers." for i in range(400))
    penguins = "Penguins huddle to stay warm. " * 300
    texts = {"letters": letters, "lighthouse": lighthouse, "penguins": penguins.strip(), "rye": BREAD}
    return [Document(doc_id, doc_id.title(), text) for doc_id, text in texts.items()]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, encoder: Any) -> Iterator[TestClient]:
    folder = tmp_path_factory.mktemp("rare-word") / "index"
    build_index(filler(), encoder, folder, IndexSettings(), "rare-word test")
    with writable_client(folder, encoder) as client:
        yield client


@pytest.mark.parametrize("question", ["banneton", "proofing basket banneton", "what is a banneton used for"])
def test_the_only_passage_with_the_rare_word_comes_first(served: TestClient, question: str) -> None:
    for mode in ("hybrid", "bm25"):
        response = served.get("/search", params={"q": question, "k": 5, "mode": mode})
        assert response.status_code == 200, response.text
        top = response.json()["results"][0]
        assert top["citation"]["doc_id"] == "rye", (
            mode,
            [r["citation"]["doc_id"] for r in response.json()["results"]],
        )
        assert BREAD[top["citation"]["start"] : top["citation"]["end"]] == top["text"]


def test_a_question_dense_retrieval_can_read_keeps_its_ranking(served: TestClient) -> None:
    """Close passages exist: the configured fusion ranks (the lighthouse sentences first)."""
    results = served.get("/search", params={"q": "who keeps the lighthouse", "k": 3}).json()["results"]
    assert results[0]["citation"]["doc_id"] == "lighthouse"
