"""File uploads over real HTTP (TestClient of the real app, real model and FAISS): multipart/form-data
with PDF, Word, HTML and text files made by the tests, citations that name the PDF page, 415 for a type
citeqa does not read, 413 past the write body limit, and page numbers through the JSON batch."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from document_files import (
    PARAGRAPH,
    THUMBNAIL,
    docx_bomb,
    docx_bytes,
    pdf_bytes,
    pdf_one_page_many_times,
)
from fastapi.testclient import TestClient
from support import writable_client

KEY = "upload-key"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
AUTH = {"Authorization": f"Bearer {KEY}"}
GESTATION = "Porpoise calves are born in early summer after a gestation of about eleven months."
PDF_PAGES = [
    "Harbour porpoises are small toothed whales of cold coastal waters. They are shy, rarely leap, and are "
    "most often seen as a dark back and a small triangular fin that rolls briefly above the surface. "
    "Adults are about one and a half metres long and weigh around sixty kilograms. " * 2,
    "Porpoises feed on small schooling fish such as herring and sand eels, which they find by "
    "echolocation, sending out rapid clicks and listening for the echoes. " + GESTATION + " The calf "
    "nurses for eight to twelve months and stays close to its mother through its first winter.",
    "Fishing nets are the greatest threat to porpoises: many drown as bycatch every year. Acoustic "
    "deterrents on nets and closed areas help; noise from shipping and construction also drives them "
    "away from their feeding grounds. " * 2,
]
HTML = (
    b"<html><head><title>Puffin burrows</title><meta name='author' content='Ann Auk'></head><body>"
    b"<nav><a href='/'>Home</a> | <a href='/birds'>Birds</a></nav><article><h1>Puffin burrows</h1>"
    b"<p>Atlantic puffins dig burrows up to a metre deep in the soft soil of cliff tops, where a single "
    b"egg is laid each spring and both parents share the incubation.</p>"
    b"<p>The chick, called a puffling, leaves the burrow at night about six weeks after hatching.</p>"
    b"</article></body></html>"
)


@pytest.fixture
def writer(index_copy: Path, encoder: Any) -> Iterator[TestClient]:
    with writable_client(
        index_copy, encoder, api_keys=[KEY], max_write_body_bytes=100_000, max_bulk_documents=5
    ) as client:
        yield client


def every_type() -> list[tuple[str, tuple[str, bytes, str]]]:
    docx = docx_bytes(
        [
            ("Heading 1", "Gannet dives"),
            (
                "p",
                "Northern gannets dive from thirty metres, folding their wings just before they hit the sea.",
            ),
        ],
        author="Gus Sula",
    )
    return [
        ("file", ("porpoises.pdf", pdf_bytes(PDF_PAGES, title="Harbour porpoises"), "application/pdf")),
        ("file", ("gannets.docx", docx, "application/octet-stream")),  # the suffix says the type
        ("file", ("puffins.html", HTML, "text/html")),
        ("file", ("seals.txt", b"Grey seals haul out on sandbanks to rest and moult.\n", "text/plain")),
    ]


def query(client: TestClient, question: str) -> dict[str, Any]:
    response = client.post("/query", json={"question": question, "top_k": 5})
    assert response.status_code == 200, response.text
    return response.json()


def expected_pages(page_starts: list[int], start: int, end: int) -> tuple[int | None, int | None]:
    """The page of the first and (when later) of the last cited character, counted here on their own."""
    first = sum(1 for s in page_starts if s <= start)
    last = sum(1 for s in page_starts if s <= max(start, end - 1))
    return first, (last if last > first else None)


def test_multipart_upload_of_every_type_and_a_citation_with_its_page(writer: TestClient) -> None:
    added = writer.post("/documents", files=every_type(), headers=AUTH)
    assert added.status_code == 200, added.text
    assert added.json()["doc_ids"] == ["porpoises", "gannets", "puffins", "seals"]

    pdf = writer.get("/documents/porpoises").json()
    assert pdf["title"] == "Harbour porpoises" and len(pdf["page_starts"]) == 3
    page_two = pdf["text"].index(GESTATION)
    assert pdf["page_starts"][1] <= page_two < pdf["page_starts"][2]
    assert writer.get("/documents/gannets").json()["title"] == "Gannet dives"
    puffins = writer.get("/documents/puffins").json()
    assert (puffins["title"], puffins["author"]) == ("Puffin burrows", "Ann Auk")
    assert "Home" not in puffins["text"] and writer.get("/documents/seals").json()["page_starts"] == []

    body = query(writer, "how long is the gestation of a porpoise calf")
    top = body["results"][0]
    citation = top["citation"]
    assert citation["doc_id"] == "porpoises"
    assert top["text"] == pdf["text"][citation["start"] : citation["end"]]
    assert (citation["page"], citation["page_end"]) == expected_pages(
        pdf["page_starts"], citation["start"], citation["end"]
    )
    assert citation["page"] is not None
    answer = body["answer"]
    assert answer is not None and answer["text"] == GESTATION
    assert answer["citation"]["page"] == 2 and answer["citation"]["page_end"] is None
    assert pdf["text"][answer["citation"]["start"] : answer["citation"]["end"]] == GESTATION
    for result in body["results"]:
        c = result["citation"]
        if c["doc_id"] != "porpoises":
            assert (c["page"], c["page_end"]) == (None, None)
    search = writer.get("/search", params={"q": "porpoise gestation", "k": 1}).json()
    assert search["results"][0]["citation"]["page"] is not None


def test_one_file_with_its_metadata_fields(writer: TestClient) -> None:
    pdf = pdf_bytes(["Walrus tusks are elongated canine teeth used to haul out onto the ice."], title="Own")
    added = writer.post(
        "/documents",
        files={"file": ("scan 1.pdf", pdf, "application/pdf")},
        data={
            "doc_id": "walrus-tusks",
            "title": "Walrus tusks",
            "author": "W. Odobenus",
            "url": "https://x.test/w",
        },
        headers=AUTH,
    )
    assert added.status_code == 200, added.text
    stored = writer.get("/documents/walrus-tusks").json()
    assert (stored["title"], stored["author"], stored["url"]) == (
        "Walrus tusks",
        "W. Odobenus",
        "https://x.test/w",
    )
    assert stored["metadata"]["source_format"] == "pdf"
    # The same route takes files on /documents/upload too; the doc_id comes from the filename.
    again = writer.post(
        "/documents/upload", files={"file": ("Walrus Notes.md", b"# Walrus\n\nTusks.\n")}, headers=AUTH
    )
    assert again.status_code == 200 and again.json()["doc_ids"] == ["Walrus-Notes"]


def test_a_word_hyphenated_at_a_pdf_line_end_is_found_by_its_whole_spelling(writer: TestClient) -> None:
    page = "Harbour porpoises hunt herring in murky water by echo-\nlocation, clicking as they swim."
    added = writer.post(
        "/documents", files={"file": ("clicks.pdf", pdf_bytes([page]), "application/pdf")}, headers=AUTH
    )
    assert added.status_code == 200, added.text
    found = writer.post("/query", json={"question": "echolocation", "top_k": 3, "mode": "bm25"}).json()
    top = found["results"][0]
    assert top["citation"]["doc_id"] == "clicks" and "by echolocation, clicking" in top["text"]
    text = writer.get("/documents/clicks").json()["text"]
    assert top["text"] == text[top["citation"]["start"] : top["citation"]["end"]]


def test_unsupported_file_types_are_415(writer: TestClient) -> None:
    version = query(writer, "milia")["index_version"]
    image = writer.post(
        "/documents", files={"file": ("photo.png", b"\x89PNG\r\n\x1a\n", "image/png")}, headers=AUTH
    )
    assert image.status_code == 415, image.text
    assert image.json()["error"] == "unsupported_media_type"
    assert "image/png" in image.json()["message"] and "application/pdf" in image.json()["message"]
    # It names every kind of upload taken, the JSON lines batch included (it did not before).
    assert "or a .jsonl batch (application/x-ndjson)" in image.json()["message"]
    mixed = [*every_type(), ("file", ("notes.odt", b"PK\x03\x04", "application/octet-stream"))]
    refused = writer.post("/documents", files=mixed, headers=AUTH)
    assert refused.status_code == 415 and "'.odt'" in refused.json()["message"]
    raw = writer.post("/documents", content=b"GIF89a", headers={**AUTH, "Content-Type": "image/gif"})
    assert raw.status_code == 415 and raw.json()["error"] == "unsupported_media_type"
    assert query(writer, "milia")["index_version"] == version  # nothing was written


def test_the_upload_routes_415_advises_only_what_it_takes(writer: TestClient) -> None:
    """POST /documents/upload takes no JSON batch, so its 415 does not advise one (it said "send
    application/json" to a JSON batch it had just refused; found by an audit of the README); POST
    /documents still offers it."""
    batch = {"documents": [{"doc_id": "terns", "title": "Terns", "text": "Terns migrate far."}]}
    refused = writer.post("/documents/upload", json=batch, headers=AUTH)
    assert refused.status_code == 415, refused.text
    message = refused.json()["message"]
    assert "send application/json" not in message
    assert "multipart/form-data" in message and "text/plain" in message and "POST /documents" in message
    gif = writer.post("/documents/upload", content=b"GIF89a", headers={**AUTH, "Content-Type": "image/gif"})
    assert gif.status_code == 415 and "send application/json" not in gif.json()["message"]
    raw = writer.post("/documents", content=b"GIF89a", headers={**AUTH, "Content-Type": "image/gif"})
    assert raw.status_code == 415 and "send application/json" in raw.json()["message"]
    assert writer.post("/documents", json=batch, headers=AUTH).status_code == 200


def test_a_multipart_body_over_the_write_limit_is_413(writer: TestClient) -> None:
    big = b"Seals rest on rocks. " * 7_000  # about 147 KB, over the 100,000 bytes of this writer
    response = writer.post("/documents", files={"file": ("seals.txt", big, "text/plain")}, headers=AUTH)
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large" and "100000 bytes" in response.json()["message"]


@pytest.mark.parametrize("part", ["word/document.xml", THUMBNAIL])
def test_a_word_file_that_unpacks_to_gigabytes_is_refused_naming_the_limit(
    index_copy: Path, encoder: Any, part: str
) -> None:
    """A zip bomb: 460 kB of .docx whose document.xml unpacks to 130 MiB was unpacked and parsed whole
    (python-docx reads every part into memory; at the 32 MiB write limit, gigabytes). It is refused from
    its zip directory, before anything is unpacked, with a 422 naming the limit: MAX_XML_BYTES for the
    XML parsed whole, MAX_UNPACKED_BYTES for any part (the thumbnail, an image, is read whole too)."""
    from corpus.formats.docx import MAX_UNPACKED_BYTES, MAX_XML_BYTES

    xml = part.endswith(".xml")
    limit = MAX_XML_BYTES if xml else MAX_UNPACKED_BYTES
    bomb = docx_bomb(limit, part=part, unit=PARAGRAPH if xml else b"\0")
    assert len(bomb) < 1_000_000
    with writable_client(index_copy, encoder, api_keys=[KEY]) as client:
        for response in (
            client.post(
                "/documents", files={"file": ("bomb.docx", bomb, "application/octet-stream")}, headers=AUTH
            ),
            client.post("/documents?doc_id=bomb", content=bomb, headers={**AUTH, "Content-Type": DOCX}),
        ):
            assert response.status_code == 422, response.text
            message = response.json()["message"]
            what = "'s XML" if xml else ""
            assert f"Word file{what} unpacks to" in message, message
            assert f"more than the {limit:,} a .docx may unpack to" in message, message
        assert client.get("/documents/bomb").status_code == 404


def test_a_word_file_of_millions_of_empty_paragraphs_is_refused_in_seconds(writer: TestClient) -> None:
    """60 kB of .docx, 16 MiB of empty paragraphs (<w:p/>, 2.8 million of them), held a write thread for
    half a minute and a gigabyte (python-docx lists every paragraph of the body at once) and was stored.
    The body is walked lazily and a file of more than MAX_BLOCKS paragraphs is refused with a 422 naming
    the limit."""
    from corpus.formats.docx import MAX_BLOCKS

    upload = docx_bomb(16 * 1024 * 1024, unit=b"<w:p/>")
    assert len(upload) < 80_000
    response = writer.post(
        "/documents", files={"file": ("empty.docx", upload, "application/octet-stream")}, headers=AUTH
    )
    assert response.status_code == 422, response.text
    assert f"more than {MAX_BLOCKS:,} paragraphs and table cells" in response.json()["message"]


def test_a_word_file_of_many_paragraphs_is_read_in_seconds(
    writer: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """70 kB of .docx, one sentence and 40,000 empty paragraphs, held a write thread for about a minute of
    CPU: python-docx found each paragraph's (default) style by scanning every style, twice a paragraph
    (heading? list item?). Style names are now looked up in a table made once per file. Counted, not
    timed: python-docx's scan for the default style runs once per file, not per paragraph."""
    from docx.styles.styles import Styles

    scans = []
    default = Styles.default

    def counted(self: Styles, style_type: Any) -> Any:
        scans.append(style_type)
        return default(self, style_type)

    monkeypatch.setattr(Styles, "default", counted)
    blocks = [("p", "Razorbills lay a single egg on a bare cliff ledge.")] + [("p", "")] * 40_000
    upload = docx_bytes(blocks)
    assert len(upload) < 80_000
    response = writer.post(
        "/documents", files={"file": ("razorbills.docx", upload, "application/octet-stream")}, headers=AUTH
    )
    assert response.status_code == 200, response.text
    assert writer.get("/documents/razorbills").json()["text"] == blocks[0][1]
    assert len(scans) <= 2, f"the styles were scanned for the default {len(scans):,} times"


def test_a_pdf_of_one_page_listed_many_times_is_refused_before_it_is_read(
    index_copy: Path, encoder: Any
) -> None:
    """A PDF's page tree may list one page any number of times, a few bytes each: 240 kB listing a page
    40,000 times was read page by page (ten seconds of CPU; the 32 MiB write limit holds millions, for
    hours), and one whose page holds 5,000 characters was read to its last page before its text was found
    too long. More than MAX_PAGES pages are refused before any is read, and the reading stops at the page
    where the text passes the document limit, each with a 422 naming the limit."""
    from corpus.formats.pdf import MAX_PAGES

    line = "Atlantic puffins dig burrows up to a metre deep in the soft soil of cliff tops each spring."
    many = pdf_one_page_many_times(40_000, [line])
    long = pdf_one_page_many_times(4_000, [line] * 60)
    with writable_client(index_copy, encoder, api_keys=[KEY]) as client:
        refused = []
        for name, upload in (("many.pdf", many), ("long.pdf", long)):
            response = client.post(
                "/documents", files={"file": (name, upload, "application/pdf")}, headers=AUTH
            )
            assert response.status_code == 422, response.text
            refused.append(response.json()["message"])
    assert f"many.pdf: the PDF has 40,000 pages, more than the {MAX_PAGES:,} a PDF may have" in refused[0]
    assert "characters by page 182 of 4,000, more than the 1,000,000 allowed" in refused[1], refused[1]


def test_bad_multipart_forms_are_422(writer: TestClient) -> None:
    two = every_type()[2:]
    titled = writer.post("/documents", files=two, data={"title": "One title"}, headers=AUTH)
    assert titled.status_code == 422 and "title describes one file" in titled.json()["message"]
    odd = writer.post("/documents", files=two, data={"tags": "x"}, headers=AUTH)
    assert odd.status_code == 422 and "'tags' is not known" in odd.json()["message"]
    fileless = writer.post(
        "/documents",
        content=b'--b\r\nContent-Disposition: form-data; name="title"\r\n\r\nT\r\n--b--\r\n',
        headers={**AUTH, "Content-Type": "multipart/form-data; boundary=b"},
    )
    assert fileless.status_code == 422 and "no file" in fileless.json()["message"]
    scan = writer.post(
        "/documents", files={"file": ("scan.pdf", pdf_bytes(["", ""]), "application/pdf")}, headers=AUTH
    )
    assert scan.status_code == 422 and "no text layer" in scan.json()["message"]
    unauthorized = writer.post("/documents", files=two)
    assert unauthorized.status_code == 401


@pytest.mark.parametrize("path", ["/documents", "/documents/upload"])
def test_an_unknown_query_parameter_of_an_upload_is_422_naming_it(writer: TestClient, path: str) -> None:
    """A misspelt metadata field was dropped without a word on a raw body (the document stored without its
    title) while the multipart form refused the same name; now every upload refuses it and stores nothing."""
    before = {d["doc_id"] for d in writer.get("/documents").json()["documents"]}
    raw = writer.post(
        path,
        params={"doc_id": "seal-notes", "tilte": "Seal notes", "author": "A. Writer"},
        content=b"Grey seals haul out on sandbanks to rest and moult.",
        headers={**AUTH, "Content-Type": "text/plain"},
    )
    assert raw.status_code == 422, raw.text
    message = raw.json()["message"]
    assert "'tilte'" in message and "doc_id, title, author, publisher, url" in message
    form = writer.post(path, files=every_type()[3:], params={"colour": "grey"}, headers=AUTH)
    assert form.status_code == 422 and "'colour'" in form.json()["message"]
    assert {d["doc_id"] for d in writer.get("/documents").json()["documents"]} == before
    spelt = writer.post(
        path,
        params={"doc_id": "seal-notes", "title": "Seal notes"},
        content=b"Grey seals haul out on sandbanks to rest and moult.",
        headers={**AUTH, "Content-Type": "text/plain"},
    )
    assert spelt.status_code == 200, spelt.text
    assert writer.get("/documents/seal-notes").json()["title"] == "Seal notes"


def test_page_starts_through_the_json_batch(writer: TestClient) -> None:
    """`citeqa add --url` sends a PDF's page starts in the JSON batch; citations then name pages."""
    text = "Page one is about krill swarms.\n\nPage two says krill feed on phytoplankton at night."
    document = {"doc_id": "krill", "title": "Krill", "text": text, "page_starts": [0, text.index("Page two")]}
    assert writer.post("/documents", json={"documents": [document]}, headers=AUTH).status_code == 200
    assert writer.get("/documents/krill").json()["page_starts"] == document["page_starts"]
    top = query(writer, "what do krill feed on at night")["results"][0]
    assert top["citation"]["doc_id"] == "krill"
    assert (top["citation"]["page"], top["citation"]["page_end"]) == (1, 2)  # the passage is both pages
    bad = writer.post("/documents", json={"documents": [{**document, "page_starts": [5]}]}, headers=AUTH)
    assert bad.status_code == 422 and "page_starts" in bad.json()["message"]


def test_a_jsonl_file_in_a_multipart_form_adds_its_documents(writer: TestClient) -> None:
    """A .jsonl file is taken as a folder's is (README: one ingestion path, the same file types)."""
    lines = b"\n".join(
        [
            b'{"doc_id": "narwhals", "title": "Narwhals", "text": "Narwhals have a long spiral tusk."}',
            b'{"doc_id": "belugas", "title": "Belugas", "text": "Belugas are white whales of the Arctic."}',
        ]
    )
    for path, media in (
        ("/documents", "application/octet-stream"),
        ("/documents/upload", "application/x-ndjson"),
    ):
        response = writer.post(path, files={"file": ("whales.jsonl", lines, media)}, headers=AUTH)
        assert response.status_code == 200, response.text
        assert response.json()["doc_ids"] == ["narwhals", "belugas"]
    hit = query(writer, "which whale has a spiral tusk")["results"][0]
    assert hit["citation"]["doc_id"] == "narwhals"
    with_fields = writer.post(
        "/documents", files={"file": ("whales.jsonl", lines, "text/plain")}, data={"title": "T"}, headers=AUTH
    )
    assert with_fields.status_code == 422 and "inside its lines" in with_fields.json()["message"]


def test_two_files_of_one_name_are_named_with_what_to_do(writer: TestClient) -> None:
    """Found by a probe: a/notes.txt and b/notes.txt uploaded together both get doc_id 'notes' (from the
    file name), and the write said only "the same doc_id appears twice in one write", naming neither."""
    files = [
        ("file", ("notes.txt", b"Harbor seals can hold their breath for thirty minutes.", "text/plain")),
        ("file", ("notes.txt", b"Walruses haul out onto ice with their tusks.", "text/plain")),
    ]
    response = writer.post("/documents", files=files, headers=AUTH)
    assert response.status_code == 422, response.text
    message = response.json()["message"]
    assert message.startswith("file 2 (notes.txt): field 'doc_id' duplicates 'notes' of file 1 (notes.txt)")
    assert "upload one of them in a request of its own with the field doc_id" in message
    twice = {"doc_id": "seals", "title": "Seals", "text": "Seals bask."}
    batch = writer.post("/documents", json={"documents": [twice, twice]}, headers=AUTH)
    assert batch.status_code == 422 and "doc_id 'seals' appears twice" in batch.json()["message"]


def test_the_files_of_one_upload_share_one_budget_of_pages_and_paragraphs(writer: TestClient) -> None:
    """Each file's limits held, but they added up across the files of one request (up to 1,000): 500 PDFs
    each listing a page 10,000 times were some twenty minutes of CPU in one upload. The pages of all the
    PDFs of a request are held to 10,000 together (corpus.formats.MAX_REQUEST_PAGES), and the paragraphs
    and table cells of all its Word files to 250,000 (MAX_REQUEST_BLOCKS), each with a 422 naming the
    limit; nothing of the request is stored."""
    pdf = pdf_one_page_many_times(4_000, ["Puffins nest in burrows."])  # 4,000 pages: one file may
    pdfs = [("file", (f"puffins-{n}.pdf", pdf, "application/pdf")) for n in range(3)]
    # About 175,000 paragraphs each (1 MiB of <w:p/> after a sentence): one file may, two may not.
    word = docx_bomb(1, unit=b"<w:p/>")  # one chunk: 174,762 empty paragraphs
    words = [("file", (f"empty-{n}.docx", word, DOCX)) for n in range(2)]
    for files, said in (
        (pdfs, "puffins-2.pdf: the PDFs of this request have 12,000 pages together, more than the 10,000"),
        (words, "empty-1.docx: the Word files of this request hold more than 250,000 paragraphs and table"),
    ):
        response = writer.post("/documents", files=files, headers=AUTH)
        assert response.status_code == 422, response.text
        message = response.json()["message"]
        assert said in message and "send the files in several requests" in message, message
    listed = {d["doc_id"] for d in writer.get("/documents").json()["documents"]}
    assert not {"puffins-0", "empty-0"} & listed
    one = writer.post("/documents", files=[pdfs[0], words[0]], headers=AUTH)
    assert one.status_code == 200, one.text


def test_an_html_or_markdown_file_far_larger_than_any_text_it_may_hold_is_refused_before_parsing(
    index_copy: Path, encoder: Any
) -> None:
    """HTML and Markdown were parsed up to the 20 MB a file may be (an 18 MB page took a minute before
    its 422), though a document's text holds at most 1,000,000 characters: a page many times larger is
    mostly markup. One over 5,000,000 bytes is refused with a 422 naming the limit, before it is parsed,
    as a file of a multipart upload and as a raw body."""
    article = b"<h1>Puffin burrows</h1><p>Atlantic puffins dig burrows on cliff tops.</p>"
    script = b"<script>" + b"var x = 1;\n" * 460_000 + b"</script>"  # about 5 MB of page, no text
    page = b"<html><head>" + script + b"</head><body><article>" + article + b"</article></body></html>"
    notes = b"# Puffins\n\n" + b"<!-- a comment -->\n" * 270_000 + b"Puffins nest in burrows.\n"
    assert 5_000_000 < len(page) < 5_200_000 and 5_000_000 < len(notes) < 5_200_000
    with writable_client(index_copy, encoder, api_keys=[KEY]) as client:
        answers = [
            client.post("/documents", files={"file": ("big.html", page, "text/html")}, headers=AUTH),
            client.post("/documents?doc_id=big", content=page, headers={**AUTH, "Content-Type": "text/html"}),
            client.post("/documents", files={"file": ("big.md", notes, "text/markdown")}, headers=AUTH),
        ]
        for answer, name in zip(answers, ("big.html", "upload", "big.md"), strict=True):
            assert answer.status_code == 422, answer.text
            message = answer.json()["message"]
            assert message.startswith(f"{name}: ") and "more than the 5,000,000 bytes" in message, message
            assert "HTML or Markdown" in message and "1,000,000 characters" in message, message
        listed = {d["doc_id"] for d in client.get("/documents").json()["documents"]}
        assert not {"big"} & listed
