"""Text that is not valid Unicode (JSON's escaped unpaired surrogates, a command line's undecodable bytes)
is refused with a message naming where it is, in every reader and for questions: no encoder can take it
(before this, a tokenizer TypeError: HTTP 500 and a traceback from `citeqa index`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from citeqa.errors import InvalidQueryError
from citeqa.search import validate_question
from corpus.beir import documents_in_range, load_beir_corpus
from corpus.errors import CorpusError
from corpus.jsonl import documents_from_jsonl
from corpus.unicode_check import field_with_lone_surrogate

GOOD = '{"_id": "a", "title": "Seals", "text": "Seals eat fish."}\n'
BAD = '{"_id": "b", "title": "Okapi", "text": "okapi \\ud800 text"}\n'


def test_a_beir_line_with_a_lone_surrogate_names_its_line_and_field(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(GOOD + BAD, encoding="utf-8")
    with pytest.raises(CorpusError) as raised:
        load_beir_corpus(corpus)
    message = str(raised.value)
    assert "line 2" in message and "'text'" in message and "surrogate" in message, message
    with pytest.raises(CorpusError, match="surrogate"):
        list(documents_in_range(corpus, 0, corpus.stat().st_size))


def test_a_jsonl_batch_with_a_lone_surrogate_is_refused() -> None:
    line = '{"doc_id": "d", "title": "t", "text": "fine", "metadata": {"k": "x \\udc80"}}'
    with pytest.raises(CorpusError) as raised:
        documents_from_jsonl(line)
    assert "line 1" in str(raised.value) and "metadata.k" in str(raised.value)


def test_valid_text_with_paired_surrogates_escaped_is_taken() -> None:
    # "\ud83d\udc27" is the JSON escape of one emoji (a valid pair), not a lone surrogate.
    line = '{"doc_id": "p", "title": "Penguins", "text": "\\ud83d\\udc27 penguins swim."}'
    (document,) = documents_from_jsonl(line)
    assert document.text.startswith("\U0001f427")


@pytest.mark.parametrize("question", ["milia \ud800", "\udcff what"])
def test_a_question_with_a_lone_surrogate_is_an_invalid_query(question: str) -> None:
    with pytest.raises(InvalidQueryError, match="surrogate"):
        validate_question(question)


def test_the_field_is_found_in_nested_values() -> None:
    assert field_with_lone_surrogate({"a": "ok", "b": {"c": ["x", "\ud800"]}}) == "b.c[1]"
    assert field_with_lone_surrogate({"a": "ok \U0001f427"}) is None
