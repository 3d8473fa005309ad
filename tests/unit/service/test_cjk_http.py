# ruff: noqa: RUF001  (Chinese and Japanese punctuation is what these tests are about)
"""Chinese and Japanese documents over real HTTP (the real app, model, FAISS and BM25): a long Chinese
document added through POST /documents is cut into passages of whole sentences, and a question in
Chinese or Japanese finds the passage that holds its answer, cited exactly, with a snippet and the
answering sentence inside it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from support import writable_client

from corpus.types import Document
from indexer.embedding import SentenceTransformerEncoder

KEY = "cjk-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
PANDAS = "大熊猫主要以竹子为食，每天要吃十几公斤竹子。"
TEA = "绿茶在中国已有数千年的历史，龙井是最有名的绿茶之一。"
PARK = [f"第{n}段记录了城市公园里的天气变化和游客数量。" for n in range(1, 300)]
CHINESE = "".join(PARK[:150]) + PANDAS + "".join(PARK[150:]) + TEA  # about 6,800 characters, no spaces
FUJI = "富士山は日本で一番高い山で、高さは3776メートルです。"
JAPANESE = (
    "東京タワーは高さ333メートルの電波塔です。" + FUJI + "京都には千年以上の歴史を持つ寺がたくさんあります。"
)


@pytest.fixture
def cjk(index_copy: Path, encoder: Any) -> Iterator[TestClient]:
    with writable_client(index_copy, encoder, api_keys=[KEY]) as client:
        documents = [
            {"doc_id": "zh-notes", "title": "城市笔记", "text": CHINESE},
            {"doc_id": "ja-notes", "title": "日本のメモ", "text": JAPANESE},
        ]
        added = client.post("/documents", json={"documents": documents}, headers=AUTH)
        assert added.status_code == 200, added.text
        yield client


@pytest.mark.parametrize("mode", ["hybrid", "bm25"])
@pytest.mark.parametrize(
    ("question", "doc_id", "answer"),
    [
        ("大熊猫吃什么", "zh-notes", PANDAS),
        ("最有名的绿茶是哪一种", "zh-notes", TEA),
        ("富士山の高さは何メートルですか", "ja-notes", FUJI),
    ],
)
def test_a_chinese_or_japanese_question_finds_its_sentence(
    cjk: TestClient, mode: str, question: str, doc_id: str, answer: str
) -> None:
    body = cjk.get("/search", params={"q": question, "k": 3, "mode": mode}).json()
    document = cjk.get(f"/documents/{doc_id}").json()["text"]
    top = body["results"][0]
    assert top["citation"]["doc_id"] == doc_id, body["results"]
    start, end = top["citation"]["start"], top["citation"]["end"]
    assert top["text"] == document[start:end] and answer in top["text"]
    assert len(top["text"]) <= 250  # whole sentences of at most 120 characters, two merged at most
    snippet = top["snippet"]
    assert snippet["text"] == document[snippet["start"] : snippet["end"]] and answer in snippet["text"]
    marked = [document[h["start"] : h["end"]] for h in top["highlights"]]
    assert answer in marked, marked


def test_hybrid_ranks_a_question_the_model_cannot_read_by_bm25(
    tmp_path: Path, encoder: SentenceTransformerEncoder
) -> None:
    """Three short Chinese documents, the service in its default mode. Every simplified Chinese character
    is [UNK] to the packaged model, so its vectors say nothing; hybrid put the green-tea note first for
    "what do pandas eat" until it ranked such questions by BM25 (citeqa.readable)."""
    from indexer.build import IndexSettings, build_index

    documents = [
        Document(doc_id="pandas", title="大熊猫", text=PANDAS + "大熊猫生活在中国的山区。"),
        Document(doc_id="tea", title="绿茶", text=TEA),
        Document(doc_id="notes", title="Notes", text="Tea notes in English."),
    ]
    build_index(documents, encoder, tmp_path / "index", IndexSettings(), "Chinese notes")
    with writable_client(tmp_path / "index", encoder) as client:
        for question, doc_id in [
            ("熊猫吃什么", "pandas"),
            ("绿茶的历史", "tea"),
            ("english tea notes", "notes"),
        ]:
            body = client.get("/search", params={"q": question, "k": 3}).json()
            assert body["mode"] == "hybrid" and body["results"][0]["citation"]["doc_id"] == doc_id, body
