"""An FAQ page, indexed with the real model and asked over HTTP: the answer is the sentence that answers
the question, not the FAQ's own question, which is closer to what the user typed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from corpus.formats import extract
from corpus.types import Document
from indexer.embedding import DEFAULT_MODEL, SentenceTransformerEncoder

FAQ = """# Frequently asked questions

## Orders

**How long does shipping take?**
Standard shipping takes three to five business days within the country. Express shipping arrives the next
business day if you order before noon.

**Can I change my order after placing it?**
You can change or cancel an order within one hour of placing it from the Orders page. After that the order
is already being packed.

## Returns

**What is your return policy?**
Unused items can be returned within 30 days of delivery for a full refund. Sale items can be exchanged but
not refunded.

**How do I return an item?**
Print the return label from your account, pack the item in its original box and drop it at any post office.

**When will I get my refund?**
Refunds are issued to the original payment method within ten days of the return reaching our warehouse.

## Accounts

**How do I reset my password?**
Click "Forgot password" on the sign-in page and follow the link we email you. The link expires after 24 hours.
"""
QUESTIONS = {
    "can I change my order": "You can change or cancel an order within one hour",
    "what is the return policy": "Unused items can be returned within 30 days",
    "how do I return an item": "Print the return label from your account",
    "when will I get my refund": "Refunds are issued to the original payment method",
    "how do I reset my password": 'Click "Forgot password" on the sign-in page',
}


@pytest.fixture(scope="module")
def faq_client(
    tmp_path_factory: pytest.TempPathFactory, encoder: SentenceTransformerEncoder
) -> Iterator[TestClient]:
    from indexer.build import IndexSettings, build_index
    from service.app import create_app
    from service.settings import Settings
    from service.wiring import build_searcher

    text = extract(FAQ.encode(), "markdown", "utf-8", "faq.md").text
    path: Path = tmp_path_factory.mktemp("faq") / "index"
    build_index(
        [Document("shop-faq", "Shop FAQ", text)], encoder, path, IndexSettings(), "an FAQ written by the test"
    )
    settings = Settings(index_path=path, model=DEFAULT_MODEL)
    with TestClient(create_app(settings, build_searcher(settings, encoder))) as client:
        yield client


@pytest.mark.parametrize("question", QUESTIONS)
@pytest.mark.parametrize("k", [1, 5])
def test_an_faq_question_followed_by_its_answer_is_not_the_answer(
    faq_client: TestClient, question: str, k: int
) -> None:
    """The FAQ's question scored highest (it repeats the user's words) and was the answer and the highlight,
    e.g. 'What is your return policy?' for 'what is the return policy'; the sentence after it answers."""
    response = faq_client.post("/query", json={"question": question, "top_k": k})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["answerable"]
    assert body["answer"]["text"].startswith(QUESTIONS[question]), body["answer"]["text"]
    document = faq_client.get("/documents/shop-faq").json()["text"]
    for result in body["results"]:
        for highlight in result["highlights"]:
            assert not document[highlight["start"] : highlight["end"]].endswith("?"), highlight
