"""Text in scripts other than Latin, Chinese and Japanese over real HTTP (the real app, model, FAISS and
BM25): a question in the corpus's language finds the passage that holds its words, cited exactly."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import writable_client

from corpus.types import Document
from indexer.build import IndexSettings, build_index
from indexer.embedding import SentenceTransformerEncoder

GANGA = "गंगा नदी भारत की सबसे पवित्र नदी मानी जाती है।"
DELHI = "नई दिल्ली भारत की राजधानी है।"
CHENNAI = "சென்னை தமிழ்நாட்டின் தலைநகரம்."
WALL = "הַכֹּתֶל הַמַּעֲרָבִי נִמְצָא בָּעִיר הָעַתִּיקָה."


@pytest.mark.parametrize("mode", ["bm25", "hybrid"])
def test_a_word_written_with_combining_marks_is_found(
    tmp_path: Path, encoder: SentenceTransformerEncoder, mode: str
) -> None:
    """Found by the text probe: BM25 read a word only as its runs of letters between combining marks (the
    vowel signs and viramas of Hindi and Tamil, the points of Hebrew), which Python's \\w does not
    match: "गंगा" (the Ganges) gave no term at all, so mode=bm25 answered nothing for it, nor for
    "சென்னை" (Chennai). A word is read whole now, its marks included."""
    documents = [
        Document(doc_id="ganga", title="नदी", text=GANGA),
        Document(doc_id="delhi", title="शहर", text=DELHI),
        Document(doc_id="chennai", title="நகரம்", text=CHENNAI),
        Document(doc_id="wall", title="ירושלים", text=WALL),
    ]
    build_index(documents, encoder, tmp_path / "index", IndexSettings(), "scripts")
    with writable_client(tmp_path / "index", encoder) as client:
        for question, doc_id in [("गंगा", "ganga"), ("சென்னை", "chennai"), ("הַכֹּתֶל", "wall")]:
            body = client.get("/search", params={"q": question, "k": 2, "mode": mode}).json()
            assert body["results"], (question, body)
            top = body["results"][0]
            assert top["citation"]["doc_id"] == doc_id, (question, body["results"])
            text = client.get(f"/documents/{doc_id}").json()["text"]
            assert top["text"] == text[top["citation"]["start"] : top["citation"]["end"]]


def test_an_index_tokenized_before_marks_were_read_is_stale_only_where_they_are(
    tmp_path: Path, encoder: SentenceTransformerEncoder
) -> None:
    """An index built by older text rules holds Hindi cut at its marks (before 3) and as one sentence
    (before 4), Thai as runs between spaces (before 5): `citeqa index --if-stale` rebuilds it, and says
    why; an index of French typed with
    combining accents (which BM25 reads composed, as before) or of English is kept."""
    import json
    import unicodedata

    from indexer.staleness import index_is_current, index_predates_text_rules

    marks = "words holding combining marks (Hindi, Tamil, Thai, pointed Hebrew) were read whole"
    stops = "sentences were ended by the full stops and question marks of other scripts (। ؟ and the like)"
    french = unicodedata.normalize("NFD", "Le café crème est servi à Genève.")
    for name, text, rules, missed in [
        ("hindi", GANGA, 2, f"{marks} and {stops}"),
        ("hindi-3", GANGA, 3, stops),
        ("urdu", "یہ ایک کتاب ہے\u06d4 وہ اسکول جاتا ہے\u06d4", 3, stops),
        (
            "thai",
            "ข้าวเหนียวมะม่วงเป็นขนมหวาน",
            4,
            "Thai, Lao, Myanmar and Khmer text was split into letters and bigrams",
        ),
        (
            "us",
            "He moved to the U.S. in 1999.",
            5,
            'sentences went on past "U.S.", "ca." or "p. ex." before a lower-case word',
        ),
        ("us-capital", "He moved to the U.S. The next year he left.", 5, ""),
        (
            "soft",
            "infor\u00admation",
            6,
            "soft hyphens and zero-width joiners were read as part of their words",
        ),
        ("cr", "Alpha\rBeta", 7, "a carriage return, a form feed or a line separator ended a line"),
        ("crlf", "Alpha\r\nBeta", 7, ""),
        (
            "quote",
            "\u00ab C'est bon. \u00bb",
            8,
            "a sentence ended after the closing quotes of German and French",
        ),
        ("curly", "He left. \u201cHello,\u201d she said. \u2018Hi.\u2019", 8, ""),
        ("ellipsis", "Wait\u2026 Then go.", 9, "a sentence ended at an ellipsis (\u2026)"),
        ("title", "See Mt. Fuji.", 10, 'a sentence went on past "Mt." or "Gen." before a name'),
        (
            "unit",
            "Add 100 g. Then stir.",
            11,
            'a sentence ended at a unit after a number ("100 g.") before a capital',
        ),
        (
            "wrapped",
            "Milia are small white bumps that appear on the\nnose and cheeks of newborns.",
            12,
            "a sentence went on over the line breaks of hard-wrapped text",
        ),
        ("lines", "Milia\nsmall white bumps\n\nnose and cheeks.", 12, ""),
        ("french", french, 2, ""),
        ("english", "Tea.", 1, ""),
    ]:
        corpus = [Document(doc_id=name, title=name, text=text)]
        folder = tmp_path / name
        build_index(corpus, encoder, folder, IndexSettings(), "text rules")
        assert index_is_current(folder, corpus, encoder.name, IndexSettings())
        manifest_path = folder / "manifest.json"
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        manifest["text_rules"] = rules  # as older rules wrote it
        manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
        assert index_predates_text_rules(folder, corpus) == missed, name
        assert index_is_current(folder, corpus, encoder.name, IndexSettings()) is not bool(missed)


INDIA = (
    "भारत दक्षिण एशिया में स्थित एक विशाल देश है। इसकी राजधानी नई दिल्ली है। "
    + GANGA
    + " ताजमहल आगरा में स्थित एक प्रसिद्ध स्मारक है।"
)
NILE = "القاهرة هي عاصمة مصر. ما هو أطول نهر في العالم؟ نهر النيل هو أطول نهر في العالم."


@pytest.mark.parametrize(
    ("question", "doc_id", "sentence"),
    [
        ("गंगा नदी", "india", GANGA),
        ("ما هو أطول نهر في العالم", "nile", "نهر النيل هو أطول نهر في العالم."),
    ],
)
def test_a_danda_or_an_arabic_question_mark_ends_a_sentence(
    tmp_path: Path, encoder: SentenceTransformerEncoder, question: str, doc_id: str, sentence: str
) -> None:
    """Found by the text probe: a sentence ended only at . ! ? (and the Chinese and Japanese stops), so a
    Hindi paragraph, whose sentences end in a danda (।), was one sentence: the answer to "गंगा नदी" was
    the whole paragraph, as was every highlight; an Arabic question (ending in ؟) and its answer were one
    sentence. They end a sentence now, as the Urdu, Armenian, Ethiopic, Myanmar and Khmer full stops do."""
    documents = [
        Document(doc_id="india", title="भारत", text=INDIA),
        Document(doc_id="nile", title="مصر", text=NILE),
    ]
    build_index(documents, encoder, tmp_path / "index", IndexSettings(), "scripts")
    with writable_client(tmp_path / "index", encoder) as client:
        body = client.get("/search", params={"q": question, "k": 2, "mode": "bm25"}).json()
        text = client.get(f"/documents/{doc_id}").json()["text"]
        top = body["results"][0]
        assert top["citation"]["doc_id"] == doc_id, body["results"]
        marked = [text[h["start"] : h["end"]] for h in top["highlights"]]
        assert sentence in marked, marked
        answer = body["answer"]
        if answer is not None:
            assert answer["citation"]["doc_id"] == doc_id
            cited = text[answer["citation"]["start"] : answer["citation"]["end"]]
            assert answer["text"] == cited and cited in {s for s in marked}, (cited, marked)


THAI_LANGUAGE = "ภาษาไทยเป็นภาษาราชการของประเทศไทย"
THAI_ELEPHANT = "ช้างเป็นสัตว์ประจำชาติของไทย"
THAI_RICE = "ข้าวเหนียวมะม่วงเป็นขนมหวานที่มีชื่อเสียง"
THAI_WEATHER = "อากาศในกรุงเทพมหานครร้อนมากในเดือนเมษายน"  # "the weather in Bangkok is very hot in April"


@pytest.mark.parametrize("mode", ["bm25", "hybrid"])
def test_a_thai_word_inside_a_run_is_found_and_a_long_run_is_cut(
    tmp_path: Path, encoder: SentenceTransformerEncoder, mode: str
) -> None:
    """Found by the text probe: Thai writes no space between words, and a run of letters between spaces
    was one word, for BM25 and for the chunker alike: "ภาษาราชการ" (official language), inside the run
    "ภาษาไทยเป็นภาษาราชการของประเทศไทย", found nothing in mode=bm25 (hybrid, which ranks a question the
    model cannot read by BM25, neither), and a Thai document written without spaces was one passage
    however long (here 3,000 characters: the passage, and its answer sentence, was the whole document).
    A Thai letter with its marks is a word now, and BM25 reads bigrams of them, as it reads Chinese."""
    documents = [
        Document(doc_id="language", title="ประเทศไทย", text=f"{THAI_ELEPHANT} {THAI_LANGUAGE}"),
        Document(doc_id="rice", title="ขนม", text=THAI_RICE),
        Document(
            doc_id="weather", title="อากาศ", text=THAI_ELEPHANT * 40 + THAI_WEATHER + THAI_ELEPHANT * 40
        ),
    ]
    build_index(documents, encoder, tmp_path / "index", IndexSettings(), "Thai")
    with writable_client(tmp_path / "index", encoder) as client:
        for question, doc_id, holds in [
            ("ภาษาราชการ", "language", THAI_LANGUAGE),
            ("อากาศร้อนในเดือนเมษายน", "weather", "เมษายน"),
        ]:
            body = client.get("/search", params={"q": question, "k": 3, "mode": mode}).json()
            assert body["results"], (question, body)
            top = body["results"][0]
            assert top["citation"]["doc_id"] == doc_id, (question, body["results"])
            text = client.get(f"/documents/{doc_id}").json()["text"]
            assert top["text"] == text[top["citation"]["start"] : top["citation"]["end"]]
            assert holds in top["text"] and len(top["text"]) <= 300, (question, len(top["text"]))
            snippet = top["snippet"]
            assert snippet["text"] == text[snippet["start"] : snippet["end"]] and len(snippet["text"]) <= 300


@pytest.mark.parametrize("mode", ["bm25", "hybrid"])
def test_a_word_hyphenated_with_a_soft_hyphen_is_found(
    tmp_path: Path, encoder: SentenceTransformerEncoder, mode: str
) -> None:
    """Found by the text probe: web pages and PDFs hyphenate long words with soft hyphens (U+00AD, shown
    only at a line's end), and BM25 read "infor\\u00admation" as "infor" and "mation": "information" found
    nothing in mode=bm25. Soft hyphens and zero-width joiners are dropped from words now."""
    documents = [
        Document(
            doc_id="desk", title="Desk", text="The infor\u00admation desk on the ground floor opens at nine."
        ),
        Document(doc_id="cafe", title="Cafe", text="The cafe on the first floor serves lunch."),
    ]
    build_index(documents, encoder, tmp_path / "index", IndexSettings(), "soft hyphens")
    with writable_client(tmp_path / "index", encoder) as client:
        body = client.get("/search", params={"q": "information", "k": 2, "mode": mode}).json()
        assert body["results"] and body["results"][0]["citation"]["doc_id"] == "desk", body["results"]
        top = body["results"][0]
        text = client.get("/documents/desk").json()["text"]
        assert top["text"] == text[top["citation"]["start"] : top["citation"]["end"]] == text


def test_a_line_ended_by_a_lone_carriage_return_ends_its_sentence(
    index_copy: Path, encoder: SentenceTransformerEncoder
) -> None:
    """Found by the text probe: a document sent as JSON keeps its line ends, and only \\n ended a line
    (a .txt file's are made \\n when it is read): a list written with an old Mac file's lone \\r line ends
    was one sentence, so the answer to "what do beavers build" was the whole list. A carriage return, a
    form feed and Unicode's line separator end a line now, as \\n does."""
    lines = "Otters live in rivers\rBeavers build dams\rBadgers dig setts\fFerrets hunt rabbits"
    with writable_client(index_copy, encoder, api_keys=["k"]) as client:
        document = {"doc_id": "animals", "title": "Animals", "text": lines}
        added = client.post(
            "/documents", json={"documents": [document]}, headers={"Authorization": "Bearer k"}
        )
        assert added.status_code == 200, added.text
        for question, line in [
            ("what do beavers build", "Beavers build dams"),
            ("ferrets hunt", "Ferrets hunt rabbits"),
        ]:
            body = client.get("/search", params={"q": question, "k": 1, "mode": "bm25"}).json()
            top = body["results"][0]
            assert top["citation"]["doc_id"] == "animals", body["results"]
            marked = [lines[h["start"] : h["end"]] for h in top["highlights"]]
            assert marked == [line], marked
