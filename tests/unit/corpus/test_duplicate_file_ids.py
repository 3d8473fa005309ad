"""Two files of a folder that get one doc_id: the error's advice must be one that works. For terns.txt and
terns.md (one folder, one name) it said "give one of them its own doc_id in a NAME.json beside it", but
terns.json is beside both and describes both, so following it failed the same way."""

from __future__ import annotations

import json
from pathlib import Path

from support import cli_index, squeeze


def test_files_of_one_name_are_told_to_rename_not_to_add_a_sidecar(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "terns.txt").write_text("Arctic terns migrate from pole to pole.\n", encoding="utf-8")
    (docs / "terns.md").write_text("# Terns\n\nTerns eat small fish.\n", encoding="utf-8")
    code, output = cli_index(docs, tmp_path / "index")
    assert code == 2, output
    shared = "terns.md and terns.txt share one name, so one NAME.json would describe both: rename one"
    assert squeeze(shared) in output
    assert squeeze("in a NAME.json beside it") not in output
    (docs / "terns.json").write_text(json.dumps({"doc_id": "terns-notes"}), encoding="utf-8")
    code, output = cli_index(docs, tmp_path / "index")  # the old advice: still a duplicate
    assert code == 2 and squeeze("duplicates 'terns-notes'") in output
    assert squeeze("rename one of them") in output
    (docs / "terns.md").rename(docs / "terns-diet.md")
    code, output = cli_index(docs, tmp_path / "index")
    assert code == 0, output


def test_files_of_one_name_in_two_folders_keep_the_sidecar_advice(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    for folder in ("a", "b"):
        (docs / folder).mkdir(parents=True)
        (docs / folder / "notes.txt").write_text(f"Notes of folder {folder}.\n", encoding="utf-8")
    code, output = cli_index(docs, tmp_path / "index")
    assert code == 2, output
    assert squeeze("give one of them its own doc_id in a NAME.json beside it") in output
    (docs / "b" / "notes.json").write_text(json.dumps({"doc_id": "notes-b"}), encoding="utf-8")
    code, output = cli_index(docs, tmp_path / "index")
    assert code == 0, output


def test_a_duplicate_doc_id_gets_no_skip_bad_hint_it_would_not_honour(tmp_path: Path) -> None:
    """The error ended "(--skip-bad leaves such files out and reports them)", and --skip-bad failed the same
    way: both files are readable, so neither is skipped."""
    docs = tmp_path / "docs"
    for folder in ("a", "b"):
        (docs / folder).mkdir(parents=True)
        (docs / folder / "notes.txt").write_text(f"Notes of folder {folder}.\n", encoding="utf-8")
    code, output = cli_index(docs, tmp_path / "index", "--skip-bad")
    assert code == 2 and squeeze("duplicates 'notes'") in output  # --skip-bad does not help
    code, output = cli_index(docs, tmp_path / "index")
    assert code == 2 and squeeze("duplicates 'notes'") in output
    assert squeeze("--skip-bad") not in output
