"""Documents that share their text are each a result (found by a probe: in a BEIR corpus with a page
stored under two ids, or two ids whose titles alone differ, the HTTP API showed only the better one, so a
scorer reading citations lost the other while ``citeqa eval --dataset`` counted it; MedQuAD shares sections
word for word across pages, e.g. GHR's inheritance paragraphs). Over HTTP as served, against the harness's
own document ranking (eval.beir_eval.ranked_documents)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from support import QUESTION_ENCODERS, writable_client

from citeqa.search import Searcher
from corpus.beir import load_beir_corpus
from eval.beir_eval import ranked_documents
from indexer.build import IndexSettings, build_index
from indexer.embedding import DEFAULT_MODEL
from indexer.load import load_index
from service.settings import Settings

STARTER = (
    "Mix equal weights of wholemeal flour and water in a jar and leave it at room temperature. Every day, "
    "discard half and feed it with fresh flour and water. After five to ten days the starter should double "
    "within a few hours of feeding and smell pleasantly sour."
)
TRIGGERS = (
    "Common migraine triggers are missed meals, poor sleep, stress, bright or flickering light, strong "
    "smells, alcohol such as red wine, and hormonal changes. A headache diary helps to find triggers."
)
RECORDS = [
    ("starter", "Making a sourdough starter", STARTER),
    ("starter-v2", "Sourdough starter: a beginner's recipe", STARTER),  # the same text, another title
    ("triggers", "Common migraine triggers", TRIGGERS),
    ("triggers-copy", "Common migraine triggers", TRIGGERS),  # the same page under a second id
    ("bulk", "Bulk fermentation", "Bulk fermentation is the first rise after mixing, four to six hours."),
    ("salt", "Salt", "Sourdough bread usually contains about two percent salt by flour weight."),
    ("aura", "Migraine with aura", "Some people see flashing lights or zigzag lines before a migraine."),
    ("chain", "Bike chains", "Wipe the chain with a rag, scrub it with degreaser, then add a drop of lube."),
]
QUESTIONS = {
    "how to make a sourdough starter from scratch": {"starter", "starter-v2"},
    "what can trigger migraine attacks": {"triggers", "triggers-copy"},
}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, encoder: Any) -> Iterator[tuple[TestClient, Searcher]]:
    root = tmp_path_factory.mktemp("twins")
    corpus = root / "corpus.jsonl"
    lines = [
        json.dumps({"_id": i, "title": t, "text": x, "metadata": {"url": f"https://example.org/{i}"}})
        for i, t, x in RECORDS
    ]
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    folder = root / "index"
    build_index(load_beir_corpus(corpus), encoder, folder, IndexSettings(), "twins test")
    with writable_client(folder, encoder) as client:
        # The harness's side: the same index and the question encoder the served app was given.
        tower = str(Settings(index_path=folder, model=DEFAULT_MODEL).question_tower_path)
        questions = QUESTION_ENCODERS[(id(encoder), tower)]
        searcher = Searcher(load_index(folder), encoder, question_encoder=questions)
        yield client, searcher


@pytest.mark.parametrize("question", sorted(QUESTIONS))
def test_each_document_of_a_shared_text_is_a_result(
    served: tuple[TestClient, Searcher], question: str
) -> None:
    client, searcher = served
    for mode in ("hybrid", "dense", "bm25"):
        response = client.get("/search", params={"q": question, "k": 10, "mode": mode})
        assert response.status_code == 200, response.text
        results = response.json()["results"]
        cited = [r["citation"]["doc_id"] for r in results]
        assert QUESTIONS[question] <= set(cited[:2]), (mode, cited)
        texts = {i: x for i, _, x in RECORDS}
        for r in results:
            c = r["citation"]
            assert texts[c["doc_id"]][c["start"] : c["end"]] == r["text"]
        # The documents the API cites, in order, are the harness's ranking (every document here is one
        # passage, so none is collapsed away).
        harness = list(ranked_documents(searcher, question, mode, min_documents=len(RECORDS)))
        assert list(dict.fromkeys(cited)) == harness[: len(set(cited))], mode


def test_a_document_still_shows_a_text_once(served: tuple[TestClient, Searcher]) -> None:
    """The rule that remains: within one document the same text is one result (the unit tests of
    citeqa.dedup cover a repetitive document); across documents every cited text is distinct per id."""
    client, _ = served
    results = client.get("/search", params={"q": "sourdough starter", "k": 10}).json()["results"]
    keys = [(r["citation"]["doc_id"], " ".join(r["text"].split()).casefold()) for r in results]
    assert len(keys) == len(set(keys))
