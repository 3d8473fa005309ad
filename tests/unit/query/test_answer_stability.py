"""The answer is the question's, whatever page is asked for, and every result carries a snippet: through the
real model, index and HTTP app."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from citeqa.snippets import SNIPPET_CHARS
from citeqa.types import SEARCH_MODES
from eval.seed_set import load_eval_set
from indexer.load import LoadedIndex

EXTRA = [
    "is it safe to pop the white bumps on my baby's nose?",
    "what are milia",
    "best moisturizer brand for eczema",
    "what is the capital of france",
]


def decision(body: dict[str, Any]) -> tuple[Any, ...]:
    answer = body["answer"]
    cited = (
        None
        if answer is None
        else (answer["text"], answer["citation"]["doc_id"], answer["citation"]["start"])
    )
    return cited, body["answerable"], body["confidence"]


@pytest.mark.parametrize("mode", SEARCH_MODES)
def test_the_answer_does_not_depend_on_top_k_or_paging(client: TestClient, mode: str) -> None:
    questions = [q.question for q in load_eval_set()][::4] + EXTRA
    for question in questions:
        seen = set()
        for top_k, offset in [(1, 0), (5, 0), (10, 0), (3, 2), (2, 7)]:
            response = client.post(
                "/query", json={"question": question, "top_k": top_k, "mode": mode, "offset": offset}
            )
            assert response.status_code == 200, response.text
            seen.add(decision(response.json()))
        assert len(seen) == 1, f"{question!r} ({mode}): {seen}"


def test_highlights_do_not_depend_on_the_page(client: TestClient) -> None:
    """Result 3 is highlighted the same whether it is asked for on the first page or alone."""
    for question in ("does laser work on milia", "what is secondary milia"):
        whole = client.post("/query", json={"question": question, "top_k": 5}).json()["results"]
        alone = client.post("/query", json={"question": question, "top_k": 1, "offset": 2}).json()["results"]
        assert alone[0]["highlights"] == whole[2]["highlights"]
        assert alone[0]["snippet"] == whole[2]["snippet"]


@pytest.mark.parametrize("mode", SEARCH_MODES)
def test_every_result_has_a_snippet_that_quotes_its_document(
    client: TestClient, loaded_index: LoadedIndex, mode: str
) -> None:
    texts = {d.doc_id: d.text for d in loaded_index.documents.values()}
    for question in [q.question for q in load_eval_set()][::5] + EXTRA:
        body = client.get("/search", params={"q": question, "k": 10, "mode": mode}).json()
        for result in body["results"]:
            snippet, c = result["snippet"], result["citation"]
            document = texts[c["doc_id"]]
            assert document[snippet["start"] : snippet["end"]] == snippet["text"]
            assert document[c["start"] : c["end"]] == result["text"], "the full result text is still sent"
            assert c["start"] <= snippet["start"] < snippet["end"] <= c["end"]
            assert len(snippet["text"]) <= SNIPPET_CHARS
            assert snippet["text"] == snippet["text"].strip()
            # The snippet shows an answering sentence (or its first 300 characters).
            assert any(snippet["start"] <= h["start"] < snippet["end"] for h in result["highlights"])
    shown = [len(r["snippet"]["text"]) for r in body["results"]]
    assert sum(shown) < sum(len(r["text"]) for r in body["results"]), "snippets are shorter than results"
