"""The living index: journal replay and repair, incremental snapshots equal to full builds, only changed
documents embedded (counted around the real encoder), checkpoints, and exact citations in every snapshot."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from corpus.errors import CorpusError, InvalidDocumentIdError
from corpus.types import Document
from indexer.build import IndexSettings, build_index
from indexer.errors import DocumentNotFoundError
from indexer.journal import Journal, JournalEntry, JournalError, journal_path, read_journal
from indexer.live import LiveIndex
from indexer.load import LoadedIndex, load_index
from indexer.snapshot import all_vectors, passage_key

NEW_TEXT = (
    "Harbor seals rest on rocky shores between dives. They can hold their breath for up to thirty minutes. "
    "Pups are born in spring and can swim within hours of birth."
)


class CountingEncoder:
    """The real encoder, counting the texts it is asked to embed."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self.dimension = inner.dimension
        self.texts: list[str] = []

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        self.texts.extend(texts)
        return self.inner.encode(texts, batch_size=batch_size)


def doc(doc_id: str, text: str = NEW_TEXT, title: str = "Harbor seals", **extra: Any) -> Document:
    return Document(doc_id=doc_id, title=title, text=text, **extra)


def assert_exact_citations(index: LoadedIndex) -> None:
    assert [p.passage_id for p in index.passages] == list(range(len(index.passages)))
    for passage in index.passages:
        assert index.documents[passage.doc_id].text[passage.start : passage.end] == passage.text
    assert len(index.dense) == len(index.passages) == len(index.bm25)


def test_journal_appends_and_replays_in_order(tmp_path: Path) -> None:
    path = tmp_path / "index.journal.jsonl"
    journal = Journal(path)
    journal.append(JournalEntry(2, ({"op": "delete", "doc_id": "a"},)))
    journal.append(JournalEntry(3, ({"op": "put", "document": {"doc_id": "b"}},)))
    journal.close()
    assert [(e.version, e.ops[0]["op"]) for e in read_journal(path)] == [(2, "delete"), (3, "put")]


def test_torn_last_line_is_ignored_and_cut_off(tmp_path: Path) -> None:
    path = tmp_path / "index.journal.jsonl"
    journal = Journal(path)
    journal.append(JournalEntry(2, ({"op": "delete", "doc_id": "a"},)))
    journal.close()
    intact = path.read_bytes()
    path.write_bytes(intact + b'{"version": 3, "ops": [{"op": "put", "docu')
    assert [e.version for e in read_journal(path)] == [2]
    assert path.read_bytes() != intact  # not repaired without repair=True
    assert [e.version for e in read_journal(path, repair=True)] == [2]
    assert path.read_bytes() == intact


def test_bad_checksum_on_last_line_is_not_acknowledged(tmp_path: Path) -> None:
    path = tmp_path / "index.journal.jsonl"
    journal = Journal(path)
    journal.append(JournalEntry(2, ({"op": "delete", "doc_id": "a"},)))
    journal.append(JournalEntry(3, ({"op": "delete", "doc_id": "b"},)))
    journal.close()
    path.write_bytes(path.read_bytes().replace(b'"doc_id": "b"', b'"doc_id": "c"'))
    assert [e.version for e in read_journal(path)] == [2]


def test_bad_middle_line_refuses_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "index.journal.jsonl"
    journal = Journal(path)
    for version in (2, 3, 4):
        journal.append(JournalEntry(version, ({"op": "delete", "doc_id": f"d{version}"},)))
    journal.close()
    path.write_bytes(path.read_bytes().replace(b'"d3"', b'"x3"'))
    with pytest.raises(JournalError, match="line 2 is damaged"):
        read_journal(path)


def test_one_writer_per_journal(tmp_path: Path) -> None:
    first = Journal(tmp_path / "j.jsonl", holder="the service at http://127.0.0.1:9")
    try:
        with pytest.raises(JournalError, match=r"the service at http://127\.0\.0\.1:9 holds"):
            Journal(tmp_path / "j.jsonl", holder="the service at http://127.0.0.1:9")
    finally:
        first.close()
    Journal(tmp_path / "j.jsonl").close()


def test_incremental_snapshot_equals_full_build_and_embeds_only_changes(
    index_copy: Path, encoder: Any, tmp_path: Path
) -> None:
    counting = CountingEncoder(encoder)
    live = LiveIndex.open(index_copy, counting)
    try:
        before = live.current
        first_id, second_id = list(before.documents)[:2]
        kept_keys = {passage_key(p) for p in before.passages if p.doc_id == first_id}
        changed = before.documents[second_id]
        changed = Document(**{**changed.__dict__, "text": changed.text + " An added closing sentence."})
        result = live.put([doc("harbor-seals"), changed])
        after = live.current
        assert result.index_version == after.version == before.version + 1
        expected_passages = [p for p in after.passages if p.doc_id in ("harbor-seals", second_id)]
        assert result.embedded_documents == 2
        assert len(counting.texts) == len(expected_passages) == result.embedded_passages
        assert kept_keys <= {passage_key(p) for p in after.passages}
        assert_exact_citations(after)
        assert before.version == 1 and "harbor-seals" not in before.documents  # the old snapshot is untouched

        full_path = tmp_path / "full"
        build_index(list(after.documents.values()), encoder, full_path, IndexSettings())
        full = load_index(full_path)
        assert [(p.doc_id, p.start, p.end, p.text) for p in full.passages] == [
            (p.doc_id, p.start, p.end, p.text) for p in after.passages
        ]
        np.testing.assert_allclose(all_vectors(after.dense), all_vectors(full.dense), atol=1e-5)
        question = "how long can harbor seals hold their breath"
        assert after.bm25.search(question, 3)[1].tolist() == full.bm25.search(question, 3)[1].tolist()
    finally:
        live.close()


def test_delete_replace_and_errors(index_copy: Path, encoder: Any) -> None:
    live = LiveIndex.open(index_copy, encoder)
    try:
        live.put([doc("seals")])
        v_put = live.version
        live.put([doc("seals", text="Sea lions have external ear flaps. Seals do not.", title="Ears")])
        assert live.current.documents["seals"].title == "Ears"
        assert {p.text for p in live.current.passages if p.doc_id == "seals"} == {
            "Sea lions have external ear flaps. Seals do not."
        }
        result = live.delete(["seals"])
        assert result.index_version == v_put + 2
        assert "seals" not in live.current.documents
        assert all(p.doc_id != "seals" for p in live.current.passages)
        assert_exact_citations(live.current)
        with pytest.raises(DocumentNotFoundError):
            live.delete(["seals"])
        with pytest.raises(InvalidDocumentIdError):
            live.put([doc("../etc")])
        with pytest.raises(CorpusError, match="over the limit"):
            live.put([doc("big", text="word " * 100)], max_chars=100)
        with pytest.raises(CorpusError, match="at least one document"):
            live.delete(list(live.current.documents))
        assert live.version == v_put + 2  # refused writes make no version
    finally:
        live.close()


def test_reopen_replays_the_journal_then_checkpoints(index_copy: Path, encoder: Any) -> None:
    live = LiveIndex.open(index_copy, encoder, checkpoint_every=1000)
    live.put([doc("seals")])
    live.delete([next(iter(live.current.documents))])
    version, documents = live.version, dict(live.current.documents)
    live.journal.close()  # a crash: no checkpoint, the journal holds both writes
    assert load_index(index_copy).version == 1
    assert [e.version for e in read_journal(journal_path(index_copy))] == [2, 3]

    reopened = LiveIndex.open(index_copy, encoder)
    assert reopened.version == version and reopened.current.documents == documents
    assert_exact_citations(reopened.current)
    reopened.close()  # nothing written since the replay: no checkpoint needed yet
    reopened = LiveIndex.open(index_copy, encoder)
    reopened.put([doc("more", title="More seals")])
    reopened.close()
    assert load_index(index_copy).version == version + 1
    assert read_journal(journal_path(index_copy)) == []
    final = LiveIndex.open(index_copy, encoder, writable=False)
    assert set(final.current.documents) == set(documents) | {"more"}


def test_rebuild_keeps_documents_and_makes_a_new_version(index_copy: Path, encoder: Any) -> None:
    live = LiveIndex.open(index_copy, encoder)
    try:
        live.put([doc("seals")])
        before = live.current
        result = live.rebuild()
        assert result.index_version == before.version + 1
        assert live.current.documents == before.documents
        np.testing.assert_allclose(all_vectors(live.current.dense), all_vectors(before.dense), atol=1e-5)
        assert load_index(index_copy).version == result.index_version  # written as the checkpoint
    finally:
        live.close()


def test_bm25_from_kept_tokens_scores_like_a_fresh_build(loaded_index: LoadedIndex) -> None:
    from indexer.bm25_index import Bm25Index

    texts = [p.text for p in loaded_index.passages] + ["", "the of and"]
    fresh = Bm25Index.build(texts)
    kept = Bm25Index.build_from_tokens(Bm25Index.tokenize(texts))
    for question in ("what are milia", "baby skin bumps", "no such words zzz"):
        np.testing.assert_allclose(kept.scores(question), fresh.scores(question), rtol=1e-6)
