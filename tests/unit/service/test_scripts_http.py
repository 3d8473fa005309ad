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
    """An index built by the previous text rules (2) holds Hindi cut at its marks: `citeqa index
    --if-stale` rebuilds it, and says why; an index of French typed with combining accents (which BM25
    reads composed, as before) or of English is kept."""
    import json
    import unicodedata

    from indexer.staleness import index_is_current, index_predates_text_rules

    french = unicodedata.normalize("NFD", "Le café crème est servi à Genève.")
    for name, text, stale in [("hindi", GANGA, True), ("french", french, False), ("english", "Tea.", False)]:
        corpus = [Document(doc_id=name, title=name, text=text)]
        folder = tmp_path / name
        build_index(corpus, encoder, folder, IndexSettings(), "text rules")
        assert index_is_current(folder, corpus, encoder.name, IndexSettings())
        manifest_path = folder / "manifest.json"
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        manifest["text_rules"] = 2  # as the previous rules wrote it
        manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
        missed = index_predates_text_rules(folder, corpus)
        assert (
            bool(missed) is stale
            and index_is_current(folder, corpus, encoder.name, IndexSettings()) is not stale
        )
        if stale:
            assert (
                missed == "words holding combining marks (Hindi, Tamil, Thai, pointed Hebrew) were read whole"
            )
