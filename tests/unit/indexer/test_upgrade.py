"""Upgrading a format-1 index (one block, built by the previous release: tests/data/format1) to format 2
in place: refused by load_index with the command that upgrades it; the journal's writes applied with only
their documents embedded; the stored vectors kept as they were; exact citations and answers after it; a
crash leaves the format-1 folder and its journal; a format-2 folder is left alone; the CLI says what it
did."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from support import (
    CountingEncoder,
    FailingEncoder,
    assert_exact_sentences,
    cli_index,
    distinct_sentence_texts,
    folder_digest,
    one_line,
    run_cli,
    squeeze,
    swap_leftovers,
)

from citeqa.search import Searcher
from corpus.types import Document
from indexer import index_folder
from indexer.build import IndexSettings
from indexer.chunking import chunk_document
from indexer.embedding import DEFAULT_MODEL, SentenceTransformerEncoder
from indexer.errors import IndexMismatchError
from indexer.format1 import Format1Index, is_format1, load_format1
from indexer.index_folder import document_from_record
from indexer.index_settings import embedding_text
from indexer.journal import JournalError, journal_path
from indexer.load import LoadedIndex, load_index
from indexer.staleness import changed_by_writes, index_is_current
from indexer.types import Passage
from indexer.upgrade import upgrade_format1

FORMAT1_DATA = Path(__file__).resolve().parents[2] / "data" / "format1"
# Built by that release's own `citeqa index`, `citeqa add` and `citeqa remove` (its README.md).
FORMAT1_WRITTEN = Path(__file__).resolve().parents[2] / "data" / "format1_written" / "index"


@pytest.fixture
def format1_index(tmp_path: Path) -> Path:
    """A private copy of the format-1 index and its journal (version 2 put seals, 3 put bread, 4 delete
    seals)."""
    path = tmp_path / "index"
    shutil.copytree(FORMAT1_DATA / "index", path)
    shutil.copy(FORMAT1_DATA / "index.journal.jsonl", journal_path(path))
    return path


def journal_documents(path: Path) -> dict[str, Document]:
    documents = {}
    for line in journal_path(path).read_text(encoding="utf-8").splitlines():
        for op in json.loads(line)["ops"]:
            if op["op"] == "put":
                document = document_from_record(op["document"])
                documents[document.doc_id] = document
    return documents


def key(passage: Passage) -> tuple[str, int, int]:
    return (passage.doc_id, passage.start, passage.end)


def assert_exact_citations(index: LoadedIndex) -> None:
    assert [p.passage_id for p in index.passages] == list(range(len(index.passages)))
    for passage in index.passages:
        assert index.documents[passage.doc_id].text[passage.start : passage.end] == passage.text
    assert len(index.dense) == len(index.passages) == len(index.bm25)
    assert index.manifest["counts"] == {"documents": len(index.documents), "passages": len(index.passages)}


def test_the_test_data_is_a_format1_index(format1_index: Path) -> None:
    old = load_format1(format1_index)
    assert old.manifest["format_version"] == 1 and old.version == 1
    assert len(old.documents) == 2 and len(old.passages) == len(old.vectors) > 0
    assert is_format1(format1_index)
    assert [json.loads(line)["version"] for line in journal_path(format1_index).read_text().splitlines()] == [
        2,
        3,
        4,
    ]


def test_load_index_refuses_format1_naming_the_upgrade(format1_index: Path) -> None:
    before = folder_digest(format1_index)
    with pytest.raises(IndexMismatchError) as caught:
        load_index(format1_index)
    message = str(caught.value)
    assert "format 1" in message
    assert f"citeqa upgrade --index {format1_index}" in message
    assert folder_digest(format1_index) == before


def test_is_format1_only_for_format1(format1_index: Path, default_index_path: Path, tmp_path: Path) -> None:
    assert is_format1(format1_index)
    assert not is_format1(default_index_path)
    assert not is_format1(tmp_path / "nothing")


def test_upgrade_applies_the_journal_and_embeds_only_its_new_document(
    format1_index: Path, encoder: SentenceTransformerEncoder
) -> None:
    old: Format1Index = load_format1(format1_index)
    bread = journal_documents(format1_index)["bread"]
    counting = CountingEncoder(encoder)
    report = upgrade_format1(format1_index, counting)

    index = load_index(format1_index, expected_model=DEFAULT_MODEL)
    assert report.version == index.version == 4
    assert index.manifest["format_version"] == 2
    assert set(index.documents) == {*old.documents, "bread"} and "seals" not in index.documents
    for doc_id, document in old.documents.items():
        assert index.documents[doc_id] == document
    assert index.documents["bread"] == bread
    assert (report.documents, report.passages) == (3, len(index.passages))

    # Only bread's passages were embedded, with its title as the build embeds them.
    bread_passages = [p for p in index.passages if p.doc_id == "bread"]
    assert [key(p) for p in bread_passages] == [
        key(p) for p in chunk_document(bread, IndexSettings().chunker)
    ]
    passage_texts = [embedding_text(p, bread.title, True) for p in bread_passages]
    assert report.embedded_passages == len(bread_passages) > 0
    assert sorted(t for t in counting.texts if t in passage_texts) == sorted(passage_texts)
    # Besides those, only sentences were embedded: format 1 stored none.
    others = {t for t in counting.texts if t not in passage_texts}
    assert others == set(distinct_sentence_texts(list(index.passages), index.documents))
    assert_exact_sentences(index)

    # The articles keep their stored vectors, bit for bit.
    old_rows = {key(p): row for row, p in enumerate(old.passages)}
    kept = [p for p in index.passages if p.doc_id != "bread"]
    assert sorted(key(p) for p in kept) == sorted(old_rows)
    new_vectors = index.dense.vectors(np.asarray([p.passage_id for p in kept]))
    assert np.array_equal(new_vectors, old.vectors[[old_rows[key(p)] for p in kept]])

    assert not journal_path(format1_index).exists()
    assert swap_leftovers(format1_index) == []
    assert changed_by_writes(format1_index)  # the journal's writes changed it from its corpus
    assert_exact_citations(index)
    hits = Searcher(index, encoder).search("how long should a rye loaf bake", 3)
    assert hits and hits[0].passage.doc_id == "bread"
    assert hits[0].passage.text in index.documents["bread"].text
    assert all(h.passage.doc_id != "seals" for h in Searcher(index, encoder).search("harbor seals", 5))


def test_upgrade_without_a_journal_embeds_nothing_and_stays_current(
    format1_index: Path,
    encoder: SentenceTransformerEncoder,
    default_documents: list[Document],
    loaded_index: LoadedIndex,
) -> None:
    journal_path(format1_index).unlink()
    old = load_format1(format1_index)
    counting = CountingEncoder(encoder)
    report = upgrade_format1(format1_index, counting)
    assert (report.version, report.embedded_passages) == (1, 0)
    index = load_index(format1_index)
    # Only the sentences were embedded (format 1 stored none); every passage vector was kept.
    assert set(counting.texts) == set(distinct_sentence_texts(list(index.passages), index.documents))
    index = load_index(format1_index)
    assert index.manifest["corpus"]["fingerprint"] == old.manifest["corpus"]["fingerprint"]
    assert not changed_by_writes(format1_index)
    assert index_is_current(format1_index, default_documents, DEFAULT_MODEL, IndexSettings())
    assert list(index.passages) == list(old.passages)
    assert np.array_equal(index.dense.vectors(np.arange(len(index.passages))), old.vectors)
    # It ranks as a fresh format-2 build of the same corpus does.
    question = encoder.encode(["are milia contagious"])
    n = len(index.passages)
    assert index.dense.search(question, n)[1].tolist() == loaded_index.dense.search(question, n)[1].tolist()
    assert index.bm25.search("milia", n)[1].tolist() == loaded_index.bm25.search("milia", n)[1].tolist()


def test_make_run_over_a_format1_folder_its_release_wrote_into_keeps_the_writes(tmp_path: Path) -> None:
    # That release checkpointed `citeqa add` into the folder (version 3, an empty journal): `make run`
    # upgraded it, then rebuilt it from the corpus, and the document the user had added was gone.
    from corpus import DEFAULT_CORPUS_DIR

    path = tmp_path / "index"
    shutil.copytree(FORMAT1_WRITTEN, path)
    old = load_format1(path)
    assert old.version == 3 and set(old.documents) >= {"gannets"} and "rye" not in old.documents
    code, out = cli_index(DEFAULT_CORPUS_DIR, path, "--if-stale")
    assert code == 0, out
    assert squeeze(f"upgraded {path}: 3 documents") in out
    assert squeeze(f"index at {path} has been changed by writes (version 3)") in out
    assert squeeze("kept as it is") in out and "indexed" not in out
    index = load_index(path, expected_model=DEFAULT_MODEL)
    assert index.version == 3 and changed_by_writes(path)
    assert {d: index.documents[d] for d in old.documents} == old.documents
    assert_exact_citations(index)
    assert any(p.doc_id == "gannets" for p in index.passages)


def first_release_folder(tmp_path: Path) -> Path:
    """The format-1 test folder with its manifest as the first release wrote it: no version,
    bm25_title, index_type nor FAISS spec per shard (its BM25 read the passage text alone)."""
    path = tmp_path / "index"
    shutil.copytree(FORMAT1_DATA / "index", path)
    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    for name in ("version", "bm25_title", "index_type"):
        del manifest[name]
    manifest["shards"] = [
        {k: v for k, v in shard.items() if k not in ("index", "tuned_recall_at_10")}
        for shard in manifest["shards"]
    ]
    (path / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return path


def test_make_run_upgrades_a_folder_of_the_first_release(tmp_path: Path) -> None:
    # The first release's manifest had no version, bm25_title, index_type nor FAISS spec per shard:
    # `make run` said it was upgrading it, then stopped on a traceback (KeyError: 'bm25_title').
    from corpus import DEFAULT_CORPUS_DIR

    path = first_release_folder(tmp_path)
    old = load_format1(path)
    code, out = cli_index(DEFAULT_CORPUS_DIR, path, "--if-stale")
    assert code == 0, out
    assert squeeze(f"upgraded {path}: 2 documents, {len(old.passages)} passages, index version 1") in out
    index = load_index(path, expected_model=DEFAULT_MODEL)
    assert index.documents == old.documents and not changed_by_writes(path)
    assert_exact_citations(index)
    assert_exact_sentences(index)


def test_a_first_release_folder_is_current_after_make_run_upgrades_it(tmp_path: Path) -> None:
    # After the upgrade said "stored vectors are kept", `make run` embedded the whole corpus again with no
    # word of why: the folder recorded the first release's BM25 without titles, which the upgrade
    # tokenizes anew anyway, so the settings no longer matched. It now takes today's (the vectors kept).
    from corpus import DEFAULT_CORPUS_DIR

    path = first_release_folder(tmp_path)
    old = load_format1(path)
    code, out = cli_index(DEFAULT_CORPUS_DIR, path, "--if-stale")
    assert code == 0, out
    assert squeeze(f"index at {path} is up to date (2 documents)") in out and "indexed" not in out
    index = load_index(path, expected_model=DEFAULT_MODEL)
    assert index.manifest["bm25_title"] is IndexSettings().bm25_title
    assert np.array_equal(index.dense.vectors(np.arange(len(index.passages))), old.vectors)


def truncated_vectors(path: Path) -> str:
    faiss_file = path / "shards" / "dense-000.faiss"
    faiss_file.write_bytes(faiss_file.read_bytes()[:100])
    return f"index file {faiss_file} does not match its checksum in manifest.json"


def manifest_without_model(path: Path) -> str:
    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    del manifest["model"]
    (path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return f"index at {path}: manifest.json lacks 'model'"


@pytest.mark.parametrize("damage", [truncated_vectors, manifest_without_model])
def test_the_damage_of_a_format1_folder_is_carried_apart_from_its_rebuild_hint(
    tmp_path: Path, damage
) -> None:
    """The upgrade said the damage by cutting the message at "; rebuild it from", which a new wording of
    the hint would break without a word (the whole hint then said as the damage): the error carries it."""
    path = tmp_path / "index"
    shutil.copytree(FORMAT1_WRITTEN, path)
    why = damage(path)
    with pytest.raises(IndexMismatchError) as caught:
        load_format1(path)
    assert caught.value.damage == why
    assert str(caught.value) == f"{why}; {index_folder.REBUILD_HINT.format(path=path)}"


@pytest.mark.parametrize("damage", [truncated_vectors, manifest_without_model])
def test_make_run_over_a_damaged_format1_folder_rebuilds_it_from_its_stored_documents(
    tmp_path: Path, damage
) -> None:
    # A damaged format-1 folder (a vector file cut short, a manifest field missing) stopped `make run`,
    # `citeqa upgrade` and `citeqa serve` on the damage (or a traceback: KeyError), advising `citeqa
    # rebuild`, which refused a format-1 folder, and `make run`, which stopped again: no command worked.
    from corpus import DEFAULT_CORPUS_DIR

    path = tmp_path / "index"
    shutil.copytree(FORMAT1_WRITTEN, path)
    documents = {
        r["doc_id"]: document_from_record(r) for r in index_folder.read_jsonl(path / "documents.jsonl")
    }
    why = damage(path)
    code, out = cli_index(DEFAULT_CORPUS_DIR, path, "--if-stale")
    assert code == 0, out
    assert (
        squeeze(
            f"{why}: its stored vectors could not be kept, so it was rebuilt from its stored documents "
            f"(documents.jsonl and its write journal): 3 documents,"
        )
        in out
    )
    assert squeeze("has been changed by writes (version 3)") in out and "indexed" not in out
    index = load_index(path, expected_model=DEFAULT_MODEL)
    assert dict(index.documents.items()) == documents and "gannets" in documents
    assert index.version == 3 and changed_by_writes(path)
    assert_exact_citations(index)
    assert_exact_sentences(index)


def test_a_damaged_first_release_folder_is_current_after_make_run_rebuilds_it(tmp_path: Path) -> None:
    # A first-release folder (no bm25_title) whose vectors were damaged was rebuilt from its stored
    # documents, every passage embedded, recording BM25 without titles; `make run` then found the
    # settings changed and embedded the whole corpus a second time. It takes today's, as the upgrade does.
    from corpus import DEFAULT_CORPUS_DIR

    path = first_release_folder(tmp_path)
    why = truncated_vectors(path)
    code, out = cli_index(DEFAULT_CORPUS_DIR, path, "--if-stale")
    assert code == 0, out
    assert squeeze(f"{why}: its stored vectors could not be kept") in out
    assert squeeze(f"index at {path} is up to date (2 documents)") in out and "indexed" not in out
    index = load_index(path, expected_model=DEFAULT_MODEL)
    assert index.manifest["bm25_title"] is IndexSettings().bm25_title
    assert_exact_citations(index)


@pytest.mark.parametrize(
    "chunker",
    [{"max_words": 120, "overlap_words": 30, "words": 5}, {"max_words": 120, "overlap_words": 500}],
    ids=["unknown-field", "overlap-past-size"],
)
def test_make_run_over_a_format1_folder_whose_chunker_cannot_be_read_keeps_the_writes(
    tmp_path: Path, chunker: dict[str, int]
) -> None:
    # A format-1 manifest whose chunker settings could not be read (a field no release wrote, an
    # overlap past the size) ended `make run` on a traceback (TypeError or ValueError from ChunkerSettings)
    # after saying it was upgrading: the folder is rebuilt from its stored documents, the default chunker.
    from corpus import DEFAULT_CORPUS_DIR

    path = tmp_path / "index"
    shutil.copytree(FORMAT1_WRITTEN, path)
    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    (path / "manifest.json").write_text(json.dumps({**manifest, "chunker": chunker}), encoding="utf-8")
    code, out = cli_index(DEFAULT_CORPUS_DIR, path, "--if-stale")
    assert code == 0, out
    assert squeeze("its stored vectors could not be kept, so it was rebuilt from its stored documents") in out
    index = load_index(path, expected_model=DEFAULT_MODEL)
    assert index.version == 3 and "gannets" in index.documents
    assert index.manifest["chunker"] == IndexSettings().manifest_view()["chunker"]
    assert_exact_citations(index)


def test_a_format1_folder_whose_stored_documents_are_damaged_names_the_forced_build(tmp_path: Path) -> None:
    from corpus import DEFAULT_CORPUS_DIR

    path = tmp_path / "index"
    shutil.copytree(FORMAT1_WRITTEN, path)
    with (path / "documents.jsonl").open("a", encoding="utf-8") as out:
        out.write("{not json\n")
    code, out = cli_index(DEFAULT_CORPUS_DIR, path, "--if-stale")
    assert code == 2, out
    assert squeeze("line 4 is not valid JSON") in out
    assert squeeze(f"replace it from the corpus with `citeqa index --force --index {path}`") in out
    code, out = cli_index(DEFAULT_CORPUS_DIR, path, "--force")
    assert code == 0, out
    assert squeeze("replacing it from the corpus (--force)") in out
    assert load_index(path, expected_model=DEFAULT_MODEL).version >= 1


def test_a_forced_build_over_a_format1_folder_replaces_it_without_upgrading_it(format1_index: Path) -> None:
    """--force replaces the folder from the corpus, its writes dropped: upgrading it first (every
    sentence embedded, the journal's documents too) would embed it all for nothing."""
    from corpus import DEFAULT_CORPUS_DIR
    from corpus.sources import ingest_corpus

    code, out = cli_index(DEFAULT_CORPUS_DIR, format1_index, "--force")
    assert code == 0, out
    assert squeeze("upgrading it to format 2") not in out and squeeze("upgraded") not in out, out
    assert squeeze("replacing it from the corpus (--force), not upgrading it") in out
    index = load_index(format1_index, expected_model=DEFAULT_MODEL)
    corpus = {d.doc_id for d in ingest_corpus(DEFAULT_CORPUS_DIR).documents}
    assert set(index.documents) == corpus and "bread" not in index.documents  # the journal's write dropped
    assert not journal_path(format1_index).exists()
    assert index.version == 5  # one above the folder's last write (journal version 4), as over format 2
    documents = list(ingest_corpus(DEFAULT_CORPUS_DIR).documents)
    assert index_is_current(format1_index, documents, DEFAULT_MODEL, IndexSettings())


@pytest.mark.parametrize(
    ("version", "damaged"),
    [(None, False), ("two", True), (2.5, False)],
    ids=["null", "text-damaged", "fraction"],
)
def test_a_format1_manifest_whose_version_is_not_a_whole_number_is_refused_in_one_line(
    format1_index: Path, tmp_path: Path, version: object, damaged: bool
) -> None:
    """int(manifest["version"]) ended `citeqa upgrade` on a traceback (TypeError for null, ValueError for
    text), and read 2.5 as 2; also when the folder's vectors are damaged (rebuilt from its stored
    documents): one line naming the field and what to do, the folder and its journal left as they were."""
    manifest_path = format1_index / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["version"] = version
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    if damaged:
        faiss = format1_index / manifest["shards"][0]["faiss"]
        faiss.write_bytes(faiss.read_bytes()[:-8] + b"damaged!")
    before = folder_digest(format1_index)
    done = run_cli(["upgrade", "--index", str(format1_index)], cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    said = squeeze(done.stdout + done.stderr)
    assert squeeze(f"manifest.json has version {json.dumps(version)}, not a whole number") in said, said
    assert squeeze(f"`citeqa index --force --index {format1_index}`") in said
    assert "Traceback" not in done.stderr
    assert folder_digest(format1_index) == before and journal_path(format1_index).exists()


@pytest.mark.parametrize(
    "error", [RuntimeError("simulated crash"), KeyboardInterrupt()], ids=["exception", "interrupt"]
)
def test_a_crash_while_upgrading_leaves_the_format1_folder_and_its_journal(
    format1_index: Path, encoder: SentenceTransformerEncoder, error: BaseException
) -> None:
    before = folder_digest(format1_index)
    journal = journal_path(format1_index).read_bytes()
    failing = FailingEncoder(encoder, fail_on=1, error=error)
    with pytest.raises(type(error)):
        upgrade_format1(format1_index, failing)
    assert failing.calls == 1  # the crash came while embedding bread
    assert folder_digest(format1_index) == before
    assert journal_path(format1_index).read_bytes() == journal
    assert swap_leftovers(format1_index) == []
    assert upgrade_format1(format1_index, encoder).version == 4  # a second attempt completes


def test_a_crash_between_the_renames_of_an_upgrade_is_recovered(
    format1_index: Path, encoder: SentenceTransformerEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = folder_digest(format1_index)
    real_replace = index_folder.os.replace

    def crash_on_moving_in(src: object, dst: object) -> None:
        if Path(str(dst)) == format1_index:
            raise OSError("simulated crash between the renames")
        real_replace(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(index_folder.os, "replace", crash_on_moving_in)
    with pytest.raises(OSError, match="simulated"):
        upgrade_format1(format1_index, encoder)
    monkeypatch.undo()
    assert journal_path(format1_index).exists()
    # What `citeqa upgrade` and `citeqa serve` ask first: the folder is format 1 (put back), upgrade it.
    assert is_format1(format1_index)
    assert folder_digest(format1_index) == before
    assert upgrade_format1(format1_index, encoder).version == 4


def test_a_damaged_journal_refuses_the_upgrade(
    format1_index: Path, encoder: SentenceTransformerEncoder
) -> None:
    path = journal_path(format1_index)
    path.write_bytes(path.read_bytes().replace(b"rye loaf", b"rye cake", 1))
    before = folder_digest(format1_index)
    with pytest.raises(JournalError, match="line 2 is damaged"):
        upgrade_format1(format1_index, encoder)
    assert folder_digest(format1_index) == before and is_format1(format1_index)


def test_upgrading_a_format2_folder_is_refused_and_changes_nothing(
    index_copy: Path, encoder: SentenceTransformerEncoder
) -> None:
    assert not is_format1(index_copy)
    before = folder_digest(index_copy)
    counting = CountingEncoder(encoder)
    with pytest.raises(IndexMismatchError, match="format_version 2"):
        upgrade_format1(index_copy, counting)
    assert counting.calls == []
    assert folder_digest(index_copy) == before
    assert load_index(index_copy).version == 1


@pytest.mark.slow
def test_the_upgrade_command(format1_index: Path, tmp_path: Path) -> None:
    bread = journal_documents(format1_index)["bread"]
    done = run_cli(["upgrade", "--index", str(format1_index)], cwd=tmp_path)
    out = one_line(done.stdout + done.stderr)  # the progress messages go to stderr
    assert done.returncode == 0, out
    assert f"index at {format1_index} is in format 1" in out
    assert "upgrading it to format 2 in place; its passage vectors are kept and its sentences embedded" in out
    embedded = len(chunk_document(bread, IndexSettings().chunker))
    passages = len(load_index(format1_index).passages)
    assert (
        f"upgraded {format1_index}: 3 documents, {passages} passages, index version 4 "
        f"({embedded} passages embedded for journal writes)"
    ) in out
    assert not journal_path(format1_index).exists()
    again = run_cli(["upgrade", "--index", str(format1_index)], cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"index at {format1_index} is already in format 2" in one_line(again.stdout)
