"""Abbreviations that may end a sentence ("U.S.", "ca.", "p. ex.") over real HTTP (the real app, model,
FAISS and BM25): the answering sentence is the whole sentence, cited exactly."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import writable_client

from corpus.types import Document
from indexer.build import IndexSettings, build_index
from indexer.embedding import SentenceTransformerEncoder

SMITH = "Dr. Smith moved to the U.S. in 1999."
CALCIUM = "Le camembert contient env. 3,5 mg de calcium."
ZINC = "Der Käse enthält ca. 3,5 mg Zink."
DOCUMENTS = [
    Document(
        doc_id="smith",
        title="Dr. Smith",
        text=f"{SMITH} He lives in Boston. He likes the U.S. The food is good.",
    ),
    Document(
        doc_id="camembert",
        title="Le fromage",
        text=f"M. Dupont fabrique du fromage, p. ex. du camembert. {CALCIUM}",
    ),
    Document(
        doc_id="kaese",
        title="Käse",
        text=f"Der Käse wird aus Kuhmilch hergestellt. {ZINC} Die Reifung dauert lange.",
    ),
]


@pytest.mark.parametrize(
    ("question", "doc_id", "sentence"),
    [
        ("when did Dr. Smith move to the U.S.", "smith", SMITH),
        ("Combien de calcium contient le camembert ?", "camembert", CALCIUM),
        ("Wie viel Zink enthält der Käse?", "kaese", ZINC),
        ("Qui fabrique du camembert ?", "camembert", "M. Dupont fabrique du fromage, p. ex. du camembert."),
    ],
)
def test_a_sentence_goes_on_past_an_abbreviation_before_a_lower_case_word_or_a_number(
    tmp_path: Path, encoder: SentenceTransformerEncoder, question: str, doc_id: str, sentence: str
) -> None:
    """Found by the text probe: "U.S.", "ca.", "env." and "p. ex." ended a sentence wherever they stood, so
    the answer to "when did Dr. Smith move to the U.S." was "Dr. Smith moved to the U.S." without "in
    1999", and "Le camembert contient env." was a sentence of its own, its "3,5 mg de calcium." another.
    Such an abbreviation (letters joined by full stops, and some of French, German and Spanish) goes on
    with its sentence when a lower-case word or a number follows ("He likes the U.S. The food" still
    ends there)."""
    build_index(DOCUMENTS, encoder, tmp_path / "index", IndexSettings(), "abbreviations")
    with writable_client(tmp_path / "index", encoder) as client:
        for mode in ("bm25", "hybrid"):
            body = client.get("/search", params={"q": question, "k": 2, "mode": mode}).json()
            top = body["results"][0]
            assert top["citation"]["doc_id"] == doc_id, body["results"]
            text = client.get(f"/documents/{doc_id}").json()["text"]
            marked = [text[h["start"] : h["end"]] for h in top["highlights"]]
            assert sentence in marked, (mode, marked)
            if doc_id == "smith":
                assert "He likes the U.S." in {text[s.start : s.end] for s in _sentences(text)}


def _sentences(text: str) -> list:
    from indexer.chunking import sentence_spans

    return sentence_spans(text)


GERMAN_QUOTE = "Er sagte: \u201eDas Brot ist frisch.\u201c Dann kaufte er K\u00e4se beim Bauern."
FRENCH_QUOTE = (
    "Il dit\u00a0: \u00ab\u00a0Le pain est frais.\u00a0\u00bb Puis il ach\u00e8te du fromage chez le fermier."
)


@pytest.mark.parametrize(
    ("text", "question", "sentence"),
    [
        (GERMAN_QUOTE, "Käse Bauern", "Dann kaufte er Käse beim Bauern."),
        (FRENCH_QUOTE, "fromage fermier", "Puis il achète du fromage chez le fermier."),
        (FRENCH_QUOTE, "pain frais", "Il dit\u00a0: \u00ab\u00a0Le pain est frais.\u00a0\u00bb"),
    ],
)
def test_a_sentence_ends_after_a_german_or_french_closing_quote(
    index_copy: Path, encoder: SentenceTransformerEncoder, text: str, question: str, sentence: str
) -> None:
    """Found by the text probe: a sentence ended after a stop and the English closing quotes only, so a
    German quotation closed by \u201c ran into the next sentence (the answer to "Käse Bauern" held the
    quotation too), and a French one closed by a spaced \u00bb left the guillemet to open the next sentence
    ("» Puis il achète..."). Both close their sentence now."""
    with writable_client(index_copy, encoder, api_keys=["k"]) as client:
        document = {"doc_id": "quote", "title": "Quote", "text": text}
        added = client.post(
            "/documents", json={"documents": [document]}, headers={"Authorization": "Bearer k"}
        )
        assert added.status_code == 200, added.text
        body = client.get("/search", params={"q": question, "k": 1, "mode": "bm25"}).json()
        top = body["results"][0]
        assert top["citation"]["doc_id"] == "quote", body["results"]
        marked = [text[h["start"] : h["end"]] for h in top["highlights"]]
        assert marked == [sentence], marked


def test_a_sentence_ends_at_an_ellipsis_character(
    index_copy: Path, encoder: SentenceTransformerEncoder
) -> None:
    """Found by the text probe: "..." ended a sentence but the ellipsis character (…, which word
    processors write for it) did not: "She waited for the bus… Then the train to Lyon came at noon." was
    one sentence, and so the answer to "train to Lyon". It ends one now, as "..." does."""
    text = "She waited for the bus\u2026 Then the train to Lyon came at noon."
    with writable_client(index_copy, encoder, api_keys=["k"]) as client:
        document = {"doc_id": "trip", "title": "Trip", "text": text}
        added = client.post(
            "/documents", json={"documents": [document]}, headers={"Authorization": "Bearer k"}
        )
        assert added.status_code == 200, added.text
        body = client.get("/search", params={"q": "train to Lyon", "k": 1, "mode": "bm25"}).json()
        top = body["results"][0]
        assert top["citation"]["doc_id"] == "trip", body["results"]
        marked = [text[h["start"] : h["end"]] for h in top["highlights"]]
        assert marked == ["Then the train to Lyon came at noon."], marked


def test_a_sentence_goes_on_past_an_abbreviated_title(
    index_copy: Path, encoder: SentenceTransformerEncoder
) -> None:
    """Found by the text probe: "Mt." and the abbreviated titles ("Gen.", "Sen.", "Capt.") ended a sentence,
    as "Dr." does not: the answer to "how high is Everest" was "Everest is 8,849 metres high." without
    its "Mt.", the title left as a sentence of its own. They go on with their sentence now, as "Dr." does."""
    text = "Many climbers come to Nepal. Mt. Everest is 8,849 metres high. Gen. Bruce led the 1922 team."
    with writable_client(index_copy, encoder, api_keys=["k"]) as client:
        document = {"doc_id": "everest", "title": "Everest", "text": text}
        added = client.post(
            "/documents", json={"documents": [document]}, headers={"Authorization": "Bearer k"}
        )
        assert added.status_code == 200, added.text
        for question, sentence in [
            ("how high is Everest", "Mt. Everest is 8,849 metres high."),
            ("who led the 1922 team", "Gen. Bruce led the 1922 team."),
        ]:
            body = client.get("/search", params={"q": question, "k": 1, "mode": "bm25"}).json()
            top = body["results"][0]
            assert top["citation"]["doc_id"] == "everest", body["results"]
            marked = [text[h["start"] : h["end"]] for h in top["highlights"]]
            assert sentence in marked, marked


def test_a_sentence_ends_at_a_unit_after_a_number(
    index_copy: Path, encoder: SentenceTransformerEncoder
) -> None:
    """Found by the text probe: a one-letter word and a full stop was taken for an initial ("J. Doe"), so
    a sentence ending in a unit ("pro 100 g.", "500 m.") went on into the next: the answer to "Wie viel
    Zink" held the quotation after it. A lower-case one-letter unit after a number ends its sentence now
    when a capital or an opening quote follows ("Take vitamin A. It helps." is still one)."""
    text = "Er enthält 3,5 mg Zink pro 100 g. \u201eDas ist gut\u201c, sagt Dr. Müller über den Käse."
    with writable_client(index_copy, encoder, api_keys=["k"]) as client:
        document = {"doc_id": "zink", "title": "Zink", "text": text}
        added = client.post(
            "/documents", json={"documents": [document]}, headers={"Authorization": "Bearer k"}
        )
        assert added.status_code == 200, added.text
        body = client.get("/search", params={"q": "Zink mg", "k": 1, "mode": "bm25"}).json()
        top = body["results"][0]
        assert top["citation"]["doc_id"] == "zink", body["results"]
        marked = [text[h["start"] : h["end"]] for h in top["highlights"]]
        assert marked == ["Er enthält 3,5 mg Zink pro 100 g."], marked


def test_a_sentence_goes_on_over_the_line_breaks_of_hard_wrapped_text(
    index_copy: Path, encoder: SentenceTransformerEncoder
) -> None:
    """Found on the Perl FAQ (text wrapped at 72 characters, as plain-text files, e-mail, man pages and
    much Markdown are): every line ended a sentence, so the answer to a question was a line's fragment
    ("Either you don't have more than one line in the string you're looking"). A line break inside running
    text (a long line ending in a word or a comma, the next going on in lower case) goes on with its
    sentence now; headings and list items keep their lines."""
    sentence = (
        "Either you don't have more than one line in the string you're looking\n"
        "for (probably), or else you aren't using the correct modifier(s) on\n"
        "your pattern (possibly)."
    )
    text = f"Matching over more than one line\n{sentence} There are many ways to get multiline data."
    with writable_client(index_copy, encoder, api_keys=["k"]) as client:
        document = {"doc_id": "multiline", "title": "Regular expressions", "text": text}
        added = client.post(
            "/documents", json={"documents": [document]}, headers={"Authorization": "Bearer k"}
        )
        assert added.status_code == 200, added.text
        body = client.post(
            "/query", json={"question": "correct modifier on your pattern", "top_k": 1, "mode": "bm25"}
        ).json()
        top = body["results"][0]
        assert top["citation"]["doc_id"] == "multiline", body["results"]
        marked = [text[h["start"] : h["end"]] for h in top["highlights"]]
        assert marked == [sentence], marked
        answer = body["answer"]
        assert answer["text"] == sentence
        assert text[answer["citation"]["start"] : answer["citation"]["end"]] == sentence
