"""Many segments rank as one: dense, BM25 and hybrid over segments with deletes in between equal a fresh
build of the same live documents in one segment (scores too); merges keep that, carry deletes made while
they ran, and a crash mid-merge leaves the previous commit whole."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from support import assert_exact_sentences, distinct_sentence_texts, remove_sentence_files

from citeqa.search import Searcher
from corpus.types import Document
from indexer.build import build_index
from indexer.commit_point import PENDING_MAX_AGE_SECONDS, merge_lock_path
from indexer.index_folder import content_hash
from indexer.index_settings import IndexSettings
from indexer.live import LiveIndex
from indexer.load import LoadedIndex, SegmentCache, load_index
from indexer.merging import TieredMergePolicy, commit_merge, merge_once, merged_content
from indexer.segment import PENDING_PREFIX, SEGMENTS, deletes_path
from indexer.writer import write_new_segment

QUESTIONS = (
    "what are milia",
    "is it safe to pop the white bumps on my baby's nose",
    "how long can harbor seals hold their breath",
    "how long should rye bread bake",
    "can I freeze pizza dough",
    "tide pools at low tide",
)
NOTES = {
    "seals": (
        "Harbor seals",
        "Harbor seals rest on rocky shores between dives. They hold their breath for thirty minutes.",
    ),
    "rye": (
        "Rye bread",
        "A dense rye loaf needs a long bake of at least 70 minutes. Let it rest a day before slicing.",
    ),
    "pizza": (
        "Pizza dough",
        "Pizza dough freezes well for three months. Thaw it overnight in the fridge before shaping.",
    ),
    "tides": (
        "Tide pools",
        "Tide pools hold anemones and small crabs. Visit them at low tide and step only on bare rock.",
    ),
    "walrus": (
        "Walruses",
        "Walruses use their tusks to haul out onto the ice. Their whiskers find clams in the mud.",
    ),
    "crust": ("Crust", "Steam in the first minutes of a bake gives bread a thin, crackling crust."),
}
NO_MERGES = TieredMergePolicy(segments_per_tier=1000, max_deleted_share=1.0)


def note(doc_id: str, suffix: str = "") -> Document:
    title, text = NOTES[doc_id]
    return Document(doc_id=doc_id, title=title, text=text + suffix)


def keys(index: LoadedIndex, ids: np.ndarray) -> list[tuple[str, int, int]]:
    return [(p.doc_id, p.start, p.end) for p in (index.passages[int(i)] for i in ids if i >= 0)]


def assert_ranks_like_one_segment(index: LoadedIndex, encoder: Any, tmp_path: Path) -> None:
    """Dense, BM25 (scores included) and hybrid rankings equal a fresh one-segment build of the same
    live documents."""
    oracle_path = tmp_path / f"oracle-{time.time_ns()}"
    build_index([index.documents[d] for d in index.documents], encoder, oracle_path, IndexSettings())
    oracle = load_index(oracle_path)
    assert len(oracle.manifest["segments"]) == 1 and len(oracle.passages) == len(index.passages)
    for question in QUESTIONS:
        scores, ids = index.bm25.search(question, 10)
        oracle_scores, oracle_ids = oracle.bm25.search(question, 10)
        assert keys(index, ids) == keys(oracle, oracle_ids), question
        np.testing.assert_allclose(scores, oracle_scores, rtol=1e-5)
        vector = encoder.encode([question])
        scores, ids = index.dense.search(vector, 10)
        oracle_scores, oracle_ids = oracle.dense.search(vector, 10)
        assert keys(index, ids[0]) == keys(oracle, oracle_ids[0]), question
        np.testing.assert_allclose(scores, oracle_scores, atol=1e-5)
        hybrid = [(h.passage.doc_id, h.passage.start) for h in Searcher(index, encoder).search(question, 10)]
        expected = [
            (h.passage.doc_id, h.passage.start) for h in Searcher(oracle, encoder).search(question, 10)
        ]
        assert hybrid == expected, question


@pytest.fixture
def written(index_copy: Path, encoder: Any) -> LiveIndex:
    """The default index after a mix of writes: six segments, replacements and deletes among them."""
    # No merger thread: these tests run the merges themselves (a merger checking for work holds the merge
    # lock for a moment, and a merge_once meeting it returns None).
    live = LiveIndex.open(index_copy, encoder, policy=NO_MERGES, background_merges=False)
    live.put([note("seals")])
    live.put([note("rye"), note("pizza")])
    live.put([note("tides")])
    live.put([note("seals", " Pups swim within hours of birth.")])  # replaces: a delete in segment 2
    live.delete(["pizza"])
    live.put([note("walrus"), note("crust")])
    live.delete([next(iter(live.current.documents))])  # one of the default articles
    yield live
    live.close()


def test_many_segments_with_deletes_rank_as_one(written: LiveIndex, encoder: Any, tmp_path: Path) -> None:
    index = written.current
    assert len(index.manifest["segments"]) == 5
    assert sum(e["deleted_documents"] for e in index.manifest["segments"]) == 2
    assert_ranks_like_one_segment(index, encoder, tmp_path)


def test_passages_looked_up_together_are_those_looked_up_one_by_one(written: LiveIndex) -> None:
    passages = written.current.passages
    ids = np.random.default_rng(0).permutation(len(passages))
    ranked = passages.ranked(ids)  # type: ignore[attr-defined]
    assert list(ranked) == [passages[int(i)] for i in ids]
    layout = ranked.layout  # where they lie, without building them
    assert layout.starts.tolist() == [p.start for p in ranked] and layout.ends.tolist() == [
        p.end for p in ranked
    ]
    same_key = layout.doc_keys[:, None] == layout.doc_keys[None, :]
    doc_ids = np.asarray([p.doc_id for p in ranked])
    assert (same_key == (doc_ids[:, None] == doc_ids[None, :])).all()
    assert list(passages.ranked(np.empty(0, np.int64))) == []  # type: ignore[attr-defined]
    with pytest.raises(IndexError):
        passages.ranked(np.asarray([len(passages)]))  # type: ignore[attr-defined]


def test_merges_rank_the_same_and_shrink_the_segment_list(
    written: LiveIndex, encoder: Any, tmp_path: Path
) -> None:
    folder = written.folder
    before = written.current
    # Each live sentence's stored vector before the merges, by text (a vector is a function of its text).
    vectors = {
        text: np.array(s.reader.sentence_vectors[row])  # type: ignore[index]
        for s in before.segments
        for text, row in s.reader.sentence_rows_by_text().items()
    }
    cache = SegmentCache(folder)
    policy = TieredMergePolicy(segments_per_tier=2)
    merged = None
    while (step := merge_once(folder, cache, policy)) is not None:
        merged = step
    assert merged is not None and len(merged.manifest["segments"]) == 1
    # Sentences follow their passages (deleted ones dropped), their vectors copied bit for bit.
    assert_exact_sentences(merged)
    (reader,) = [s.reader for s in merged.segments]
    assert reader.sentence_vectors is not None
    assert set(reader.sentence_rows_by_text()) == set(
        distinct_sentence_texts(merged.passages, merged.documents)
    )
    for text, row in reader.sentence_rows_by_text().items():
        assert np.array_equal(reader.sentence_vectors[row], vectors[text])
    assert merged.version == written.current.version  # a merge changes the layout, not the documents
    reader = merged.segments[0].reader  # content hashes copied from the sources, as hashing gives them
    assert reader.content_hashes == [content_hash(reader.document(r)) for r in range(reader.n_documents)]
    assert merged.generation > written.current.generation - 1
    assert sorted((SEGMENTS_DIR := folder / SEGMENTS).iterdir()) == [
        SEGMENTS_DIR / merged.manifest["segments"][0]["name"]
    ]
    assert_ranks_like_one_segment(load_index(folder), encoder, tmp_path)


def test_a_delete_committed_during_a_merge_is_carried_into_the_merged_segment(
    written: LiveIndex, encoder: Any, tmp_path: Path
) -> None:
    folder = written.folder
    start = written.current
    names = [e["name"] for e in start.manifest["segments"]]
    with merge_lock_path(folder).open("a") as merging:  # held by a merge from start to commit
        fcntl.flock(merging.fileno(), fcntl.LOCK_EX)
        content, origins = merged_content(start, names)
        new = write_new_segment(folder, content, start.generation, "flat", origins)
        written.delete(["walrus"])  # lands while the merge runs
        written.put([note("pizza")])  # so does a new document, in a segment of its own
        merged = commit_merge(folder, SegmentCache(folder), new, names)
    assert "walrus" not in merged.documents and "pizza" in merged.documents
    assert len(merged.manifest["segments"]) == 2
    assert set(merged.documents) == set(written.current.documents)
    assert_ranks_like_one_segment(merged, encoder, tmp_path)


def test_a_crash_mid_merge_leaves_the_previous_commit_and_its_leftovers_are_removed(
    written: LiveIndex, encoder: Any
) -> None:
    folder = written.folder
    start = written.current
    names = [e["name"] for e in start.manifest["segments"]]
    content, origins = merged_content(start, names)
    new = write_new_segment(folder, content, start.generation, "flat", origins)  # then: the crash
    pending = folder / SEGMENTS / f"{PENDING_PREFIX}{new.entry['name']}"
    assert pending.is_dir()
    reopened = load_index(folder)
    assert reopened.manifest == start.manifest and dict(reopened.documents) == dict(start.documents)
    old = time.time() - PENDING_MAX_AGE_SECONDS - 60
    os.utime(pending, (old, old))
    written.put([note("pizza")])  # the next commit's clean-up removes what no commit names
    assert not pending.exists()


def test_background_merges_keep_the_segment_count_logarithmic(index_copy: Path, encoder: Any) -> None:
    live = LiveIndex.open(
        index_copy, encoder, policy=TieredMergePolicy(segments_per_tier=3, floor_passages=50)
    )
    try:
        for n in range(10):
            live.put([Document(doc_id=f"n{n}", title=f"Note {n}", text=f"Note {n} on crust number {n}.")])
        assert live.wait_for_merges(120) and not live.merge_errors
        index = live.current
        assert len(index.manifest["segments"]) < 4
        assert live.merger is not None and live.merger.merges >= 3
        assert {f"n{n}" for n in range(10)} <= set(index.documents)
    finally:
        live.close()


def test_a_merge_with_a_segment_written_before_sentences_were_stored_stores_none(
    index_copy: Path, encoder: Any
) -> None:
    remove_sentence_files(index_copy)
    live = LiveIndex.open(index_copy, encoder, policy=NO_MERGES, background_merges=False)
    try:
        live.put([note("seals")])
        assert [s.reader.has_sentences for s in live.current.segments] == [False, True]
        merged = merge_once(index_copy, SegmentCache(index_copy), TieredMergePolicy(segments_per_tier=2))
        assert merged is not None
        ((entry, segment),) = zip(merged.manifest["segments"], merged.segments, strict=True)
        assert "sentences" not in entry and not segment.reader.has_sentences
        assert not [f for f in merged.manifest["files"] if "sentence" in f]
        assert len(merged.passages) == len(live.current.passages)
    finally:
        live.close()


def test_a_commit_reuses_the_views_of_the_segments_it_did_not_change(
    written: LiveIndex, encoder: Any, tmp_path: Path
) -> None:
    """A commit makes the live views (live masks and rows, lexical ranks, FAISS selector) of the segments
    it changed only; the others are shared with the previous commit, and the result equals a cold open."""
    before = written.current
    walrus_segment = before.documents.locate("walrus")[0].reader.name
    written.delete(["walrus"])
    after = written.current
    old = {
        (s.reader.name, e.get("deletes")): s
        for s, e in zip(before.segments, before.manifest["segments"], strict=True)
    }
    reused = changed = 0
    for segment, entry in zip(after.segments, after.manifest["segments"], strict=True):
        previous = old.get((segment.reader.name, entry.get("deletes")))
        if segment.reader.name == walrus_segment:
            assert previous is None and not segment.doc_live[segment.reader.doc_index["walrus"]]
            changed += 1
            continue
        assert previous is not None
        assert segment.doc_live is previous.doc_live and segment.live_rows is previous.live_rows
        assert segment.lexical is previous.lexical and segment.selector is previous.selector
        reused += 1
    assert changed == 1 and reused == len(after.segments) - 1
    cold = load_index(written.folder)  # a fresh cache: every view made from the files
    assert keys(after, np.arange(len(after.passages))) == keys(cold, np.arange(len(cold.passages)))
    for question in QUESTIONS:
        np.testing.assert_array_equal(after.bm25.scores(question), cold.bm25.scores(question))
        vector = encoder.encode([question])
        warm_scores, warm_ids = after.dense.search(vector, 10)
        cold_scores, cold_ids = cold.dense.search(vector, 10)
        np.testing.assert_array_equal(warm_ids, cold_ids)
        np.testing.assert_array_equal(warm_scores, cold_scores)
    assert_ranks_like_one_segment(after, encoder, tmp_path)


def test_a_commit_fsyncs_every_file_it_names_before_the_manifest_rename(
    written: LiveIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Durability with one fsync round: a delete's deletes file, a put's segment files, its folders and
    the segments folder after the rename that publishes it are on disk before the manifest is swapped in."""
    import indexer.commit_point as commit_point_module
    import indexer.segment as segment_module

    events: list[tuple[str, Path]] = []
    real_fsync, real_replace = segment_module.fsync_files, os.replace

    def fsync(paths: Any) -> None:
        events.extend(("sync", Path(p)) for p in paths)
        real_fsync(paths)

    def replace(source: Any, target: Any) -> None:
        real_replace(source, target)
        events.append(("replace", Path(target)))

    monkeypatch.setattr(segment_module, "fsync_files", fsync)
    monkeypatch.setattr(commit_point_module, "fsync_files", fsync)
    monkeypatch.setattr(os, "replace", replace)
    folder = written.folder

    def synced_before_commit() -> set[Path]:
        commit = events.index(("replace", folder / "manifest.json"))
        return {path for kind, path in events[:commit] if kind == "sync"}

    rye_segment = written.current.documents.locate("rye")[0].reader.name
    written.delete(["rye"])
    assert folder / deletes_path(rye_segment, written.current.generation) in synced_before_commit()
    events.clear()
    written.put([note("rye")])
    name = written.current.manifest["segments"][-1]["name"]
    synced = synced_before_commit()
    published = events.index(("replace", folder / SEGMENTS / name))
    committed = events.index(("replace", folder / "manifest.json"))
    assert published < committed and ("sync", folder / SEGMENTS) in events[published:committed]
    assert folder / SEGMENTS / f"{PENDING_PREFIX}{name}" in synced
    files = [folder / path for path in written.current.manifest["files"] if f"/{name}/" in path]
    assert files
    pending = {
        folder / SEGMENTS / f"{PENDING_PREFIX}{name}" / p.relative_to(folder / SEGMENTS / name) for p in files
    }
    assert pending <= synced


def test_a_lasting_merge_failure_keeps_a_bounded_few_messages_and_counts_them_all(
    index_copy: Path, encoder: Any
) -> None:
    from indexer.live import MERGE_ERRORS_KEPT

    live = LiveIndex.open(index_copy, encoder, background_merges=False)
    try:
        for number in range(MERGE_ERRORS_KEPT + 5):
            live._merge_failed(OSError(28, f"No space left on device ({number})"))
        assert live.merge_failures == MERGE_ERRORS_KEPT + 5
        assert len(live.merge_errors) == MERGE_ERRORS_KEPT
        assert live.merge_errors[-1].endswith(f"({MERGE_ERRORS_KEPT + 4})")
    finally:
        live.close()
