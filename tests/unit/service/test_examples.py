"""GET /examples: the search page's questions, placeholder and corpus name come from the settings, an
examples.json beside the index, or the bundled corpus; none for any other corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from corpus import DEFAULT_CORPUS_DIR
from service.examples import DEFAULT_CORPUS_EXAMPLES, NEUTRAL_PLACEHOLDER, page_examples
from service.settings import Settings

DEFAULT_MANIFEST = {"corpus": {"source": str(DEFAULT_CORPUS_DIR)}}
OTHER_MANIFEST = {"corpus": {"source": "/data/bread-notes"}}


def test_the_default_corpus_keeps_its_examples(client: TestClient) -> None:
    body = client.get("/examples").json()
    assert body == {
        "corpus": None,
        "placeholder": "e.g. what are milia?",
        "questions": list(DEFAULT_CORPUS_EXAMPLES),
    }


def test_the_default_corpus_keeps_its_examples_in_a_moved_checkout(tmp_path: Path) -> None:
    # Was: the manifest's absolute corpus folder was compared with the code's own, so a clone or install
    # at another path (an index copied with it, or built before a move) showed no examples.
    from corpus.sources import load_corpus
    from indexer.index_folder import corpus_fingerprint

    fingerprint = corpus_fingerprint(load_corpus(DEFAULT_CORPUS_DIR))
    moved = {"corpus": {"source": "/elsewhere/citeqa/corpus/documents", "fingerprint": fingerprint}}
    assert page_examples(None, None, tmp_path / "index", moved).questions == list(DEFAULT_CORPUS_EXAMPLES)
    edited = {"corpus": {"source": "/elsewhere/citeqa/corpus/documents", "fingerprint": "0" * 64}}
    assert page_examples(None, None, tmp_path / "index", edited).questions == []


def test_another_corpus_has_none(tmp_path: Path) -> None:
    found = page_examples(None, None, tmp_path / "index", OTHER_MANIFEST)
    assert found.questions == [] and found.placeholder == NEUTRAL_PLACEHOLDER and found.corpus is None


def test_examples_json_beside_the_index(tmp_path: Path) -> None:
    record = {"corpus": "Bread notes", "questions": ["How long does rye bake?", "  ", 7, "Why steam?"]}
    (tmp_path / "examples.json").write_text(json.dumps(record), encoding="utf-8")
    found = page_examples(None, None, tmp_path / "index", DEFAULT_MANIFEST)
    assert found.questions == ["How long does rye bake?", "Why steam?"]
    assert found.placeholder == "e.g. How long does rye bake?" and found.corpus == "Bread notes"
    (tmp_path / "examples.json").write_text('["Only a list?"]', encoding="utf-8")
    assert page_examples(None, "Named", tmp_path / "index", OTHER_MANIFEST).model_dump() == {
        "corpus": "Named",
        "placeholder": "e.g. Only a list?",
        "questions": ["Only a list?"],
    }


@pytest.mark.parametrize("content", ["{not json", '"a string"', "\xff"])
def test_an_unreadable_examples_json_is_ignored(tmp_path: Path, content: str) -> None:
    (tmp_path / "examples.json").write_text(content, encoding="latin-1")
    assert page_examples(None, None, tmp_path / "index", OTHER_MANIFEST).questions == []


def test_a_wrongly_typed_field_is_ignored_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    record = {
        "corpus": 5,
        "questions": "How do I true a wheel?",
        "placeholder": "e.g. wheels",
        "qestions": [],
    }
    (tmp_path / "examples.json").write_text(json.dumps(record), encoding="utf-8")
    with caplog.at_level("WARNING", logger="citeqa.service"):
        found = page_examples(None, None, tmp_path / "index", OTHER_MANIFEST)
    assert (found.corpus, found.questions, found.placeholder) == (None, [], "e.g. wheels")
    logged = caplog.text
    assert "ignoring 'questions': expected a list of strings" in logged
    assert "ignoring 'corpus': expected a string" in logged and "unknown field(s) 'qestions'" in logged
    caplog.clear()
    (tmp_path / "examples.json").write_text(json.dumps({"questions": ["Why steam?", 7]}), encoding="utf-8")
    with caplog.at_level("WARNING", logger="citeqa.service"):
        assert page_examples(None, None, tmp_path / "index", OTHER_MANIFEST).questions == ["Why steam?"]
    assert "ignoring 1 item(s) of 'questions' that are not strings" in caplog.text


def test_the_settings_win(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "examples.json").write_text('["From the file"]', encoding="utf-8")
    monkeypatch.setenv("CITEQA_EXAMPLE_QUESTIONS", "How long does rye bake? | Why steam the oven?")
    monkeypatch.setenv("CITEQA_CORPUS_NAME", "Bread notes")
    settings = Settings(index_path=tmp_path / "index")
    assert settings.example_questions == ["How long does rye bake?", "Why steam the oven?"]
    found = page_examples(settings.example_questions, settings.corpus_name, settings.index_path, {})
    assert found.questions == ["How long does rye bake?", "Why steam the oven?"]
    assert found.corpus == "Bread notes"
    monkeypatch.setenv("CITEQA_EXAMPLE_QUESTIONS", '["a | b", "c"]')
    assert Settings().example_questions == ["a | b", "c"]
    monkeypatch.setenv("CITEQA_EXAMPLE_QUESTIONS", "")
    none = Settings(index_path=tmp_path / "index")
    assert page_examples(none.example_questions, None, none.index_path, DEFAULT_MANIFEST).questions == []
