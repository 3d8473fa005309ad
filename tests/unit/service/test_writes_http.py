"""The write endpoints over real HTTP (TestClient of the real app, real model and FAISS): keys, add,
replace, delete, versions seen by queries, limits and errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from support import writable_client

KEY = "test-write-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
SEALS = {
    "doc_id": "harbor-seals",
    "title": "Harbor seals",
    "text": "Harbor seals can hold their breath for up to thirty minutes. Pups swim within hours of birth.",
    "author": "A. Writer",
    "habitat": "coast",
}


@pytest.fixture
def writer(index_copy: Path, encoder: Any) -> Iterator[TestClient]:
    with writable_client(
        index_copy, encoder, api_keys=[KEY], max_bulk_documents=3, max_write_body_bytes=100_000
    ) as client:
        yield client


def query(client: TestClient, question: str, doc_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"question": question, "top_k": 3}
    if doc_id:
        body["filters"] = {"doc_id": [doc_id]}
    response = client.post("/query", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_writes_need_a_valid_key(writer: TestClient) -> None:
    missing = writer.post("/documents", json={"documents": [SEALS]})
    assert missing.status_code == 401 and missing.json()["error"] == "unauthorized"
    wrong = writer.put("/documents/x", json=SEALS, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403 and wrong.json()["error"] == "forbidden"
    assert writer.delete("/documents/x").status_code == 401
    assert writer.post("/index/rebuild", headers={"Authorization": "Bearer nope"}).status_code == 403


def test_writes_are_refused_without_a_configured_key(client: TestClient) -> None:
    refused = client.post("/documents", json={"documents": [SEALS]}, headers=AUTH)
    assert refused.status_code == 403
    assert "CITEQA_API_KEYS" in refused.json()["message"]


def test_add_query_replace_delete(writer: TestClient) -> None:
    start = query(writer, "harbor seals breath")["index_version"]
    added = writer.post("/documents", json={"documents": [SEALS]}, headers=AUTH)
    assert added.status_code == 200, added.text
    write = added.json()
    assert write["index_version"] == start + 1 and write["doc_ids"] == ["harbor-seals"]
    assert write["embedded_passages"] >= 1

    stored = writer.get("/documents/harbor-seals").json()
    assert stored["text"] == SEALS["text"] and stored["metadata"] == {"habitat": "coast"}
    found = query(writer, "how long can harbor seals hold their breath", "harbor-seals")
    assert found["index_version"] >= write["index_version"]
    top = found["results"][0]
    assert top["citation"]["doc_id"] == "harbor-seals"
    assert SEALS["text"][top["citation"]["start"] : top["citation"]["end"]] == top["text"]

    replacement = {"title": "Seal pups", "text": "Seal pups are weaned after about four weeks."}
    replaced = writer.put("/documents/harbor-seals", json=replacement, headers=AUTH).json()
    assert replaced["index_version"] == write["index_version"] + 1
    assert writer.get("/documents/harbor-seals").json()["text"] == replacement["text"]
    after = query(writer, "when are seal pups weaned", "harbor-seals")
    assert after["index_version"] == replaced["index_version"]
    assert [r["text"] for r in after["results"]] == [replacement["text"]]

    deleted = writer.delete("/documents/harbor-seals", headers=AUTH)
    assert deleted.status_code == 200 and deleted.json()["index_version"] == replaced["index_version"] + 1
    assert writer.get("/documents/harbor-seals").status_code == 404
    assert query(writer, "seal pups weaned", "harbor-seals")["results"] == []
    again = writer.delete("/documents/harbor-seals", headers=AUTH)
    assert again.status_code == 404 and again.json()["error"] == "not_found"

    rebuilt = writer.post("/index/rebuild", headers=AUTH).json()
    assert rebuilt["index_version"] == deleted.json()["index_version"] + 1
    assert query(writer, "milia")["index_version"] == rebuilt["index_version"]


def test_metadata_is_stored_alike_from_a_json_batch_and_json_lines(writer: TestClient) -> None:
    """Extra keys become metadata by one rule however the document is sent: a boolean or number as JSON
    writes it (true is "true", not "True"), a null left out (not ""), a key also in ``metadata`` taken
    from the top level; one filter finds every copy (their texts differ, or dedup would show one)."""
    fields = {
        "title": "Sea otters",
        "text": "Sea otters hold hands while they sleep so that they do not drift apart.",
        "reviewed": True,
        "stars": 4.5,
        "note": None,
        "metadata": {"habitat": "kelp", "reviewed": "no", "depth_m": 30, "tags": ["kelp", "pacific"]},
    }
    batch = writer.post(
        "/documents",
        json={"documents": [{**fields, "doc_id": "otters-json", "text": "Otters hold hands asleep."}]},
        headers=AUTH,
    )
    assert batch.status_code == 200, batch.text
    line = json.dumps({**fields, "doc_id": "otters-lines", "text": "Otters float together."}).encode()
    lines = writer.post("/documents", content=line, headers={**AUTH, "Content-Type": "application/x-ndjson"})
    assert lines.status_code == 200, lines.text
    put = writer.put("/documents/otters-put", json=fields, headers=AUTH)
    assert put.status_code == 200, put.text
    # Inside "metadata" too: a number or a list as JSON writes it (a batch's used to be refused with 422).
    expected = {
        "habitat": "kelp",
        "reviewed": "true",
        "stars": "4.5",
        "depth_m": "30",
        "tags": '["kelp", "pacific"]',
    }
    for doc_id in ("otters-json", "otters-lines", "otters-put"):
        assert writer.get(f"/documents/{doc_id}").json()["metadata"] == expected
    found = writer.get("/search", params={"q": "do sea otters hold hands", "filter": "reviewed:true"})
    assert found.status_code == 200, found.text
    assert sorted(r["citation"]["doc_id"] for r in found.json()["results"]) == [
        "otters-json",
        "otters-lines",
        "otters-put",
    ]


def test_limits_and_bad_input(writer: TestClient) -> None:
    too_many = [{**SEALS, "doc_id": f"d{i}"} for i in range(4)]
    response = writer.post("/documents", json={"documents": too_many}, headers=AUTH)
    assert response.status_code == 422 and "over the limit of 3" in response.json()["message"]
    # Document writes have their own body limit (here 100,000 bytes; by default 32 MiB, far above the 160 KiB
    # of questions).
    long_text = {**SEALS, "doc_id": "long-seals", "text": "Harbor seals rest on rocks. " * 2_500}
    assert writer.post("/documents", json={"documents": [long_text]}, headers=AUTH).status_code == 200
    big = writer.post(
        "/documents", content=b"x" * 120_000, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert big.status_code == 413 and "100000 bytes" in big.json()["message"]
    question_body = b"x" * 170_000
    long_question = writer.post("/query", content=question_body, headers={"Content-Type": "application/json"})
    assert long_question.status_code == 413
    bad_id = writer.put("/documents/bad%20id", json=SEALS, headers=AUTH)
    assert bad_id.status_code == 422 and "doc_id" in bad_id.json()["message"]
    bad_body_id = writer.post("/documents", json={"documents": [{**SEALS, "doc_id": "../x"}]}, headers=AUTH)
    assert bad_body_id.status_code == 422
    empty = writer.post("/documents", json={"documents": [{**SEALS, "text": "   "}]}, headers=AUTH)
    assert empty.status_code == 422 and "text is empty" in empty.json()["message"]
    no_title = writer.put("/documents/x", json={"text": "t"}, headers=AUTH)
    assert no_title.status_code == 422 and "title" in no_title.json()["message"]
    assert query(writer, "milia")["index_version"] == 2  # only the long document above was written


def test_a_put_body_may_repeat_its_paths_id_but_not_name_another(writer: TestClient) -> None:
    other = writer.put("/documents/grey-seals", json=SEALS, headers=AUTH)
    assert other.status_code == 422, other.text
    message = other.json()["message"]
    assert "'harbor-seals'" in message and "'grey-seals'" in message
    assert writer.get("/documents/grey-seals").status_code == 404
    same = writer.put("/documents/harbor-seals", json=SEALS, headers=AUTH)
    assert same.status_code == 200, same.text
    assert writer.get("/documents/harbor-seals").json()["metadata"] == {"habitat": "coast"}
    numbered = writer.put("/documents/5", json={**SEALS, "doc_id": 5}, headers=AUTH)
    assert numbered.status_code == 422 and "as a string" in numbered.json()["message"]


def test_document_size_limit(index_copy: Path, encoder: Any) -> None:
    with writable_client(index_copy, encoder, api_keys=[KEY], max_document_chars=50) as client:
        response = client.put("/documents/harbor-seals", json={**SEALS}, headers=AUTH)
        assert response.status_code == 422 and "over the limit of 50" in response.json()["message"]


def test_metrics_show_version_and_writes(writer: TestClient) -> None:
    writer.put("/documents/harbor-seals", json=SEALS, headers=AUTH)
    writer.delete("/documents/harbor-seals", headers=AUTH)
    text = writer.get("/metrics").text
    assert "citeqa_index_version 3.0" in text
    assert 'citeqa_index_writes_total{op="put"} 1.0' in text
    assert 'citeqa_index_writes_total{op="delete"} 1.0' in text
    assert "citeqa_index_segments " in text and "citeqa_index_merge_errors_total 0.0" in text
    # Writes changed the corpus the index was built from: its fingerprint is gone, shown empty.
    assert 'corpus_fingerprint=""' in text and "None" not in text


def test_writes_survive_a_restart(index_copy: Path, encoder: Any) -> None:
    with writable_client(index_copy, encoder, api_keys=[KEY]) as client:
        version = client.put("/documents/harbor-seals", json=SEALS, headers=AUTH).json()["index_version"]
    with writable_client(index_copy, encoder) as client:  # read-only now: no key
        assert client.get("/documents/harbor-seals").json()["text"] == SEALS["text"]
        assert query(client, "harbor seals")["index_version"] == version


def test_post_documents_takes_every_format_by_content_type(writer: TestClient) -> None:
    """POST /documents itself takes a JSON batch, a raw .txt/.md/.html body and JSON lines."""
    html = (
        b"<html><head><title>Belugas</title></head>"
        b"<body><nav>Home</nav><p>Belugas are white.</p></body></html>"
    )
    page = writer.post(
        "/documents?doc_id=belugas&publisher=Sea%20Notes",
        content=html,
        headers={**AUTH, "Content-Type": "text/html; charset=utf-8"},
    )
    assert page.status_code == 200, page.text
    stored = writer.get("/documents/belugas").json()
    assert (stored["title"], stored["publisher"]) == ("Belugas", "Sea Notes")
    assert "Belugas are white." in stored["text"] and "Home" not in stored["text"]
    lines = (
        b'{"doc_id": "b1", "title": "B1", "text": "One."}\n{"doc_id": "b2", "title": "B2", "text": "Two."}\n'
    )
    bulk = writer.post("/documents", content=lines, headers={**AUTH, "Content-Type": "application/x-ndjson"})
    assert bulk.status_code == 200 and bulk.json()["doc_ids"] == ["b1", "b2"]
    assert bulk.json()["index_version"] == page.json()["index_version"] + 1
    bad_json = writer.post("/documents", content=b"{", headers={**AUTH, "Content-Type": "application/json"})
    assert bad_json.status_code == 422 and "not valid JSON" in bad_json.json()["message"]
    missing = writer.post("/documents", json={"documents": [{"doc_id": "x"}]}, headers=AUTH)
    assert missing.status_code == 422 and "documents.0.title" in missing.json()["message"]
    odd = writer.post("/documents", content=b"GIF89a", headers={**AUTH, "Content-Type": "image/gif"})
    assert odd.status_code == 415 and odd.json()["error"] == "unsupported_media_type"
    assert "application/json" in odd.json()["message"]
    broken = writer.post("/documents", content=b"%PDF", headers={**AUTH, "Content-Type": "application/pdf"})
    assert broken.status_code == 422 and "not a readable PDF" in broken.json()["message"]


def test_uploads_of_markdown_html_and_json_lines(writer: TestClient) -> None:
    markdown = b"# Walrus tusks\n\nWalruses use their **tusks** to haul out onto ice.\n"
    added = writer.post(
        "/documents/upload?doc_id=walrus&author=Ann",
        content=markdown,
        headers={**AUTH, "Content-Type": "text/markdown; charset=utf-8"},
    )
    assert added.status_code == 200, added.text
    stored = writer.get("/documents/walrus").json()
    assert stored["title"] == "Walrus tusks" and stored["author"] == "Ann"
    assert "Walruses use their tusks to haul out onto ice." in stored["text"]

    html = (
        b"<html><head><title>Narwhals</title></head><body><p>Narwhal tusks are long teeth.</p></body></html>"
    )
    page = writer.post("/documents/upload", content=html, headers={**AUTH, "Content-Type": "text/html"})
    assert page.status_code == 200, page.text
    assert writer.get(f"/documents/{page.json()['doc_ids'][0]}").json()["title"] == "Narwhals"

    lines = (
        b'{"doc_id": "a1", "title": "A", "text": "Alpha text."}\n'
        b'{"doc_id": "a2", "title": "B", "text": "Beta."}\n'
    )
    bulk = writer.post(
        "/documents/upload", content=lines, headers={**AUTH, "Content-Type": "application/x-ndjson"}
    )
    assert bulk.status_code == 200 and bulk.json()["doc_ids"] == ["a1", "a2"]
    assert bulk.json()["index_version"] == page.json()["index_version"] + 1

    odd = writer.post("/documents/upload", content=b"GIF89a", headers={**AUTH, "Content-Type": "image/gif"})
    assert odd.status_code == 415 and "text/markdown" in odd.json()["message"]
    unauthorized = writer.post("/documents/upload", content=markdown, headers={"Content-Type": "text/plain"})
    assert unauthorized.status_code == 401


def test_a_long_answering_sentence_is_snipped_where_the_question_words_are(writer: TestClient) -> None:
    """The probe's fishing-permit rule: one 380-character sentence whose answer ends it. The snippet (at
    most 300 characters) keeps "forty two euros" and cites its exact span; the result keeps the whole text."""
    rule = (
        "Under the regional statute on inland waters, and subject to the seasonal closures published each "
        "spring by the fisheries office, every adult who wishes to fish from the banks of a river, from a "
        "boat on a river, or from any bridge or weir crossing a river within the region must first obtain a "
        "permit, and the annual licence fee for a river fishing permit shall be forty two euros."
    )
    text = rule + " Permits are sold at town halls and online."
    document = {"doc_id": "fishing-rules", "title": "Fishing rules", "text": text}
    assert writer.post("/documents", json={"documents": [document]}, headers=AUTH).status_code == 200
    response = writer.get("/search", params={"q": "how much is the river fishing permit fee", "k": 1})
    assert response.status_code == 200, response.text
    [top] = response.json()["results"]
    assert top["citation"]["doc_id"] == "fishing-rules" and rule in top["text"]
    snippet = top["snippet"]
    assert "forty two euros" in snippet["text"] and len(snippet["text"]) <= 300
    assert text[snippet["start"] : snippet["end"]] == snippet["text"]


def test_write_routes_refuse_query_parameters_they_do_not_read(writer: TestClient) -> None:
    """Found by a probe: PUT /documents/x?title=New, POST /documents?title=New with a JSON batch and
    DELETE /documents/x?force=1 answered 200 with the parameter dropped, while an upload refuses a name it
    does not read (a misspelt "tilte")."""
    assert writer.post("/documents", json={"documents": [SEALS]}, headers=AUTH).status_code == 200
    replaced = writer.put(
        "/documents/harbor-seals?title=New", json={"title": "Old", "text": "Seals bask."}, headers=AUTH
    )
    assert replaced.status_code == 422, replaced.text
    assert replaced.json()["detail"][0]["field"] == "title"
    assert "send title, text and the other fields in the JSON body" in replaced.json()["message"]
    batch = writer.post("/documents?title=New&author=Me", json={"documents": [SEALS]}, headers=AUTH)
    assert batch.status_code == 422 and "a JSON batch carries each document" in batch.json()["message"]
    assert [d["field"] for d in batch.json()["detail"]] == ["title", "author"]
    # Any name, and an upload's doc_id that breaks the rule, get the batch's message (found in review: the
    # upload's "known: doc_id, title, ..." invited them, and a bad doc_id got a regex).
    for query in ("force=1", "doc_id=bad!"):
        odd = writer.post(f"/documents?{query}", json={"documents": [SEALS]}, headers=AUTH)
        assert odd.status_code == 422 and "a JSON batch carries each document" in odd.json()["message"], query
    assert writer.post("/documents?title=x", json={"documents": [SEALS]}).status_code == 401  # key first
    removed = writer.delete("/documents/harbor-seals?force=1", headers=AUTH)
    assert removed.status_code == 422 and removed.json()["detail"][0]["field"] == "force"
    assert writer.post("/index/rebuild?now=1", headers=AUTH).status_code == 422
    assert writer.get("/documents/harbor-seals").json()["title"] == SEALS["title"]
    assert writer.delete("/documents/harbor-seals", headers=AUTH).status_code == 200


def test_a_batch_doc_id_is_refused_in_words(writer: TestClient) -> None:
    """Found by a probe: a JSON batch's doc_id "café" was refused with "String should match pattern
    '^[A-Za-z0-9](?:\\.?[A-Za-z0-9_-])*\\.?$'", where PUT's path says the rule in words."""
    for doc_id in ("café", "a..b", "x" * 129):
        refused = writer.post(
            "/documents", json={"documents": [{"doc_id": doc_id, "title": "T", "text": "x"}]}, headers=AUTH
        )
        assert refused.status_code == 422, refused.text
        message = refused.json()["message"]
        assert message.startswith("documents.0.doc_id: '") and "is not a doc_id; use 1-128 letters" in message
        assert "pattern" not in message
    schema = writer.get("/openapi.json").json()["components"]["schemas"]["NewDocument"]
    assert schema["properties"]["doc_id"]["pattern"] and schema["properties"]["doc_id"]["maxLength"] == 128


def test_a_lone_surrogate_in_a_write_is_named_as_such(writer: TestClient) -> None:
    """Found by a probe: a batch whose text escapes an unpaired surrogate ("\\ud800", valid JSON) was
    refused as "request body is not valid JSON", and PUT's as "unable to parse raw data as a unicode
    string", where a question, a JSON line and a metadata file say what is wrong and where."""
    json_body = {**AUTH, "Content-Type": "application/json"}
    batch = writer.post(
        "/documents",
        content=b'{"documents": [{"doc_id": "s1", "title": "T", "text": "a \\ud800 b"}]}',
        headers=json_body,
    )
    assert batch.status_code == 422, batch.text
    assert batch.json()["message"] == (
        "documents[0].text: it holds an unpaired surrogate (such as the JSON escape \\ud800), which is not "
        "valid Unicode; write the character itself or remove it"
    )
    meta = writer.post(
        "/documents",
        content=b'{"documents": [{"doc_id": "s1", "title": "T", "text": "ab", '
        b'"metadata": {"k": "\\udc00"}}]}',
        headers=json_body,
    )
    assert meta.status_code == 422 and meta.json()["message"].startswith("documents[0].metadata.k: it holds")
    put = writer.put("/documents/s2", content=b'{"title": "T", "text": "x \\ud83d y"}', headers=json_body)
    assert put.status_code == 422
    assert put.json()["message"].startswith("text: it holds an unpaired surrogate")
    broken = writer.post("/documents", content=b'{"documents": [', headers=json_body)
    assert broken.status_code == 422 and "not valid JSON" in broken.json()["message"]


def test_a_text_of_nul_characters_is_refused(writer: TestClient) -> None:
    # Was: a text file of NULs was refused (UTF-16 read as UTF-8, or a binary file), but the same text sent
    # as JSON was indexed, and the document of NULs ranked for unrelated questions (a probe of ingestion).
    version = query(writer, "milia")["index_version"]
    for text in ("\u0000\u0000\u0000", "S\u0000e\u0000a\u0000l\u0000s\u0000 rest on rocks"):
        body = {"title": "Seals", "text": text}
        refused = writer.put("/documents/seals", json=body, headers=AUTH)
        assert refused.status_code == 422, refused.text
        assert "NUL characters" in refused.json()["message"]
        batch = writer.post("/documents", json={"documents": [{"doc_id": "seals", **body}]}, headers=AUTH)
        assert batch.status_code == 422 and "NUL characters" in batch.json()["message"]
    assert query(writer, "milia")["index_version"] == version  # nothing was written


def test_a_title_longer_than_a_line_is_refused_naming_the_limit(writer: TestClient) -> None:
    """Found by the security probe: a title had no limit, and it is embedded and BM25-indexed with every
    passage of its document: one write of a 1 MB title over 107 kB of text (167 passages) took 16 s and
    grew the service by 6.5 GB. A title of more than MAX_TITLE_CHARS is refused with a 422 naming the
    limit, through every write route; one of exactly the limit is taken."""
    from indexer.live import MAX_TITLE_CHARS

    long_title = ("Harbor seals " * (MAX_TITLE_CHARS // 13 + 1))[:MAX_TITLE_CHARS] + "s"
    over = {**SEALS, "title": long_title}
    refusals = [
        writer.post("/documents", json={"documents": [over]}, headers=AUTH),
        writer.put("/documents/harbor-seals", json=over, headers=AUTH),
        writer.post(
            "/documents",
            params={"doc_id": "harbor-seals", "title": over["title"]},
            content=SEALS["text"].encode(),
            headers={**AUTH, "Content-Type": "text/plain"},
        ),
    ]
    for refused in refusals:
        assert refused.status_code == 422, refused.text
        message = refused.json()["message"]
        assert (
            f"title has {MAX_TITLE_CHARS + 1:,} characters, over the limit of {MAX_TITLE_CHARS:,}" in message
        )
    assert writer.get("/documents/harbor-seals").status_code == 404
    taken = writer.put("/documents/harbor-seals", json={**over, "title": over["title"][:-1]}, headers=AUTH)
    assert taken.status_code == 200, taken.text


def test_the_schema_states_the_title_limit(writer: TestClient) -> None:
    """The OpenAPI document says what the server enforces: a title over the limit is refused, so the
    schema gives its maxLength (a generated client or schemathesis would otherwise send one)."""
    from indexer.live import MAX_TITLE_CHARS

    schemas = writer.get("/openapi.json").json()["components"]["schemas"]
    titles = [s["properties"]["title"] for s in schemas.values() if "title" in s.get("properties", {})]
    bodies = [t for t in titles if "document's title" in t.get("description", "")]
    assert len(bodies) >= 2  # a PUT's body and a batch's document
    assert all(t["maxLength"] == MAX_TITLE_CHARS for t in bodies)


def test_a_document_of_invisible_characters_is_refused_as_empty(writer: TestClient) -> None:
    """Found by the text probe: a text (or a title) of zero-width spaces, soft hyphens or other invisible
    format characters was stored and found as a blank passage, where one of spaces is refused as empty."""
    for blank in ("\u200b\u200b", "\u00ad", " \ufeff\u200d "):
        text = writer.put("/documents/blank", json={"title": "Blank", "text": blank}, headers=AUTH)
        assert text.status_code == 422, text.text
        assert "text is empty" in text.json()["message"]
        title = writer.put("/documents/blank", json={"title": blank, "text": SEALS["text"]}, headers=AUTH)
        assert title.status_code == 422, title.text
        assert "title is empty" in title.json()["message"]
    assert writer.get("/documents/blank").status_code == 404
    visible = {"title": "Blank", "text": "\u200bSeals.\u200b"}
    shown = writer.put("/documents/blank", json=visible, headers=AUTH)
    assert shown.status_code == 200, shown.text


def test_a_metadata_value_nested_too_deeply_is_refused_not_a_server_error() -> None:
    """Stored as JSON text, a value nested deeper than json.dumps recurses raised RecursionError, which
    pydantic does not turn into a 422 (a reviewer's probe found 500s at depths near 960)."""
    from pydantic import ValidationError

    from service.write_schemas import DocumentBody

    nested: object = {"x": 1}
    for _ in range(3000):
        nested = [nested]
    with pytest.raises(ValidationError, match="nests too deeply"):
        DocumentBody.model_validate({"title": "t", "text": "x", "metadata": {"d": nested}})
