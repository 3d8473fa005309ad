"""A BEIR corpus keeps its own ids, which need not follow the rule for new documents ("Harry_Potter_(film
_series)", "Beyoncé", "..hidden", "guides/bread/rye"): every id a citation gives can be fetched, viewed and
deleted, over the URL and through citeqa.client (found by exploratory probes at stop 25: they were cited,
then refused with a 422; an id holding "/" was then still answered 404)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from citeqa.client import CiteqaClient, CiteqaClientError
from eval.bench import loopback_server
from indexer.embedding import DEFAULT_MODEL, SentenceTransformerEncoder

KEY = "cited-ids-key"
IDS = {
    "Harry_Potter_(film_series)": "The Harry Potter films are eight fantasy films based on the novels.",
    "Beyoncé": "Beyoncé is an American singer, songwriter and actress from Houston, Texas.",
    "..hidden": "Hidden caves hold bats that sleep through the day and hunt insects at night.",
    "guides/bread/rye": "Rye bread needs a long bake of at least seventy minutes in a hot oven.",
    "a?b#c d&e=1": "Lighthouses guided ships past the rocks with a rotating lamp and a lens.",
}


@pytest.fixture(scope="module")
def beir_index(tmp_path_factory: pytest.TempPathFactory, encoder: SentenceTransformerEncoder) -> Path:
    import json

    from corpus.beir import load_beir_corpus
    from indexer.build import IndexSettings, build_index

    folder = tmp_path_factory.mktemp("beir")
    lines = [json.dumps({"_id": i, "title": i.strip("."), "text": t}) for i, t in IDS.items()]
    (folder / "corpus.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    path: Path = folder / "index"
    build_index(load_beir_corpus(folder), encoder, path, IndexSettings(), "ids of a BEIR corpus")
    return path


def beir_app(index: Path, encoder: SentenceTransformerEncoder) -> FastAPI:
    from service.app import create_app
    from service.settings import Settings
    from service.wiring import build_searcher

    settings = Settings(index_path=index, model=DEFAULT_MODEL, api_keys=[KEY])
    return create_app(settings, build_searcher(settings, encoder))


@pytest.fixture(scope="module")
def beir_client(
    beir_index: Path, encoder: SentenceTransformerEncoder, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    copy = tmp_path_factory.mktemp("beir-copy") / "index"  # its tests delete documents
    shutil.copytree(beir_index, copy)
    with TestClient(beir_app(copy, encoder)) as client:
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
    view = beir_client.get(f"/documents/{quote(doc_id, safe='')}/view")
    assert view.status_code == 200 and "text/html" in view.headers["content-type"]


def test_a_cited_id_can_be_deleted(beir_client: TestClient) -> None:
    path = f"/documents/{quote('Beyoncé', safe='')}"
    deleted = beir_client.delete(path, headers={"Authorization": f"Bearer {KEY}"})
    assert deleted.status_code == 200, deleted.text
    assert beir_client.get(path).status_code == 404


def test_an_id_holding_a_slash_is_fetched_with_the_slash_encoded_or_not(beir_client: TestClient) -> None:
    assert beir_client.get("/documents/guides/bread/rye").json()["doc_id"] == "guides/bread/rye"
    assert beir_client.get("/documents/guides/bread/rye/view").status_code == 200
    assert beir_client.get("/documents/guides/bread").status_code == 404
    # Found in review: {doc_id:path} took "/documents/" and "x/" as ids; they redirect, as before.
    for path, location in [
        ("/documents/", "/documents"),
        ("/documents/guides/bread/rye/", "/documents/guides/bread/rye"),
        ("/documents/guides/bread/rye/view/", "/documents/guides/bread/rye/view"),
    ]:
        moved = beir_client.get(path, follow_redirects=False)
        assert moved.status_code == 307 and moved.headers["location"].endswith(location), (path, moved)


def test_the_python_client_fetches_and_deletes_any_cited_id(
    beir_index: Path, encoder: SentenceTransformerEncoder, tmp_path: Path
) -> None:
    copy = tmp_path / "index"
    shutil.copytree(beir_index, copy)
    with loopback_server(beir_app(copy, encoder)) as url, CiteqaClient(url, api_key=KEY) as client:
        for doc_id in IDS:
            assert client.document(doc_id).doc_id == doc_id
        with pytest.raises(CiteqaClientError) as raised:  # the view page of "guides/bread/rye", not JSON
            client.document("guides/bread/rye/view")
        assert raised.value.error == "not_json"
        assert client.remove(["a?b#c d&e=1", "guides/bread/rye"]).doc_ids == (
            "a?b#c d&e=1",
            "guides/bread/rye",
        )
        assert {d.doc_id for d in client.documents()} == set(IDS) - {"a?b#c d&e=1", "guides/bread/rye"}
