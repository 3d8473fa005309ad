"""The answer sentence on documents shaped unlike the milia articles: Markdown lists, FAQ pages, manuals.
A small corpus written here is indexed with the real model and asked over HTTP, as a user asks it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from support import documents_client

from corpus.formats import extract
from corpus.types import Document
from indexer.embedding import SentenceTransformerEncoder

EXAM = """# Exam day checklist

- Bring two pencils, an eraser, a ruler, etc.
- The exam starts at nine in the morning in room 12, so arrive a quarter of an hour early.
- Phones must be switched off and left in your bag.
"""
SEALS = """# Seal facts

- Harbor seals dive to a depth of 500 m.
- They can hold their breath for 40 minutes when resting on the sea floor.
"""
HANDBOOK = """# Employee handbook

## How to request paid time off from your manager in the HR portal

Open the HR portal, choose Time off, pick the dates and submit. Your manager approves or declines within two
working days.

## What happens to unused vacation days at the end of the year

Up to five unused days carry over into the next year. Any days beyond five expire on 31 December.
"""
# A plain text file keeps its list markers in the document's text.
REPOTTING = (
    "Signs a plant needs repotting\n\n"
    "- Roots are growing out of the drainage holes or circling on the surface of the soil.\n"
    "- The soil dries out within two or three days of watering.\n\n"
    "How to repot\n\n"
    "1. Water the plant a day before repotting so the root ball holds together.\n"
    "2. Choose a new pot only 2 to 5 centimetres wider than the old one.\n"
)
TEXTS = {
    "handbook": ("Employee handbook", HANDBOOK),
    "exam-day": ("Exam day checklist", EXAM),
    "seal-facts": ("Seal facts", SEALS),
    "walrus": (
        "Walrus notes",
        # Pasted from a web page: zero-width spaces after the full stops, where the page showed a space.
        "A walrus can weigh 1.5 tonnes, i.e. as much as a small car.\u200b Dr. Smith weighed twelve of them "
        "on the ice.\u200bWalruses use their tusks to haul themselves out of the water.",
    ),
    "moving": (
        "Office move",
        "The office moves to the new building on 14 March. Pack your desk, your files, your plants, etc. The "
        "movers arrive at eight in the morning and load the vans floor by floor.",
    ),
    "canal": ("The canal", "The canal opened in 1825. Barges carried salt and timber to the harbor."),
}


def markdown(text: str) -> str:
    """The text citeqa reads from a Markdown file (rendered: the list's "- " and the heading's "#" gone)."""
    return extract(text.encode(), "markdown", "utf-8", "test.md").text


@pytest.fixture(scope="module")
def lists_client(
    tmp_path_factory: pytest.TempPathFactory, encoder: SentenceTransformerEncoder
) -> Iterator[TestClient]:
    documents = [Document(doc_id, title, markdown(text)) for doc_id, (title, text) in TEXTS.items()]
    documents.append(Document("repotting", "Repotting", REPOTTING))
    with documents_client(documents, tmp_path_factory.mktemp("lists") / "index", encoder) as client:
        yield client


def answer_of(client: TestClient, question: str, k: int) -> dict:
    response = client.post("/query", json={"question": question, "top_k": k})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        (
            "when does the exam start",
            "The exam starts at nine in the morning in room 12, so arrive a quarter of an hour early.",
        ),
        ("how deep do harbor seals dive", "Harbor seals dive to a depth of 500 m."),
    ],
)
@pytest.mark.parametrize("k", [1, 3])
def test_a_list_item_ending_in_an_abbreviation_is_a_sentence_of_its_own(
    lists_client: TestClient, question: str, expected: str, k: int
) -> None:
    """ "etc." or "500 m." at the end of a list item used to join the item to the next one (a single letter
    or an abbreviation does not end a sentence, and the line break after it was swallowed with it), so the
    answer and the highlight quoted two list items as one sentence."""
    body = answer_of(lists_client, question, k)
    assert body["answer"] is not None and body["answer"]["text"] == expected
    highlighted = [
        (h["start"], h["end"])
        for r in body["results"]
        for h in r["highlights"]
        if r["citation"]["doc_id"] == body["answer"]["citation"]["doc_id"]
    ]
    citation = body["answer"]["citation"]
    assert (citation["start"], citation["end"]) in highlighted


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("how heavy is a walrus", "A walrus can weigh 1.5 tonnes, i.e. as much as a small car."),
        (
            "what do walruses use their tusks for",
            "Walruses use their tusks to haul themselves out of the water.",
        ),
    ],
)
def test_a_zero_width_space_after_a_full_stop_ends_the_sentence(
    lists_client: TestClient, question: str, expected: str
) -> None:
    """A zero-width space (U+200B) is no whitespace to Python's regular expressions, so a sentence that
    ended in one ran on into the next, and the answer quoted both."""
    body = answer_of(lists_client, question, 3)
    assert body["answer"] is not None and body["answer"]["text"] == expected


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("how do I request paid time off", "Open the HR portal, choose Time off, pick the dates and submit."),
        ("what happens to unused vacation days", "Up to five unused days carry over into the next year."),
    ],
)
@pytest.mark.parametrize("k", [1, 5])
def test_a_long_heading_is_not_the_answer(
    lists_client: TestClient, question: str, expected: str, k: int
) -> None:
    """A heading of 8 words or more counts as sentence-like (a long line without a full stop may be a list
    item), and one that repeats the question's words was the answer and the only highlight: 'How to request
    paid time off from your manager in the HR portal'. A line without a sentence's end alone in its
    paragraph is now a heading, not an answer."""
    body = answer_of(lists_client, question, k)
    assert body["answer"] is not None and body["answer"]["text"] == expected
    document = lists_client.get("/documents/handbook").json()["text"]
    for result in body["results"]:
        if result["citation"]["doc_id"] == "handbook":
            shown = [document[h["start"] : h["end"]] for h in result["highlights"]]
            assert expected in shown and not any(s.startswith(("How to", "What happens")) for s in shown), (
                shown
            )


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        (
            "how much wider should the new pot be",
            "Choose a new pot only 2 to 5 centimetres wider than the old one.",
        ),
        ("are roots growing out of the drainage holes a sign", "Roots are growing out of the drainage holes"),
    ],
)
@pytest.mark.parametrize("k", [1, 5])
def test_an_answer_from_a_list_quotes_the_item_without_its_marker(
    lists_client: TestClient, question: str, expected: str, k: int
) -> None:
    """In a plain text file the answer and its highlight quoted the list item with its marker: '2. Choose a
    new pot...', '- Roots are growing...'. They start at the item's first word now, cited exactly."""
    body = answer_of(lists_client, question, k)
    answer = body["answer"]
    assert answer is not None and answer["text"].startswith(expected), answer
    citation = answer["citation"]
    assert REPOTTING[citation["start"] : citation["end"]] == answer["text"]
    [holding] = [r for r in body["results"] if r["citation"]["doc_id"] == "repotting"]
    assert {"start": citation["start"], "end": citation["end"]} in holding["highlights"]


@pytest.mark.parametrize("k", [1, 5])
def test_etc_before_a_capital_ends_the_sentence(lists_client: TestClient, k: int) -> None:
    """'etc.' is an abbreviation, so it never ended a sentence, and the answer quoted two: 'Pack your desk,
    your files, your plants, etc. The movers arrive at eight...'. Followed by a capital it ends one now."""
    body = answer_of(lists_client, "when do the movers arrive", k)
    expected = "The movers arrive at eight in the morning and load the vans floor by floor."
    assert body["answer"] is not None and body["answer"]["text"] == expected
