"""The one ingestion path: folders and files of every format -> Documents and a report, by file type, of
what was taken and what was skipped and why; ``load_corpus`` (``citeqa index``) and
``documents_from_paths`` (``citeqa add``) read the same folder the same way."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from support import write_document

from corpus import DEFAULT_CORPUS_DIR
from corpus.errors import CorpusError, UnsupportedFormatError
from corpus.ingest import document_from_upload, documents_from_paths, ingest_paths
from corpus.report import IngestReport, ReportBuilder, Skip
from corpus.sources import ingest_corpus, load_corpus
from indexer.index_folder import corpus_fingerprint
from indexer.ray_corpus import corpus_parts

HTML = "<html><head><title>Web page</title></head><body><article><p>{}</p></article></body></html>"
BODY = "Milia are tiny white keratin cysts that clear up on their own within a few weeks."


@pytest.fixture
def mixed(tmp_path: Path, make_pdf: Callable[..., bytes], make_docx: Callable[..., bytes]) -> Path:
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    (folder / "a-notes.txt").write_text(f"Notes on milia\n\n{BODY}", encoding="utf-8")
    (folder / "b-guide.md").write_text(f"# Guide\n\n{BODY}", encoding="utf-8")
    (folder / "c-page.html").write_text(HTML.format(BODY), encoding="utf-8")
    (folder / "d-paper.pdf").write_bytes(make_pdf([BODY, BODY], title="Paper"))
    (folder / "e-letter.docx").write_bytes(make_docx([("Heading 1", "Letter"), ("p", BODY)]))
    write_document(folder, "f-record", BODY, {"title": "Record", "doc_id": "record", "author": "Ann"})
    (folder / "photo.png").write_bytes(b"\x89PNG")
    (folder / "README").write_text("not a document", encoding="utf-8")
    (folder / "orphan.json").write_text("{}", encoding="utf-8")
    (folder / ".hidden.txt").write_text("hidden", encoding="utf-8")
    (folder / ".git").mkdir()
    (folder / ".git" / "config.txt").write_text("hidden folder", encoding="utf-8")
    (folder / "sub" / "batch.jsonl").write_text(
        '{"doc_id": "j1", "title": "J1", "text": "One."}\n{"doc_id": "j2", "title": "J2", "text": "Two."}\n',
        encoding="utf-8",
    )
    return folder


def test_a_folder_of_every_format_and_its_report(mixed: Path) -> None:
    ingested = ingest_paths([mixed])
    documents = ingested.documents
    assert [d.doc_id for d in documents] == [
        "a-notes",
        "b-guide",
        "c-page",
        "d-paper",
        "e-letter",
        "record",
        "j1",
        "j2",
    ]
    assert [d.title for d in documents] == [
        "Notes on milia",
        "Guide",
        "Web page",
        "Paper",
        "Letter",
        "Record",
        "J1",
        "J2",
    ]
    assert [d.metadata.get("source_format") for d in documents] == [
        "text",
        "markdown",
        "html",
        "pdf",
        "docx",
        None,
        None,
        None,  # a sidecar is the record as written
    ]
    assert len(documents[3].page_starts) == 2
    report = ingested.report
    assert report.rows() == [
        ("", 0, 1),
        (".docx", 1, 0),
        (".html", 1, 0),
        (".json", 0, 1),
        (".jsonl", 1, 0),
        (".md", 1, 0),
        (".pdf", 1, 0),
        (".png", 0, 1),
        (".txt", 2, 0),
    ]
    assert (report.documents, report.sidecars) == (8, 1)
    assert report.skips == (
        Skip(str(mixed / "README"), "no file suffix"),
        Skip(
            str(mixed / "orphan.json"), "metadata without a document: no orphan.txt, .md, .html, .pdf, .docx"
        ),
        Skip(str(mixed / "photo.png"), "unsupported file type '.png'"),
    )


def test_index_and_add_read_a_folder_the_same_way(mixed: Path) -> None:
    assert load_corpus(mixed) == documents_from_paths([mixed]) == list(ingest_paths([mixed]).documents)
    assert ingest_corpus(mixed) == ingest_paths([mixed])


def test_a_jsonl_file_is_beir_only_when_named_corpus_jsonl_or_its_lines_have_ids(tmp_path: Path) -> None:
    """A batch file (``doc_id`` lines) given alone reads as it does in a folder; a BEIR file (``_id``
    lines) reads as BEIR whatever its name."""
    batch = (
        '{"doc_id": "j1", "title": "J1", "text": "One."}\n{"doc_id": "j2", "title": "J2", "text": "Two."}\n'
    )
    (tmp_path / "batch.jsonl").write_text(batch, encoding="utf-8")
    assert [d.doc_id for d in load_corpus(tmp_path / "batch.jsonl")] == ["j1", "j2"]
    assert ingest_corpus(tmp_path / "batch.jsonl") == ingest_paths([tmp_path / "batch.jsonl"])
    beir = tmp_path / "beir"
    beir.mkdir()
    (beir / "scifact.jsonl").write_text('\n{"_id": "b1", "title": "B1", "text": "Three."}\n', "utf-8-sig")
    (beir / "corpus.jsonl").write_text(batch, encoding="utf-8")
    [document] = load_corpus(beir / "scifact.jsonl")
    assert (document.doc_id, document.text) == ("b1", "Three.")
    with pytest.raises(CorpusError, match=r"corpus\.jsonl, line 1, field '_id': missing"):
        load_corpus(beir / "corpus.jsonl")


def test_a_folder_holding_corpus_jsonl_reports_its_other_files_as_skipped(tmp_path: Path) -> None:
    """Such a folder is read as its BEIR corpus.jsonl alone; every other file is reported, not dropped
    silently (queries, qrels, documents of other types), for ``citeqa index`` and its Ray scan alike."""
    (tmp_path / "qrels").mkdir()
    (tmp_path / "corpus.jsonl").write_text('{"_id": "b1", "title": "B1", "text": "Three."}\n', "utf-8")
    (tmp_path / "queries.jsonl").write_text('{"_id": "q1", "text": "three?"}\n', "utf-8")
    (tmp_path / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\tb1\t1\n", "utf-8")
    (tmp_path / "notes.md").write_text(f"# Notes\n\n{BODY}", encoding="utf-8")
    (tmp_path / ".hidden.txt").write_text("hidden", encoding="utf-8")
    ingested = ingest_corpus(tmp_path)
    assert [d.doc_id for d in ingested.documents] == ["b1"]
    reason = "a folder holding a BEIR corpus.jsonl is read as that file alone"
    skipped = ["notes.md", "qrels/test.tsv", "queries.jsonl"]
    assert [Path(s.path).relative_to(tmp_path).as_posix() for s in ingested.report.skips] == skipped
    assert all(s.reason.startswith(reason) for s in ingested.report.skips)
    assert ingested.report.rows() == [(".jsonl", 1, 1), (".md", 0, 1), (".tsv", 0, 1)]
    on_ray = ReportBuilder()
    corpus_parts(tmp_path, on_ray)
    assert on_ray.skips == list(ingested.report.skips)


def test_a_folder_of_markdown_is_a_corpus(tmp_path: Path) -> None:
    (tmp_path / "one.md").write_text(f"# One\n\n{BODY}", encoding="utf-8")
    (tmp_path / "two.md").write_text(f"# Two\n\n{BODY}", encoding="utf-8")
    assert [(d.doc_id, d.title) for d in load_corpus(tmp_path)] == [("one", "One"), ("two", "Two")]


def test_the_default_corpus_is_read_as_it_always_was() -> None:
    documents = load_corpus(DEFAULT_CORPUS_DIR)
    assert all(d.page_starts == () and "source_format" not in d.metadata for d in documents)
    # The fingerprint that index folders built from the default corpus before this path existed hold.
    assert corpus_fingerprint(documents) == "af29ffdaa00f49a80027761a007ba4a210110b642c8017a5b2be3dc31ee94898"
    assert ingest_corpus(DEFAULT_CORPUS_DIR).report == IngestReport(
        taken={".txt": 2}, skipped={}, skips=(), sidecars=2, documents=2
    )


def test_a_file_that_cannot_be_read_raises_or_is_skipped(
    tmp_path: Path, make_pdf: Callable[..., bytes]
) -> None:
    (tmp_path / "good.txt").write_text(BODY, encoding="utf-8")
    (tmp_path / "scan.pdf").write_bytes(make_pdf([""]))
    with pytest.raises(CorpusError, match=r"scan\.pdf: no text layer"):
        ingest_paths([tmp_path])
    ingested = ingest_paths([tmp_path], errors="skip")
    assert [d.doc_id for d in ingested.documents] == ["good"]
    [skip] = ingested.report.skips
    assert skip.path == str(tmp_path / "scan.pdf") and "no text layer" in skip.reason
    assert ingested.report.rows() == [(".pdf", 0, 1), (".txt", 1, 0)]
    assert ingest_corpus(tmp_path, errors="skip") == ingested


def test_nothing_to_read_is_an_error(tmp_path: Path, make_pdf: Callable[..., bytes]) -> None:
    (tmp_path / "photo.png").write_bytes(b"\x89PNG")
    with pytest.raises(CorpusError, match=r"no \.txt, \.md, \.html, \.pdf, \.docx or \.jsonl documents"):
        ingest_paths([tmp_path])
    (tmp_path / "scan.pdf").write_bytes(make_pdf([""]))
    with pytest.raises(
        CorpusError,
        match=r"no documents could be read .*: 2 file\(s\) skipped; the first that failed: .*scan\.pdf",
    ):
        ingest_paths([tmp_path], errors="skip")


def test_an_unsupported_type_is_its_own_error(tmp_path: Path) -> None:
    (tmp_path / "photo.png").write_bytes(b"\x89PNG")
    with pytest.raises(UnsupportedFormatError, match=r"photo\.png: unsupported file type '\.png'; use \.txt"):
        ingest_paths([tmp_path / "photo.png"])
    with pytest.raises(UnsupportedFormatError, match=r"'image/png' is not supported; upload a \.txt.*\.docx"):
        document_from_upload(b"\x89PNG", filename="photo.png", media_type="image/png")
    with pytest.raises(UnsupportedFormatError, match=r"old\.doc: field 'filename' has suffix '\.doc'"):
        document_from_upload(b"\xd0\xcf\x11\xe0", filename="old.doc")


def test_a_sidecar_fills_the_record_and_the_file_fills_what_it_leaves_out(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text(HTML.format(BODY), encoding="utf-8")
    (tmp_path / "page.json").write_text(json.dumps({"author": "Ann", "topic": "milia"}), "utf-8")
    [document] = load_corpus(tmp_path)
    assert (document.doc_id, document.title, document.author) == ("page", "Web page", "Ann")
    assert document.metadata == {"topic": "milia"}
