"""`citeqa index --index DIR` swaps a new folder in and deletes the old one whole. Over a folder that was not
an index it deleted the owner's files: `citeqa index --corpus docs --index docs` left an index where the
documents had been, `--index mydocs` (a slip for --corpus) deleted mydocs/thesis.txt, and `--index
notes.txt` moved the file aside as a hidden .notes.txt.old-*. Such a destination is now refused before any
work; a new, empty or index folder (one index, damaged or sharded) is still built over."""

from __future__ import annotations

from pathlib import Path

from support import cli_index, squeeze

from indexer.load import load_index

TERNS = "Arctic terns migrate from pole to pole every year.\n"


def test_the_corpus_folder_itself_is_not_replaced_by_its_index(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "terns.txt").write_text(TERNS, encoding="utf-8")
    code, output = cli_index(docs, docs)
    assert code == 2, output
    assert squeeze(f"{docs} is not an index folder (it holds terns.txt)") in output
    assert squeeze("pass a new or empty folder to --index") in output
    assert (docs / "terns.txt").read_text(encoding="utf-8") == TERNS
    assert not (docs / "manifest.json").exists()


def test_a_folder_of_other_files_or_a_file_is_refused_and_kept(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "terns.txt").write_text(TERNS, encoding="utf-8")
    mine = tmp_path / "mydocs"
    mine.mkdir()
    for name in ("a.txt", "b.txt", "c.txt", "thesis.txt"):
        (mine / name).write_text("precious", encoding="utf-8")
    code, output = cli_index(docs, mine)
    assert code == 2 and squeeze("(it holds a.txt, b.txt, c.txt and 1 more)") in output
    assert sorted(p.name for p in mine.iterdir()) == ["a.txt", "b.txt", "c.txt", "thesis.txt"]
    notes = tmp_path / "notes.txt"
    notes.write_text("precious", encoding="utf-8")
    code, output = cli_index(docs, notes, "--shards", "2")
    assert code == 2 and squeeze(f"{notes} is a file, not an index folder") in output
    assert notes.read_text(encoding="utf-8") == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["docs", "mydocs", "notes.txt"]


def test_a_new_an_empty_and_an_index_folder_are_still_built(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "terns.txt").write_text(TERNS, encoding="utf-8")
    empty = tmp_path / "empty"
    empty.mkdir()
    for destination in (tmp_path / "new", empty):
        code, output = cli_index(docs, destination)
        assert code == 0, output
        code, output = cli_index(docs, destination, "--force")  # over the index it just built
        assert code == 0, output
        assert list(load_index(destination).documents) == ["terns"]
    damaged = tmp_path / "new"
    (damaged / "manifest.json").unlink()  # segments/ still mark it as an index, which a build repairs
    code, output = cli_index(docs, damaged)
    assert code == 0, output
    code, output = cli_index(docs, tmp_path / "sharded", "--shards", "2")
    assert code == 0, output
    code, output = cli_index(docs, tmp_path / "sharded")  # a sharded folder made one index again
    assert code == 0, output
