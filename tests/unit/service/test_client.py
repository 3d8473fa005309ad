"""citeqa.client against the real app served by uvicorn on loopback (the session index): typed results,
filters and paging on both question routes, exact citations, the server's errors, and writes with a key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from citeqa.client import CiteqaClient, CiteqaClientError, parse_response
from citeqa.search import Searcher
from citeqa.types import Citation, Response, Result
from corpus.types import Document
from eval.bench import loopback_server
from indexer.embedding import DEFAULT_MODEL
from indexer.load import load_index
from service.app import create_app
from service.settings import Settings
from service.wiring import build_answerer

QUESTION = "how do you get rid of milia"
KEY = "client-key"


@pytest.fixture(scope="module")
def server(app_settings: Settings, searcher: Searcher) -> Iterator[str]:
    with loopback_server(create_app(app_settings, searcher)) as url:
        yield url


@pytest.fixture
def client(server: str) -> Iterator[CiteqaClient]:
    with CiteqaClient(server) as one:
        yield one


def spans(response: Response) -> list[tuple[str, int, int]]:
    return [(r.citation.doc_id, r.citation.start, r.citation.end) for r in response.results]


def test_query_is_typed_and_its_citations_are_exact(client: CiteqaClient) -> None:
    response = client.query(QUESTION, top_k=3)
    assert isinstance(response, Response) and response.question == QUESTION and response.mode == "hybrid"
    assert [r.rank for r in response.results] == [1, 2, 3] and response.has_more
    assert all(isinstance(r, Result) and isinstance(r.citation, Citation) for r in response.results)
    texts = {}
    for result in response.results:
        c = result.citation
        texts.setdefault(c.doc_id, client.document(c.doc_id).text)
        assert texts[c.doc_id][c.start : c.end] == result.text
        assert all(c.start <= h.start < h.end <= c.end for h in result.highlights)
        assert result.relevance is not None and 0.0 <= result.relevance <= 1.0
    if response.answer is not None:
        a = response.answer.citation
        assert client.document(a.doc_id).text[a.start : a.end] == response.answer.text


def test_search_pages_and_matches_query(client: CiteqaClient) -> None:
    whole = client.search(QUESTION, k=6, mode="bm25")
    first, second = (
        client.search(QUESTION, k=3, mode="bm25"),
        client.search(QUESTION, k=3, mode="bm25", offset=3),
    )
    assert second.offset == 3 and [r.rank for r in second.results] == [4, 5, 6]
    assert spans(first) + spans(second) == spans(whole)
    assert spans(client.query(QUESTION, top_k=6, mode="bm25")) == spans(whole)


def test_filters_on_both_routes(client: CiteqaClient) -> None:
    listed = client.documents()
    assert listed and all(d.chars > 0 for d in listed)
    chosen = listed[-1]
    by_post = client.query(QUESTION, top_k=5, filters={"doc_id": [chosen.doc_id]})
    by_get = client.search(QUESTION, k=5, filters={"doc_id": [chosen.doc_id]})
    assert by_post.results and {r.citation.doc_id for r in by_post.results} == {chosen.doc_id}
    assert spans(by_get) == spans(by_post)
    two = [d.doc_id for d in listed[:2]]
    either = client.search(QUESTION, k=10, filters={"doc_id": two})
    assert {r.citation.doc_id for r in either.results} <= set(two)


def test_document_and_health(client: CiteqaClient) -> None:
    summary = client.documents()[0]
    document = client.document(summary.doc_id)
    assert isinstance(document, Document) and len(document.text) == summary.chars
    assert document.title == summary.title and dict(document.metadata) == dict(summary.metadata)
    health = client.health()
    assert health["status"] == "ok" and health["index"]["documents"] == len(client.documents())


def test_refusals_carry_the_servers_error(client: CiteqaClient) -> None:
    with pytest.raises(CiteqaClientError) as blank:
        client.query("   ")
    assert blank.value.status == 422 and blank.value.error == "invalid_request"
    assert "must not be empty or only spaces" in blank.value.message
    with pytest.raises(CiteqaClientError) as unknown:
        client.search("milia", filters={"colour": ["red"]})
    assert unknown.value.status == 422 and "unknown filter key 'colour'" in unknown.value.message
    with pytest.raises(CiteqaClientError) as missing:
        client.document("nope")
    assert missing.value.status == 404 and missing.value.error == "not_found"
    with pytest.raises(CiteqaClientError) as no_key:
        client.remove(["nope"])
    assert no_key.value.status in (401, 403)


def test_unreachable_service_is_an_http_error() -> None:
    with CiteqaClient("http://127.0.0.1:9", timeout=2) as client, pytest.raises(httpx.HTTPError):
        client.health()


def test_parse_response_of_an_unanswerable_body() -> None:
    body: dict[str, Any] = {
        "question": "q", "mode": "dense", "took_ms": 1.0, "answerable": False, "confidence": 0.1,
        "answer": None, "offset": 0, "has_more": False, "index_version": 4, "results": [],
    }  # fmt: skip
    parsed = parse_response(body)
    assert parsed.answer is None and parsed.results == () and parsed.index_version == 4


@pytest.fixture
def writable(index_copy: Path, encoder: Any) -> Iterator[str]:
    settings = Settings(index_path=index_copy, model=DEFAULT_MODEL, api_keys=[KEY])
    answerer = build_answerer(settings, Searcher(load_index(index_copy), encoder))
    with loopback_server(create_app(settings, answerer=answerer)) as url:
        yield url


def test_add_documents_and_files_then_remove(writable: str, tmp_path: Path) -> None:
    seals = Document(
        doc_id="harbor-seals",
        title="Harbor seals",
        text="Harbor seals can hold their breath for up to thirty minutes. Pups swim within hours of birth.",
        author="A. Writer",
        metadata={"habitat": "coast"},
    )
    note = tmp_path / "gannets.md"
    note.write_text("# Gannets\n\nGannets dive into the sea from thirty metres.\n", encoding="utf-8")
    with CiteqaClient(writable, api_key=KEY) as client:
        start = client.query("harbor seals").index_version
        added = client.add([seals])
        assert added.index_version == start + 1 and added.doc_ids == ("harbor-seals",)
        assert added.op == "put" and added.embedded_passages >= 1
        stored = client.document("harbor-seals")
        assert stored.text == seals.text and dict(stored.metadata) == {"habitat": "coast"}
        found = client.query(
            "how long can seals hold their breath",
            top_k=1,
            filters={"doc_id": ["harbor-seals"]},
            min_version=added.index_version,
        )
        assert found.index_version == added.index_version and "thirty minutes" in found.results[0].text
        searched = client.search("seals breath", k=1, min_version=added.index_version)
        assert searched.index_version >= added.index_version
        with pytest.raises(CiteqaClientError) as ahead:
            client.query("seals", min_version=added.index_version + 100)
        assert ahead.value.status == 409 and "does not exist yet" in ahead.value.message

        uploaded = client.add([note])
        assert uploaded.index_version == added.index_version + 1 and uploaded.doc_ids == ("gannets",)
        assert "Gannets dive" in client.document("gannets").text

        removed = client.remove(["harbor-seals", "gannets"])
        assert removed.doc_ids == ("harbor-seals", "gannets") and removed.index_version == start + 4
        assert {"harbor-seals", "gannets"}.isdisjoint(d.doc_id for d in client.documents())
        with pytest.raises(CiteqaClientError) as gone:
            client.remove(["gannets"])
        assert gone.value.status == 404 and "no document with doc_id 'gannets'" in gone.value.message

    with CiteqaClient(writable, api_key="wrong") as stranger, pytest.raises(CiteqaClientError) as refused:
        stranger.add([seals])
    assert refused.value.status == 403 and refused.value.error == "forbidden"


def test_ask_url_prints_what_ask_prints(
    server: str, client: CiteqaClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from support import one_line, run_cli

    from service.cli.asking import print_response

    done = run_cli(["ask", QUESTION, "-k", "2", "--url", server], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    print_response(client.query(QUESTION, top_k=2), tty=False)
    assert "\n2. score " in done.stdout
    assert done.stdout.split() == capsys.readouterr().out.split()  # the same words (wrapped at other widths)
    refused = run_cli(["ask", "  ", "--url", server], cwd=tmp_path)
    assert refused.returncode == 2 and "the service refused (422)" in one_line(refused.stderr)


def test_a_whole_consumer_message_is_a_question_on_both_routes(server: str) -> None:
    """A message of background and then the question, up to the longest allowed, through uvicorn: GET with
    it in the URL and POST in the body both answer; one character more is a 422 that says the limit."""
    from citeqa.search import MAX_QUESTION_CHARS

    background = "My son is five months old and had baby acne that cleared up, but the white spots stayed. "
    question = "How do we get rid of the milia on his chin?"
    message = (background * (MAX_QUESTION_CHARS // len(background)))[: MAX_QUESTION_CHARS - len(question)]
    message += question
    assert len(message) == MAX_QUESTION_CHARS
    with httpx.Client(base_url=server, timeout=60) as http:
        got = http.get("/search", params={"q": message, "k": 3})
        posted = http.post("/query", json={"question": message, "top_k": 3})
        assert got.status_code == posted.status_code == 200, (got.text[:300], posted.text[:300])
        cited = [[r["citation"] for r in response.json()["results"]] for response in (got, posted)]
        assert cited[0] == cited[1] and len(cited[0]) == 3
        longer = http.get("/search", params={"q": message + "?"})
        assert longer.status_code == 422 and str(MAX_QUESTION_CHARS) in longer.json()["message"]


def test_remove_is_all_or_nothing_as_in_the_folder(writable: str, tmp_path: Path) -> None:
    """Found by a probe: ``citeqa remove a nope --url`` deleted 'a', then failed on 'nope' saying only the
    404, and ``citeqa remove a a --url`` deleted 'a' and failed on the second; ``--index`` removes nothing
    in the first case and 'a' once in the second."""
    from support import one_line, run_cli

    puffins = Document(doc_id="puffins", title="Puffins", text="Puffins nest in burrows on sea cliffs.")
    with CiteqaClient(writable, api_key=KEY) as client:
        added = client.add([puffins])
        with pytest.raises(CiteqaClientError) as missing:
            client.remove(["puffins", "nope"])
        assert missing.value.status == 404 and "'nope'" in missing.value.message
        assert "nothing was removed" in missing.value.message
        assert client.document("puffins").text == puffins.text
        assert client.query("puffins").index_version == added.index_version

        removed = client.remove(["puffins", "puffins"])
        assert removed.doc_ids == ("puffins",) and removed.index_version == added.index_version + 1

        client.add([puffins])
    done = run_cli(["remove", "puffins", "puffins", "--url", writable, "--key", KEY], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "removed 1 documents" in one_line(done.stdout)


def test_an_endpoint_given_as_the_url_is_named_in_the_error(server: str) -> None:
    """Found by a probe: ``citeqa ask --url http://host:8000/search`` answered "no such endpoint" alone; the
    client appends the endpoints to the URL, so the message says to give the base URL."""
    with CiteqaClient(f"{server}/search") as wrong, pytest.raises(CiteqaClientError) as refused:
        wrong.query(QUESTION)
    assert refused.value.status == 404
    assert f"give the base URL ({server})" in refused.value.message
    with CiteqaClient(f"{server}/") as right:
        assert right.query(QUESTION, top_k=1).results  # a trailing slash is the base URL


def test_documents_are_read_page_by_page(client: CiteqaClient) -> None:
    everything = client.documents()
    assert [d.doc_id for d in client.documents(page_size=1)] == [d.doc_id for d in everything]
    assert len(everything) == client.health()["index"]["documents"]


def test_search_asks_what_no_url_can_carry_by_post(writable: str) -> None:
    """Found by a probe: ``search`` of a question the service takes (10,000 penguin emoji) raised httpx's
    InvalidURL ("URL component 'query' too long"), not an answer nor a typed error, and a filter key with
    a colon was split at it by the service. Such a query is asked as POST /query, as the search page does."""
    gannets = Document(
        doc_id="gannets",
        title="Gannets",
        text="Gannets dive into the sea from thirty metres.",
        metadata={"dc:subject": "birds"},
    )
    with CiteqaClient(writable, api_key=KEY) as client:
        client.add([gannets])
        long_question = "\N{PENGUIN}" * 10_000
        searched = client.search(long_question, k=2)
        assert searched.question == long_question
        assert spans(searched) == spans(client.query(long_question, top_k=2)) and len(searched.results) == 2
        subject = {"dc:subject": ["birds"]}
        filtered = client.search("how do gannets dive", k=3, filters=subject)
        assert [r.citation.doc_id for r in filtered.results] == ["gannets"]
        assert spans(filtered) == spans(client.query("how do gannets dive", top_k=3, filters=subject))


def test_ask_url_says_how_to_give_the_key_a_service_needs_for_reads(
    app_settings: Settings, searcher: Searcher, tmp_path: Path
) -> None:
    """Found by a probe: ``citeqa ask --url`` of a service with CITEQA_REQUIRE_KEY_FOR_READS said "send the
    header 'Authorization: Bearer <key>'", which a command line user cannot; it names --key and the
    variable, and with the key it answers."""
    from support import one_line, run_cli

    settings = app_settings.model_copy(update={"api_keys": [SecretStr(KEY)], "require_key_for_reads": True})
    with loopback_server(create_app(settings, searcher)) as url:
        refused = run_cli(["ask", QUESTION, "--url", url], cwd=tmp_path)
        assert refused.returncode == 2
        said = one_line(refused.stderr)
        assert "the service refused (401): missing API key; pass --key or set CITEQA_API_KEY" in said
        assert "header" not in said
        answered = run_cli(["ask", QUESTION, "-k", "1", "--url", url, "--key", KEY], cwd=tmp_path)
        assert answered.returncode == 0 and "1. score " in answered.stdout, answered.stderr


def test_ask_url_of_a_page_that_is_not_a_citeqa_service_does_not_say_refused(tmp_path: Path) -> None:
    """Found by a probe: a URL that answers 200 with HTML (a web page, not the API) was "the service refused
    (200)"; it says the service answered, but not with a citeqa answer, and why."""
    from fastapi import FastAPI
    from fastapi.responses import HTMLResponse
    from support import one_line, run_cli

    page = FastAPI()

    @page.post("/query")
    def html() -> HTMLResponse:
        return HTMLResponse("<html><body>Welcome</body></html>")

    with loopback_server(page) as url:
        answered = run_cli(["ask", QUESTION, "--url", url], cwd=tmp_path)
    assert answered.returncode == 2
    said = one_line(answered.stderr)
    assert "answered 200, but not with a citeqa answer: POST /query answered text/html" in said, said
    assert "refused" not in said


def test_text_utf8_cannot_hold_gets_the_services_refusal(writable: str, tmp_path: Path) -> None:
    """Found by a probe: ``query``, ``search`` and ``add`` of text with an unpaired surrogate (what Python
    makes of bytes that are not UTF-8 on a command line) raised UnicodeEncodeError from httpx, and
    ``citeqa ask --url $'milia \\xff'`` ended in that traceback (exit 1) where ``citeqa ask`` in process says
    what is wrong; the service's 422 naming the field is raised as CiteqaClientError, and ask exits 2."""
    from support import one_line, run_cli

    surrogate = "milia \udcff"
    bad = Document(doc_id="bad-text", title="Bad", text=f"Puffins {surrogate}.")
    with CiteqaClient(writable, api_key=KEY) as client:
        for call, field in (
            (lambda: client.query(surrogate), "question"),
            (lambda: client.search(surrogate), "question"),
            (lambda: client.add([bad]), "documents[0].text"),
        ):
            with pytest.raises(CiteqaClientError) as refused:
                call()
            assert refused.value.status == 422 and refused.value.message.startswith(f"{field}: ")
            assert "unpaired surrogate" in refused.value.message
        assert "\N{PENGUIN}" in client.query("\N{PENGUIN} milia", top_k=1).question  # UTF-8 as it was
    asked = run_cli(["ask", surrogate, "--url", writable], cwd=tmp_path)
    assert asked.returncode == 2 and "Traceback" not in asked.stderr
    assert "the service refused (422): question: it holds an unpaired surrogate" in one_line(asked.stderr)


def test_a_redirect_is_said_as_one_with_where_it_leads(server: str) -> None:
    """Found by a probe: a base URL that redirects (a proxy moving http to https, a moved host) raised
    "answered no content type, not JSON; is the URL a citeqa service's API?"; it says the redirect and
    where it leads, the URL to give the client."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import RedirectResponse
    from starlette.routing import Route

    async def moved(request: Request) -> RedirectResponse:
        return RedirectResponse(f"{server}{request.url.path}", status_code=308)

    front = Starlette(routes=[Route("/{path:path}", moved, methods=["GET", "POST", "HEAD"])])
    with loopback_server(front) as old_url, CiteqaClient(old_url) as client:
        for call in (lambda: client.query(QUESTION), lambda: client.search(QUESTION)):
            with pytest.raises(CiteqaClientError) as refused:
                call()
            assert refused.value.status == 308 and refused.value.error == "redirect"
            assert (
                f"a redirect to {server}/" in refused.value.message
                and "not JSON" not in refused.value.message
            )
    with CiteqaClient(server) as there:
        assert there.query(QUESTION, top_k=1).results


def test_an_empty_doc_id_is_refused_before_any_request(writable: str) -> None:
    """Found by a probe: ``document("")`` asked GET /documents/ and raised "307 not_json: ... is the URL a
    citeqa service's API?", and ``remove([...])`` with an empty id did the same for DELETE /documents/;
    an empty id is a ValueError that says so, and nothing is removed."""
    puffins = Document(doc_id="puffins", title="Puffins", text="Puffins nest in burrows on sea cliffs.")
    with CiteqaClient(writable, api_key=KEY) as client:
        added = client.add([puffins])
        with pytest.raises(ValueError, match="doc_id is empty"):
            client.document("")
        with pytest.raises(ValueError, match="doc_id is empty"):
            client.remove(["puffins", ""])
        assert client.document("puffins").text == puffins.text
        assert client.query("puffins", top_k=1).index_version == added.index_version


def test_a_filter_given_one_string_is_refused_not_spelled_out(client: CiteqaClient) -> None:
    """Found by a probe: ``filters={"doc_id": "milia-overview"}`` (a string is a sequence of strings) was
    sent as the values "m", "i", "l", ... by ``query`` and ``search`` alike, and answered an empty page;
    it is a ValueError showing the list to give, and the list answers."""
    one = {"doc_id": "milia-overview"}
    for call in (lambda: client.query(QUESTION, filters=one), lambda: client.search(QUESTION, filters=one)):
        with pytest.raises(ValueError, match=r"filters\['doc_id'\] is a string.*\['milia-overview'\]"):
            call()
    as_list = {"doc_id": ["milia-overview"]}
    assert {r.citation.doc_id for r in client.search(QUESTION, filters=as_list).results} == {"milia-overview"}


def test_add_of_one_item_says_to_give_a_list(writable: str, tmp_path: Path) -> None:
    """Found by a probe: ``add("notes/gannets.md")`` read the path as its characters and raised
    "FileNotFoundError: 'n'", and ``add(Path(...))`` or ``add(document)`` raised "object is not iterable";
    one item is a TypeError that shows the list to give, and the list adds it."""
    note = tmp_path / "gannets.md"
    note.write_text("# Gannets\n\nGannets dive into the sea from thirty metres.\n", encoding="utf-8")
    seals = Document(doc_id="harbor-seals", title="Harbor seals", text="Harbor seals bask on rocks.")
    with CiteqaClient(writable, api_key=KEY) as client:
        for one in (str(note), note, seals):
            with pytest.raises(TypeError, match=r"add takes a list of Documents or of file paths; give \["):
                client.add(one)  # type: ignore[arg-type]
        assert client.add([str(note)]).doc_ids == ("gannets",)
        assert client.add([seals]).doc_ids == ("harbor-seals",)


def test_index_and_url_together_are_refused_not_half_obeyed(writable: str, tmp_path: Path) -> None:
    """Found by a probe: ``citeqa remove ID --url URL --index DIR`` removed the document from the service and
    left DIR aside without a word (add and ask did the same); both given is exit 2 saying to give one, and
    nothing is written."""
    from support import one_line, run_cli

    puffins = Document(doc_id="puffins", title="Puffins", text="Puffins nest in burrows on sea cliffs.")
    note = tmp_path / "gannets.md"
    note.write_text("# Gannets\n\nGannets dive into the sea from thirty metres.\n", encoding="utf-8")
    elsewhere = str(tmp_path / "other-index")
    with CiteqaClient(writable, api_key=KEY) as client:
        version = client.add([puffins]).index_version
        for command in (["remove", "puffins"], ["add", str(note)], ["ask", "where do puffins nest"]):
            done = run_cli([*command, "--url", writable, "--key", KEY, "--index", elsewhere], cwd=tmp_path)
            assert done.returncode == 2, (command, done.stdout)
            assert "give --index or --url, not both" in one_line(done.stderr)
        assert client.document("puffins").text == puffins.text
        assert client.query("puffins", top_k=1).index_version == version


def test_a_service_slower_than_the_timeout_is_not_called_unreachable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by a probe: ``citeqa ask --url`` (and add, remove) of a service that was reached but answered
    after the client's timeout said "cannot reach the service at URL: timed out", which sends one to check
    the network, and for a write hides that it may still be made; it says the service did not answer in
    time, and for a write to look before sending it again."""
    import time

    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route
    from typer.testing import CliRunner

    from service.cli import asking, writing
    from service.cli.app import app

    def slow(request: Request) -> JSONResponse:
        time.sleep(2.0)  # a sync endpoint: in a worker thread, the server stays up
        return JSONResponse({"error": "late", "message": "too late"}, status_code=500)

    busy = Starlette(routes=[Route("/{path:path}", slow, methods=["GET", "POST", "HEAD", "DELETE"])])
    monkeypatch.setattr(asking, "ASK_TIMEOUT", 0.5, raising=False)
    monkeypatch.setattr(writing, "WRITE_TIMEOUT", 0.5)
    with loopback_server(busy) as url:
        asked = CliRunner().invoke(app, ["ask", "what are milia", "--url", url])
        assert asked.exit_code == 2
        said = " ".join(asked.output.split())
        assert f"the service at {url} did not answer within 0.5 s" in said and "cannot reach" not in said
        removed = CliRunner().invoke(app, ["remove", "puffins", "--url", url, "--key", KEY])
        assert removed.exit_code == 2
        said = " ".join(removed.output.split())
        assert "did not answer within 0.5 s" in said and "see GET /documents before sending it again" in said


def test_ask_shows_a_documents_terminal_controls_and_never_sends_them(writable: str, tmp_path: Path) -> None:
    """Found by the security probe: a document whose title, author, URL and text held ESC sequences (added
    by anyone with a write key, or crawled) had them printed raw by ``citeqa ask``: the operator's
    terminal cleared its screen, took a new window title and showed a link to another site under other
    words. Every control character of a document is written out as its code (``\\x1b``)."""
    from support import run_cli

    escape_codes = "\x1b[2J\x1b]0;PWNED\x07"
    hostile = Document(
        doc_id="kittiwakes",
        title=f"Kittiwakes {escape_codes}",
        text="Kittiwakes nest on narrow cliff ledges. \x1b]8;;http://evil.test\x07link\x1b]8;;\x07 \x9b31m",
        author="\x1b[5mAnn Auk",
        url="https://example.org/\x1b[2J",
    )
    with CiteqaClient(writable, api_key=KEY) as client:
        client.add([hostile])
    asked = run_cli(["ask", "where do kittiwakes nest", "-k", "1", "--url", writable], cwd=tmp_path)
    assert asked.returncode == 0, asked.stderr
    shown = asked.stdout
    assert "Kittiwakes nest on narrow cliff ledges." in shown
    assert not any(char in shown for char in "\x1b\x07\x9b"), repr(shown)
    assert "Kittiwakes \\x1b[2J\\x1b]0;PWNED\\x07" in shown and "\\x1b[5mAnn Auk" in shown
    assert "https://example.org/\\x1b[2J" in shown and "\\x9b31m" in shown
