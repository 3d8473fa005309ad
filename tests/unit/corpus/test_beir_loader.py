"""BEIR dataset loading: a valid dataset, every malformed input, and the real medquad-dev folder."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from corpus.errors import CorpusError
from corpus.types import Document
from eval.beir import Query, load_beir_corpus, load_beir_dataset, load_qrels, load_queries

MEDQUAD_DEV = Path(__file__).resolve().parents[4] / "shared" / "benchmarks" / "medquad-dev"
HEADER = "query-id\tcorpus-id\tscore"
GOOD_DOC = '{"_id": "d1", "title": "T", "text": "ok"}'
GOOD_QUERY = '{"_id": "q1", "text": "why?"}'

Line = str | bytes


def write_lines(path: Path, lines: list[Line]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    encoded = [line if isinstance(line, bytes) else line.encode("utf-8") for line in lines]
    path.write_bytes(b"".join(line + b"\n" for line in encoded))
    return path


def jsonl(*records: dict[str, object]) -> list[Line]:
    return [json.dumps(record) for record in records]


def make_dataset(root: Path) -> Path:
    write_lines(
        root / "corpus.jsonl",
        [
            json.dumps(
                {
                    "_id": "d1",
                    "title": " Asthma ",
                    "text": "Asthma is a chronic disease of the airways.",
                    "metadata": {
                        "url": "https://example.org/asthma",
                        "author": "NHLBI",
                        "source": "GARD",
                        "year": 2019,
                        "tags": ["lung", "chronic"],
                    },
                }
            ),
            "",
            json.dumps({"_id": "d2", "title": "", "text": "Untitled answer.", "metadata": {"url": ""}}),
            json.dumps({"_id": "d3", "title": "Unjudged", "text": "Third."}),
        ],
    )
    write_lines(
        root / "queries.jsonl",
        jsonl(
            {"_id": "q1", "text": "What is asthma?", "metadata": {"qtype": "information", "rank": 3}},
            {"_id": "q2", "text": "A question nobody judged"},
            {"_id": "q3", "text": "A question with only a non-relevant judgment"},
        ),
    )
    write_lines(root / "qrels" / "test.tsv", [HEADER, "q1\td1\t2", "q1\td2\t0", "q3\td3\t0"])
    return root


def assert_error(
    error: pytest.ExceptionInfo[CorpusError], file: Path, line: int | None, field: str | None
) -> str:
    """The message names the file, the line and the field; returns it for further checks."""
    message = str(error.value)
    assert str(file) in message
    if line is not None:
        assert re.search(rf"\bline {line}\b", message), message
    if field is not None:
        assert f"field '{field}'" in message, message
    return message


# Valid input.


def test_load_corpus_fields(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "tiny")
    corpus_file = root / "corpus.jsonl"
    documents = load_beir_corpus(root)
    assert [document.doc_id for document in documents] == ["d1", "d2", "d3"]
    assert documents[0] == Document(
        doc_id="d1",
        title="Asthma",
        text="Asthma is a chronic disease of the airways.",
        author="NHLBI",
        publisher=None,
        url="https://example.org/asthma",
        provenance=f"BEIR corpus {corpus_file}",
        metadata={"source": "GARD", "year": "2019", "tags": '["lung", "chronic"]'},
    )
    # an empty title falls back to the id; an empty url is None; no metadata gives {}
    assert (documents[1].title, documents[1].url, documents[1].metadata) == ("d2", None, {})
    assert (documents[2].title, documents[2].url, documents[2].metadata) == ("Unjudged", None, {})


def test_load_corpus_from_bare_file(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "tiny")
    assert load_beir_corpus(root / "corpus.jsonl") == load_beir_corpus(root)
    assert load_beir_corpus(str(root / "corpus.jsonl")) == load_beir_corpus(root)


def test_load_corpus_accepts_bom_crlf_and_integer_ids(tmp_path: Path) -> None:
    file = tmp_path / "corpus.jsonl"
    file.write_bytes(
        b'\xef\xbb\xbf{"_id": 7, "title": "T", "text": "seven"}\r\n{"_id": "8", "text": "eight"}\r\n'
    )
    assert [(d.doc_id, d.text) for d in load_beir_corpus(file)] == [("7", "seven"), ("8", "eight")]


def test_load_corpus_title_only_line_is_its_title(tmp_path: Path) -> None:
    """BEIR reads a document as title and text: an empty text with a title is the title (one such line
    failed the whole build); with neither it stays an error (CORPUS_ERRORS["empty_text"])."""
    file = write_lines(
        tmp_path / "corpus.jsonl",
        jsonl(
            {"_id": "d1", "title": " Asthma action plan ", "text": ""},
            {"_id": "d2", "title": "Spacers", "text": " \n "},
            {"_id": "d3", "title": "Inhalers", "text": "A blue inhaler opens the airways."},
        ),
    )
    documents = load_beir_corpus(file)
    assert [(d.title, d.text) for d in documents] == [
        ("Asthma action plan", "Asthma action plan"),
        ("Spacers", "Spacers"),
        ("Inhalers", "A blue inhaler opens the airways."),
    ]
    write_lines(file, jsonl({"_id": "d4", "title": "", "text": ""}))
    with pytest.raises(CorpusError) as error:
        load_beir_corpus(file)
    assert "empty" in assert_error(error, file, 1, "text")


def test_load_queries(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "tiny")
    queries = load_queries(root)
    assert list(queries) == ["q1", "q2", "q3"]
    assert queries["q1"] == Query(
        qid="q1", text="What is asthma?", metadata={"qtype": "information", "rank": "3"}
    )
    assert queries["q2"].metadata == {}
    assert load_queries(root / "queries.jsonl") == queries


def test_load_qrels_graded(tmp_path: Path) -> None:
    file = write_lines(tmp_path / "test.tsv", [HEADER, "q1\td1\t2", "", "q1\td2\t0\r", "q2\td1\t1"])
    assert load_qrels(file) == {"q1": {"d1": 2, "d2": 0}, "q2": {"d1": 1}}


def test_load_dataset_keeps_judged_queries(tmp_path: Path) -> None:
    dataset = load_beir_dataset(make_dataset(tmp_path / "tiny"))
    assert dataset.name == "tiny"
    assert [document.doc_id for document in dataset.corpus] == ["d1", "d2", "d3"]
    assert list(dataset.queries) == ["q1", "q3"]
    assert dataset.qrels == {"q1": {"d1": 2, "d2": 0}, "q3": {"d3": 0}}


# Corpus and queries errors.

CORPUS_ERRORS = {
    "invalid_json": ([GOOD_DOC, "", '{"_id": "d2", "text": }'], 3, None, "invalid JSON"),
    "non_object": ([GOOD_DOC, '["d2", "text"]'], 2, None, "expected a JSON object, found an array"),
    "missing_id": ([GOOD_DOC, '{"text": "t"}'], 2, "_id", "missing"),
    "empty_id": ([GOOD_DOC, '{"_id": "  ", "text": "t"}'], 2, "_id", "empty"),
    "non_string_id": ([GOOD_DOC, '{"_id": ["d2"], "text": "t"}'], 2, "_id", "must be a string"),
    "duplicate_id": ([GOOD_DOC, '{"_id": "d2", "text": "t"}', GOOD_DOC], 3, "_id", "first used on line 1"),
    "missing_text": ([GOOD_DOC, '{"_id": "d2", "title": "T"}'], 2, "text", "missing"),
    "non_string_text": (
        [GOOD_DOC, '{"_id": "d2", "text": 5}'],
        2,
        "text",
        "must be a string, found a number",
    ),
    "empty_text": ([GOOD_DOC, '{"_id": "d2", "text": " \\n "}'], 2, "text", "empty"),
    "non_string_title": (
        [GOOD_DOC, '{"_id": "d2", "title": 3, "text": "t"}'],
        2,
        "title",
        "must be a string",
    ),
    "non_object_metadata": (
        [GOOD_DOC, '{"_id": "d2", "text": "t", "metadata": "x"}'],
        2,
        "metadata",
        "object",
    ),
    "non_string_url": (
        [GOOD_DOC, '{"_id": "d2", "text": "t", "metadata": {"url": 5}}'],
        2,
        "metadata.url",
        "must be a string or null",
    ),
    "bad_utf8": ([GOOD_DOC, b'{"_id": "d2", "text": "caf\xe9"}'], 2, "text", "invalid UTF-8"),
    "bad_utf8_in_metadata": (
        [GOOD_DOC, b'{"_id": "d2", "text": "t", "metadata": {"author": "\xff"}}'],
        2,
        "metadata.author",
        "invalid UTF-8",
    ),
}


@pytest.mark.parametrize(
    ("lines", "line", "field", "fragment"), CORPUS_ERRORS.values(), ids=CORPUS_ERRORS.keys()
)
def test_corpus_error(tmp_path: Path, lines: list[Line], line: int, field: str | None, fragment: str) -> None:
    file = write_lines(tmp_path / "corpus.jsonl", lines)
    with pytest.raises(CorpusError) as error:
        load_beir_corpus(file)
    assert fragment in assert_error(error, file, line, field)


def test_corpus_missing_file_names_expected_path(tmp_path: Path) -> None:
    with pytest.raises(CorpusError) as error:
        load_beir_corpus(tmp_path)
    assert "file not found" in assert_error(error, tmp_path / "corpus.jsonl", None, None)
    with pytest.raises(CorpusError) as error:
        load_beir_corpus(tmp_path / "absent.jsonl")
    assert_error(error, tmp_path / "absent.jsonl", None, None)


def test_corpus_without_documents(tmp_path: Path) -> None:
    file = write_lines(tmp_path / "corpus.jsonl", ["", "   "])
    with pytest.raises(CorpusError) as error:
        load_beir_corpus(file)
    assert "no documents" in assert_error(error, file, None, None)


QUERY_ERRORS = {
    "invalid_json": ([GOOD_QUERY, "{'_id': 'q2'}"], 2, None, "invalid JSON"),
    "non_object": ([GOOD_QUERY, '"q2"'], 2, None, "expected a JSON object, found a string"),
    "missing_id": ([GOOD_QUERY, '{"text": "why?"}'], 2, "_id", "missing"),
    "duplicate_id": ([GOOD_QUERY, GOOD_QUERY], 2, "_id", "first used on line 1"),
    "missing_text": ([GOOD_QUERY, '{"_id": "q2"}'], 2, "text", "missing"),
    "null_text": ([GOOD_QUERY, '{"_id": "q2", "text": null}'], 2, "text", "missing"),
    "non_object_metadata": (
        [GOOD_QUERY, '{"_id": "q2", "text": "t", "metadata": [1]}'],
        2,
        "metadata",
        "object",
    ),
    "bad_utf8": ([GOOD_QUERY, b'{"_id": "q2", "text": "\xc3("}'], 2, "text", "invalid UTF-8"),
}


@pytest.mark.parametrize(
    ("lines", "line", "field", "fragment"), QUERY_ERRORS.values(), ids=QUERY_ERRORS.keys()
)
def test_queries_error(
    tmp_path: Path, lines: list[Line], line: int, field: str | None, fragment: str
) -> None:
    file = write_lines(tmp_path / "queries.jsonl", lines)
    with pytest.raises(CorpusError) as error:
        load_queries(file)
    assert fragment in assert_error(error, file, line, field)


def test_queries_missing_file_names_expected_path(tmp_path: Path) -> None:
    with pytest.raises(CorpusError) as error:
        load_queries(tmp_path)
    assert_error(error, tmp_path / "queries.jsonl", None, None)


# Qrels errors.

QRELS_ERRORS = {
    "wrong_header": (
        ["qid\tdocid\tscore", "q1\td1\t1"],
        1,
        "header",
        "expected 'query-id\\tcorpus-id\\tscore'",
    ),
    "space_separated_header": (["query-id corpus-id score", "q1\td1\t1"], 1, "header", "expected"),
    "missing_header": (["q1\td1\t1"], 1, "header", "expected"),
    "empty_file": ([], None, "header", "empty"),
    "too_few_columns": ([HEADER, "q1\td1\t1", "q1\td2"], 3, "columns", "found 2"),
    "too_many_columns": ([HEADER, "q1\td1\t1\textra"], 2, "columns", "found 4"),
    "spaces_not_tabs": ([HEADER, "q1 d1 1"], 2, "columns", "tabs, not spaces"),
    "float_score": ([HEADER, "q1\td1\t1.5"], 2, "score", "must be an integer, found '1.5'"),
    "word_score": ([HEADER, "q1\td1\thigh"], 2, "score", "must be an integer"),
    "empty_query_id": ([HEADER, "\td1\t1"], 2, "query-id", "empty"),
    "empty_corpus_id": ([HEADER, "q1\t \t1"], 2, "corpus-id", "empty"),
    "unknown_document": ([HEADER, "q1\td1\t1", "q1\td9\t1"], 3, "corpus-id", "'d9' is not in the corpus"),
    "unknown_query": ([HEADER, "q9\td1\t1"], 2, "query-id", "'q9' is not in the queries"),
    "duplicate_pair": ([HEADER, "q1\td1\t1", "q1\td1\t2"], 3, "corpus-id", "first on line 2"),
    "bad_utf8": ([HEADER, b"q1\td\xff\t1"], 2, "corpus-id", "invalid UTF-8"),
    "no_rows": ([HEADER, ""], None, None, "no judgments"),
    "no_relevant_row": ([HEADER, "q1\td1\t0", "q2\td2\t0"], None, "score", "no judgment is relevant"),
}


@pytest.mark.parametrize(
    ("lines", "line", "field", "fragment"), QRELS_ERRORS.values(), ids=QRELS_ERRORS.keys()
)
def test_qrels_error(
    tmp_path: Path, lines: list[Line], line: int | None, field: str | None, fragment: str
) -> None:
    file = write_lines(tmp_path / "qrels" / "test.tsv", lines)
    with pytest.raises(CorpusError) as error:
        load_qrels(file, corpus_ids={"d1", "d2"}, query_ids={"q1", "q2"})
    assert fragment in assert_error(error, file, line, field)


def test_qrels_folder_or_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CorpusError) as error:
        load_qrels(tmp_path)
    assert "is a folder" in assert_error(error, tmp_path, None, None)
    with pytest.raises(CorpusError) as error:
        load_qrels(tmp_path / "test.tsv")
    assert "file not found" in assert_error(error, tmp_path / "test.tsv", None, None)


# Dataset errors.


def test_dataset_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(CorpusError) as error:
        load_beir_dataset(tmp_path / "absent")
    assert "qrels/test.tsv" in assert_error(error, tmp_path / "absent", None, None)


def test_dataset_missing_split_names_expected_qrels(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "tiny")
    with pytest.raises(CorpusError) as error:
        load_beir_dataset(root, split="dev")
    assert_error(error, root / "qrels" / "dev.tsv", None, None)


def test_dataset_with_other_splits_only_names_them(tmp_path: Path) -> None:
    """A BEIR folder holding only qrels/dev.tsv said "qrels/test.tsv: file not found; expected a
    tab-separated qrels file here", not that its judgments are there under another split's name."""
    root = make_dataset(tmp_path / "tiny")
    (root / "qrels" / "test.tsv").rename(root / "qrels" / "dev.tsv")
    with pytest.raises(CorpusError) as error:
        load_beir_dataset(root)
    message = assert_error(error, root / "qrels" / "test.tsv", None, None)
    assert "file not found; the folder's qrels are dev.tsv: the test split is scored" in message
    assert "name the split to score qrels/test.tsv" in message


def test_dataset_cross_checks_qrels(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "tiny")
    qrels_file = write_lines(root / "qrels" / "test.tsv", [HEADER, "q1\td1\t1", "q2\tmissing-doc\t1"])
    with pytest.raises(CorpusError) as error:
        load_beir_dataset(root)
    assert "'missing-doc'" in assert_error(error, qrels_file, 3, "corpus-id")
    write_lines(qrels_file, [HEADER, "q1\td1\t1", "q7\td1\t1"])
    with pytest.raises(CorpusError) as error:
        load_beir_dataset(root)
    assert "'q7'" in assert_error(error, qrels_file, 3, "query-id")


# Real benchmark.


def test_load_medquad_dev() -> None:
    if not MEDQUAD_DEV.is_dir():
        pytest.skip(f"{MEDQUAD_DEV} is not available")
    dataset = load_beir_dataset(MEDQUAD_DEV)
    assert dataset.name == "medquad-dev"
    assert len(dataset.corpus) == 3000
    assert len({document.doc_id for document in dataset.corpus}) == 3000
    assert len(dataset.queries) == 477
    assert set(dataset.qrels) == set(dataset.queries)
    assert sum(len(judged) for judged in dataset.qrels.values()) == 518
    assert all(score > 0 for judged in dataset.qrels.values() for score in judged.values())
    first = dataset.corpus[0]
    assert first.doc_id == "CDC_0000001_Sec1"
    assert first.title == "Acanthamoeba - Granulomatous Amebic Encephalitis (GAE); Keratitis"
    assert first.url == "http://www.cdc.gov/parasites/acanthamoeba/"
    assert first.provenance == f"BEIR corpus {MEDQUAD_DEV / 'corpus.jsonl'}"
    assert dataset.queries["CDC_0000001_Q1"].metadata == {"subset": "CDC", "qtype": "information"}
