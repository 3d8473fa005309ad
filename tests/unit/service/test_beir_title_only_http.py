"""A BEIR line with a title and an empty text is a document whose text is its title (found by a probe: one
such line failed `citeqa index` and `citeqa eval --dataset` for the whole corpus, with a hint that
--skip-bad would help, which it did not). Built from a corpus.jsonl and asked over HTTP as served."""

from __future__ import annotations

import json
from typing import Any

from support import writable_client

from corpus.beir import load_beir_corpus
from indexer.build import IndexSettings, build_index

RECORDS = [
    {"_id": "plan", "title": "Asthma action plan: what to do in an attack", "text": ""},
    {"_id": "blue", "title": "Inhalers", "text": "A blue reliever inhaler opens the airways within minutes."},
    {"_id": "brown", "title": "Preventers", "text": "A brown preventer inhaler is used every day."},
]


def test_a_title_only_document_is_indexed_found_and_cited_exactly(tmp_path: Any, encoder: Any) -> None:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in RECORDS), encoding="utf-8")
    build_index(load_beir_corpus(corpus), encoder, tmp_path / "index", IndexSettings(), "title-only test")
    with writable_client(tmp_path / "index", encoder) as client:
        document = client.get("/documents/plan").json()
        assert document["text"] == document["title"] == RECORDS[0]["title"]
        for mode in ("hybrid", "dense", "bm25"):
            response = client.get("/search", params={"q": "asthma action plan", "k": 3, "mode": mode})
            assert response.status_code == 200, response.text
            top = response.json()["results"][0]
            assert top["citation"]["doc_id"] == "plan", mode
            assert document["text"][top["citation"]["start"] : top["citation"]["end"]] == top["text"]
