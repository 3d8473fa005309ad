"""A BEIR corpus keeps its own ids, which need not follow the rule for new documents ("Harry_Potter_(film
_series)", "Beyoncé", "..hidden"): every id a citation gives can be fetched, viewed and deleted (found by
an exploratory probe at stop 25: they were cited, then refused with a 422)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from indexer.embedding import DEFAULT_MODEL, SentenceTransformerEncoder

KEY = "cited-ids-key"
IDS = {
    "Harry_Potter_(film_series)": "The Harry Potter films are eight fantasy films based on the novels.",
    "Beyoncé": "Beyoncé is an American singer, songwriter and actress from Houston, Texas.",
    "..hidden": "Hidden caves hold bats that sleep through the day and hunt insects at night.",
}


@pytest.fixture(scope="module")
def beir_client(
    tmp_path_factory: pytest.TempPathFactory, encoder: SentenceTransformerEncoder
) -> Iterator[TestClient]:
    import json

    from corpus.beir import load_beir_corpus
    from indexer.build import IndexSettings, build_index
    from service.app import create_app
    from service.settings import Settings
    from service.wiring import build_searcher

    folder = tmp_path_factory.mktemp("beir")
    lines = [json.dumps({"_id": i, "title": i.strip("."), "text": t}) for i, t in IDS.items()]
    (folder / "corpus.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    path: Path = folder / "index"
    build_index(load_beir_corpus(folder), encoder, path, IndexSettings(), "ids of a BEIR corpus")
    settings = Settings(index_path=path, model=DEFAULT_MODEL, api_keys=[KEY])
    with TestClient(create_app(settings, build_searcher(settings, encoder))) as client:
        yield client


@pytest.mark.parametrize("doc_id", list(IDS))
def test_every_cited_id_can_be_fetched_and_viewed(beir_client: TestClient, doc_id: str) -> None:
    body = beir_client.get("/search", params={"q": IDS[doc_id], "k": 1}).json()
    citation = body["results"][0]["citation"]
    assert citation["doc_id"] == doc_id
    fetched = beir_client.get(f"/documents/{quote(doc_id, safe='')}")
    assert fetched.status_code == 200, fetched.text
    text = fetched.json()["text"]
    assert text[citation["start"] : citation["end"]] == body["results"][0]["text"]
    assert beir_client.get(f"/documents/{quote(doc_id, safe='')}/view").status_code == 200


def test_a_cited_id_can_be_deleted(beir_client: TestClient) -> None:
    path = f"/documents/{quote('Beyoncé', safe='')}"
    deleted = beir_client.delete(path, headers={"Authorization": f"Bearer {KEY}"})
    assert deleted.status_code == 200, deleted.text
    assert beir_client.get(path).status_code == 404
