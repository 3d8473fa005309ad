"""The issue's example questions, asked over HTTP at k = 1, 5 and 10, answered rightly at every k: on the
default milia articles, and on a small bread-baking corpus this test writes (a corpus nothing was fitted
on)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from support import documents_client

from corpus.types import Document
from indexer.embedding import SentenceTransformerEncoder

KS = (1, 5, 10)

BREAD = {
    "pizza-dough": (
        "Pizza dough at home",
        "A good pizza dough needs only flour, water, salt and yeast. Mix the flour and water first and let "
        "them rest for twenty minutes before adding the salt and the yeast. Knead the dough until it is "
        "smooth and springs back when you press it.\n"
        "Let the dough rise at room temperature for two hours, then divide it into balls of about 250 grams. "
        "Yes, you can freeze pizza dough: after the first rise, oil each ball, wrap it tightly and freeze it "
        "for up to three months, then thaw it overnight in the fridge. Stretch the dough by hand rather "
        "than with a rolling pin, so the rim keeps its air. Bake the pizza on a hot stone or steel at the "
        "highest temperature your oven reaches.",
    ),
    "scoring": (
        "Scoring bread",
        "Scoring is the shallow cut made on the top of a loaf just before it goes into the oven. The cut "
        "lets the bread expand in a controlled way instead of bursting at its weakest point. Use a razor "
        "blade or a very sharp knife and cut quickly at a shallow angle. Cold dough is easier to score. "
        "Many bakers shape the loaf the evening before and keep it in the fridge overnight, then score it "
        "straight from the fridge. A single long cut gives a classic ear on a batard.",
    ),
    "sourdough-starter": (
        "Keeping a sourdough starter",
        "A sourdough starter is a mixture of flour and water in which wild yeast and lactic acid bacteria "
        "live. Feed it with equal weights of flour and water once or twice a day when it lives on the "
        "counter. A starter kept in the fridge needs feeding only once a week. Before baking, feed the "
        "starter and use it when it has doubled and smells pleasantly sour. If a grey liquid forms on top, "
        "the starter is hungry: pour it off and feed it.",
    ),
    "salt": (
        "How much salt in bread",
        "Salt tightens the gluten, slows the yeast and brings out the flavour of the flour. Most bread "
        "recipes use about two percent salt by weight of the flour. For 1000 grams of flour, use 20 grams of "
        "salt. Too little salt gives a bland loaf that rises too fast; too much salt slows fermentation "
        "and makes the crumb dense.",
    ),
    "rye": (
        "Baking with rye flour",
        "Rye flour absorbs more water than wheat flour and makes a sticky dough. Rye contains little "
        "glutenin, so a rye loaf does not rise as high as a wheat loaf and has a dense, moist crumb. Most "
        "rye breads are leavened with sourdough, whose acidity keeps the rye starches from breaking down. "
        "Let a rye loaf rest for a day after baking before you slice it.",
    ),
    "storing-bread": (
        "Storing bread",
        "Keep bread at room temperature in a paper bag or a bread box for two or three days. Bread goes "
        "stale faster in the fridge than on the counter. To keep bread longer, slice it and freeze it in a "
        "sealed bag; toast the slices straight from the freezer.",
    ),
}


def ask(client: TestClient, question: str, k: int) -> dict:
    response = client.post("/query", json={"question": question, "top_k": k})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.xfail(
    strict=True,
    reason="the result that says 'avoid picking at or squeezing milia' ranks 16th in hybrid (with the "
    "question tower; its passages ranked 11th and 16th before), below the answer depth; sentence-level "
    "retrieval (citeqa/answer_model_sentences.json, measured before the tower) brings 'This can lead to "
    "scarring or infection.' into the candidates but the choice ranked the advice 32nd and 38th of 134, "
    "and the answerability decision (confidence 0.43) withholds any answer (issue 16, open)",
)
@pytest.mark.parametrize("k", KS)
def test_the_baby_nose_question_is_answered_with_the_advice_not_to_pick(client: TestClient, k: int) -> None:
    body = ask(client, "is it safe to pop the white bumps on my baby's nose?", k)
    assert body["answerable"]
    text = body["answer"]["text"]
    assert "avoid picking at or squeezing milia" in text or "scarring or infection" in text, text


@pytest.mark.parametrize("k", KS)
def test_what_are_milia_is_answered_with_the_definition(client: TestClient, k: int) -> None:
    body = ask(client, "what are milia", k)
    assert body["answerable"]
    assert body["answer"]["text"].startswith("Milia are tiny"), body["answer"]["text"]


@pytest.mark.parametrize("k", KS)
def test_a_brand_question_is_flagged_unanswerable(client: TestClient, k: int) -> None:
    """'Pick the best exfoliator for your skin type.' is close to it, but no best sentence names a brand
    (the calibration's answer_type_missing, issue 16)."""
    body = ask(client, "best moisturizer brand for eczema", k)
    assert not body["answerable"] and body["answer"] is None


@pytest.fixture(scope="module")
def bread_client(
    tmp_path_factory: pytest.TempPathFactory, encoder: SentenceTransformerEncoder
) -> Iterator[TestClient]:
    documents = [Document(doc_id, title, text) for doc_id, (title, text) in BREAD.items()]
    folder = tmp_path_factory.mktemp("bread") / "index"
    with documents_client(documents, folder, encoder, "bread articles written by the test") as client:
        yield client


def test_can_i_freeze_pizza_dough_is_answered_with_the_freezing_sentence_at_every_k(
    bread_client: TestClient,
) -> None:
    for k in KS:
        body = ask(bread_client, "can I freeze pizza dough", k)
        assert body["answerable"], k
        assert "freeze pizza dough" in body["answer"]["text"], (k, body["answer"]["text"])
