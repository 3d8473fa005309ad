"""The living segmented index: a write is a segment and a commit, only changed documents are embedded
(counted around the real encoder), deletes mark rows, an empty index is valid, other instances (other
workers) follow the commits, concurrent writers serialize, and every passage cites exactly."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from support import CountingEncoder, assert_exact_sentences, distinct_sentence_texts

from citeqa.search import Searcher
from corpus.errors import CorpusError, InvalidDocumentIdError
from corpus.types import Document
from indexer.errors import DocumentNotFoundError, VersionNotReachedError
from indexer.live import LiveIndex
from indexer.load import LoadedIndex, load_index
from indexer.merging import TieredMergePolicy

NEW_TEXT = (
    "Harbor seals rest on rocky shores between dives. They can hold their breath for up to thirty minutes. "
    "Pups are born in spring and can swim within hours of birth."
)
NO_MERGES = TieredMergePolicy(segments_per_tier=1000, max_deleted_share=1.0)


def doc(doc_id: str, text: str = NEW_TEXT, title: str = "Harbor seals", **extra: Any) -> Document:
    return Document(doc_id=doc_id, title=title, text=text, **extra)


def assert_exact_citations(index: LoadedIndex) -> None:
    """Every passage of the index is exactly its document's text[start:end], ids 0..n-1 in order; so is
    every sentence each segment stores (with its vector)."""
    assert [p.passage_id for p in index.passages] == list(range(len(index.passages)))
    for passage in index.passages:
        assert index.documents[passage.doc_id].text[passage.start : passage.end] == passage.text
    assert_exact_sentences(index)
    assert len(index.dense) == len(index.passages) == len(index.bm25)
    assert len(index.documents) == len(set(index.documents)) == index.manifest["counts"]["documents"]


def segment_names(index: LoadedIndex) -> list[str]:
    return [entry["name"] for entry in index.manifest["segments"]]


def test_a_write_is_one_new_segment_and_embeds_only_changed_documents(index_copy: Path, encoder: Any) -> None:
    counting = CountingEncoder(encoder)
    live = LiveIndex.open(index_copy, counting, policy=NO_MERGES)
    try:
        before = live.current
        first_id, second_id = list(before.documents)[:2]
        changed = before.documents[second_id]
        changed = Document(**{**changed.__dict__, "text": changed.text + " An added closing sentence."})
        result = live.put([doc("harbor-seals"), changed, before.documents[first_id]])
        after = live.current
        assert result.index_version == after.version == before.version + 1
        assert result.embedded_documents == 2  # the unchanged first document is not embedded again
        new_passages = [p for p in after.passages if p.doc_id in ("harbor-seals", second_id)]
        sentences = distinct_sentence_texts(new_passages, after.documents)
        # Passages and their sentences are embedded together (in batches of 64 texts), each text once.
        assert len(counting.texts) == len(set(counting.texts)) == len(new_passages) + len(sentences)
        assert max(counting.calls) == 64
        assert len(new_passages) == result.embedded_passages
        assert set(sentences) <= set(counting.texts)
        assert len(segment_names(after)) == len(segment_names(before)) + 1
        assert after.manifest["segments"][0]["deleted_documents"] == 1  # the old version of second_id
        assert_exact_citations(after)
        assert before.version == 1 and "harbor-seals" not in before.documents  # the old commit is untouched
        counting.texts.clear()
        unchanged = live.put([doc("harbor-seals")])
        assert unchanged.embedded_passages == 0 and counting.texts == []
        assert len(segment_names(live.current)) == len(segment_names(after))
        # Nothing changed, nothing committed: the version that holds the document is the current one.
        assert unchanged.index_version == after.version and live.current.manifest == after.manifest
        # A one-document write embeds its passage and its sentences in one encode call.
        counting.calls.clear()
        live.put([doc("walruses", "Walruses haul out onto the ice. Their whiskers find clams.", "Walruses")])
        assert counting.calls == [1 + 2]
        assert_exact_citations(live.current)
    finally:
        live.close()


def test_delete_replace_and_errors(index_copy: Path, encoder: Any) -> None:
    live = LiveIndex.open(index_copy, encoder, policy=NO_MERGES)
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
        assert live.version == v_put + 2  # refused writes make no version
        assert load_index(index_copy).version == v_put + 2  # every write is a commit on disk
    finally:
        live.close()


def test_deleting_every_document_leaves_a_valid_empty_index(index_copy: Path, encoder: Any) -> None:
    live = LiveIndex.open(index_copy, encoder)
    try:
        live.delete(list(live.current.documents))
        empty = live.current
        assert len(empty.documents) == len(empty.passages) == 0 and empty.manifest["segments"] == []
        searcher = Searcher(empty, encoder)
        for mode in ("hybrid", "dense", "bm25"):
            assert searcher.search("what are milia", 5, mode) == []
        assert load_index(index_copy).manifest["counts"] == {"documents": 0, "passages": 0}
        live.put([doc("seals")])
        assert [h.passage.doc_id for h in Searcher(live.current, encoder).search("seal breath", 3)] == [
            "seals"
        ]
    finally:
        live.close()


def test_another_instance_follows_the_commits_and_reads_its_writes(index_copy: Path, encoder: Any) -> None:
    """Two LiveIndex over one folder stand for two worker processes (each its own cache and merger)."""
    first = LiveIndex.open(index_copy, encoder, policy=NO_MERGES)
    second = LiveIndex.open(index_copy, encoder, policy=NO_MERGES)
    try:
        written = first.put([doc("seals")])
        assert "seals" in second.at_least(written.index_version).documents
        assert second.current.version == written.index_version
        removed = second.delete(["seals"])
        assert "seals" not in first.at_least(removed.index_version).documents
        with pytest.raises(VersionNotReachedError, match="does not exist yet"):
            first.at_least(removed.index_version + 5)
    finally:
        first.close()
        second.close()


def test_concurrent_writers_on_two_instances_serialize_and_lose_nothing(
    index_copy: Path, encoder: Any
) -> None:
    instances = [LiveIndex.open(index_copy, encoder) for _ in range(2)]
    versions: list[int] = []
    errors: list[BaseException] = []

    def write(live: LiveIndex, prefix: str) -> None:
        try:
            for n in range(4):
                text = f"{prefix} note {n}: the {prefix} colony rests on rock number {n} at low tide."
                versions.append(
                    live.put([doc(f"{prefix}-{n}", text=text, title=f"{prefix} {n}")]).index_version
                )
        except BaseException as err:  # reported below
            errors.append(err)

    threads = [
        threading.Thread(target=write, args=(live, name))
        for live, name in zip(instances, ("a", "b"), strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        assert sorted(versions) == list(range(2, 10))  # one version per write, none lost or doubled
        for live in instances:
            assert live.wait_for_merges(120)
        final = load_index(index_copy)
        assert {f"{p}-{n}" for p in "ab" for n in range(4)} <= set(final.documents)
        assert final.version == 9
        assert_exact_citations(final)
    finally:
        for live in instances:
            live.close()


def test_rebuild_keeps_documents_and_writes_one_segment(index_copy: Path, encoder: Any) -> None:
    live = LiveIndex.open(index_copy, encoder, policy=NO_MERGES)
    try:
        live.put([doc("seals")])
        live.put([doc("more", title="More seals")])
        before = live.current
        result = live.rebuild()
        after = live.current
        assert result.index_version == before.version + 1
        assert dict(after.documents) == dict(before.documents)
        assert len(segment_names(after)) == 1
        assert_exact_citations(after)
        assert load_index(index_copy).version == result.index_version
    finally:
        live.close()


def test_a_read_only_instance_refuses_writes(index_copy: Path, encoder: Any) -> None:
    live = LiveIndex.open(index_copy, encoder, writable=False)
    with pytest.raises(CorpusError, match="read-only"):
        live.put([doc("seals")])
    assert live.merger is None
