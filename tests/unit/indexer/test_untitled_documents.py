"""A BEIR document with an empty title is cited under its doc_id, but the id is not embedded or indexed
as if it were a title: "CDC_0000001_Sec1" says nothing of the text to the model or to BM25 (real model,
real FAISS, real BM25)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from corpus.beir import load_beir_corpus
from indexer.build import IndexSettings, build_index
from indexer.load import load_index

TEXT = "Harbor seals can hold their breath for thirty minutes while they dive for fish."


def test_an_untitled_beir_document_is_embedded_and_indexed_without_its_id(
    tmp_path: Path, encoder: Any
) -> None:
    """Before, the passage embedded and indexed was "zq4983x\\nHarbor seals ...": the id was a word BM25
    matched and a prefix that moved the passage's vector."""
    corpus = tmp_path / "corpus.jsonl"
    lines = [
        {"_id": "zq4983x", "title": "", "text": TEXT},
        {"_id": "s2", "title": "Harbor seals", "text": TEXT},
    ]
    corpus.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    documents = load_beir_corpus(corpus)
    assert [d.title for d in documents] == ["zq4983x", "Harbor seals"]  # citations still name it
    index = build_index(
        documents, encoder, tmp_path / "index", IndexSettings(embed_title=True, bm25_title=True)
    )
    loaded = load_index(index.path)
    untitled, titled = (
        next(p.passage_id for p in loaded.passages if p.doc_id == doc_id) for doc_id in ("zq4983x", "s2")
    )
    vectors = loaded.dense.vectors(np.array([untitled, titled]))
    expected = encoder.encode([TEXT, f"Harbor seals\n{TEXT}"])
    assert np.allclose(vectors, expected, atol=1e-5)
    assert loaded.bm25.scores("zq4983x")[untitled] == 0.0
    assert loaded.bm25.scores("harbor")[untitled] > 0.0
