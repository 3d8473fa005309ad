"""An FAQ page answers a question with the sentences after the question it asks, not with the question
itself or a sentence of another entry: asked over HTTP at k = 1, 5 and 10, on an FAQ this test writes
(nothing was fitted on it), in the three layouts FAQ pages use."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient
from support import documents_client

from citeqa.answer_features import asked_before
from corpus.types import Document
from indexer.embedding import SentenceTransformerEncoder

KS = (1, 5, 10)

LIBRARY = (
    "Library Card: Frequently Asked Questions\n\n"
    "Here are answers to what members ask us most about borrowing from the city library.\n\n"
    "How many books can I borrow at once?\n"
    "You can borrow up to 12 items at a time on an adult card. Children's cards allow 6 items. E-books "
    "count separately, with a limit of 5.\n\n"
    "How long can I keep a book?\n"
    "Most books are lent for three weeks. New releases are lent for one week only, because the waiting "
    "lists for them are long. You can renew an item twice if nobody has reserved it.\n\n"
    "What happens if I return a book late?\n"
    "Late returns cost 20 cents per item per day, up to 5 dollars per item. Children's items are never "
    "charged. A card with more than 10 dollars owing is blocked until it is paid.\n\n"
    "Can I borrow books from another branch?\n"
    "Yes. Reserve the book online and choose the branch where you want to collect it; it usually "
    "arrives within four working days.\n"
)
TRAINS = (
    "Rail Pass Questions\n\n"
    "Q: Can I bring my bicycle on the train?\n"
    "A: Folding bicycles travel free at any time if they are folded. Full-size bicycles need a bike ticket "
    "and are not allowed on weekday trains arriving before 9 am.\n\n"
    "Q: Do children need their own ticket?\n"
    "A: Children under 5 travel free with an adult. From 5 to 15 they pay half the adult fare.\n\n"
    "Q: How do I get a refund for an unused ticket?\n"
    "A: Fill in the refund form at any ticket office or online within 28 days of the travel date. An "
    "administration fee of 2 pounds is taken from each refund.\n"
)
PAINT = (
    "Painting Walls: Your Questions Answered\n\n"
    "How long should paint dry between coats? Wait at least four hours between coats of water-based "
    "paint, and a full day for oil-based paint. Cold or humid rooms need longer. "
    "Do I need primer on a painted wall? Only if you are covering a dark colour or a glossy finish. A "
    "wall in good condition with a matt finish takes a new coat without primer. "
    "How much paint does a room need? One litre covers about 10 square metres per coat, so a "
    "bedroom of 4 by 4 metres needs about 8 litres for two coats.\n"
)
DOCUMENTS = {
    "library": ("Library card FAQ", LIBRARY),
    "trains": ("Rail pass FAQ", TRAINS),
    "paint": ("Paint", PAINT),
}

# Each question, and the sentences of the answer it asks for (any of them answers it).
QUESTIONS = (
    ("what is the fine for bringing books back late", ("Late returns cost 20 cents",)),
    ("how long is the loan period for library books", ("Most books are lent for three weeks.",)),
    ("is my bike allowed on the train", ("Folding bicycles travel free", "Full-size bicycles need a bike")),
    pytest.param(
        "does my 4 year old need a train ticket",
        ("Children under 5 travel free with an adult.",),
        marks=pytest.mark.xfail(
            strict=True,
            reason="its entry's question ranks first (asked_before 1), but 'Full-size bicycles need a bike "
            "ticket ...' shares 'need' and 'ticket' with the question and the answer shares no word with "
            "it ('4 year old' against 'under 5'): term overlap outweighs the entry (stop 39)",
        ),
    ),
    ("how many hours between coats of paint", ("Wait at least four hours between coats",)),
)


def test_asked_before_is_the_rank_of_the_question_just_before_among_the_questions() -> None:
    cosine = np.array([0.6, 0.4, 0.3, 0.8, 0.2, 0.7])
    follows = np.array([0.0, 1.0, 0.0, 0.0, 1.0, 0.0])  # the first and fourth sentences ask
    questions = np.array([True, False, False, True, False, False])
    assert asked_before(cosine, follows, questions).tolist() == [0.0, 0.5, 0.0, 0.0, 1.0, 0.0]
    # A question outside the pool (a lower result's) ranks nowhere: with none in the pool, none ranks first.
    outside = np.array([False, False, False, True, False, False])
    assert asked_before(cosine, follows, outside).tolist() == [0.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    assert asked_before(cosine, follows, np.zeros(6, dtype=bool)).tolist() == [0.0] * 6


@pytest.fixture(scope="module")
def faq_client(
    tmp_path_factory: pytest.TempPathFactory, encoder: SentenceTransformerEncoder
) -> Iterator[TestClient]:
    documents = [Document(doc_id, title, text) for doc_id, (title, text) in DOCUMENTS.items()]
    with documents_client(documents, tmp_path_factory.mktemp("faq-pages") / "index", encoder) as client:
        yield client


@pytest.mark.parametrize(("question", "answers"), QUESTIONS)
def test_an_faq_answers_with_the_sentences_after_the_question_asked(
    faq_client: TestClient, question: str, answers: tuple[str, ...]
) -> None:
    for k in KS:
        response = faq_client.post("/query", json={"question": question, "top_k": k})
        assert response.status_code == 200, response.text
        text = response.json()["answer"]["text"]
        assert text.startswith(answers), (k, text)
