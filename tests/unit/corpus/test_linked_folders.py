"""A link to a folder inside a corpus folder: the README promises that a folder's files are read or reported
("nothing is left out silently"), but os.walk does not follow such links and the report said nothing of
them: `citeqa index` over a folder with a linked shared/ folder indexed without its documents and without a
word. Such links are now reported as skipped with the reason and what to do (they are still not followed:
a link may loop, e.g. to its own parent)."""

from __future__ import annotations

from pathlib import Path

from support import squeeze
from typer.testing import CliRunner

from indexer.load import load_index
from service.cli.app import app


def test_a_linked_folder_is_reported_as_skipped(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "owls.txt").write_text("Owls hunt at night.\n", encoding="utf-8")
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "hawks.txt").write_text("Hawks hunt by day.\n", encoding="utf-8")
    (docs / "shared").symlink_to(shared, target_is_directory=True)
    (docs / "loop").symlink_to(docs, target_is_directory=True)
    index = tmp_path / "index"
    result = CliRunner().invoke(app, ["index", "--corpus", str(docs), "--index", str(index)])
    assert result.exit_code == 0, result.output
    output = squeeze(result.output)
    for link in ("loop", "shared"):
        assert squeeze(f"skipped {docs / link}: a link to a folder, not followed") in output
    assert squeeze("copy the files into the folder, or pass the folder it links to") in output
    assert squeeze("1 document(s) from 1 file(s)") in output
    assert list(load_index(index).documents) == ["owls"]


def test_a_link_to_a_file_read_already_is_skipped_and_a_link_to_an_outside_file_is_read(
    tmp_path: Path,
) -> None:
    """Before, `owls-link.txt -> owls.txt` indexed the same document twice, under two ids."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "owls.txt").write_text("Owls hunt at night.\n", encoding="utf-8")
    outside = tmp_path / "hawks.txt"
    outside.write_text("Hawks hunt by day.\n", encoding="utf-8")
    (docs / "a-owls-link.txt").symlink_to(docs / "owls.txt")  # sorts before the file it links to
    (docs / "hawks.txt").symlink_to(outside)
    (docs / "hawks-again.txt").symlink_to(outside)
    index = tmp_path / "index"
    result = CliRunner().invoke(app, ["index", "--corpus", str(docs), "--index", str(index)])
    assert result.exit_code == 0, result.output
    output = squeeze(result.output)
    owls, hawks = docs / "owls.txt", docs / "hawks-again.txt"
    assert squeeze(f"skipped {docs / 'a-owls-link.txt'}: a link to {owls}, read already as {owls}") in output
    assert squeeze(f"skipped {docs / 'hawks.txt'}: a link to {outside}, read already as {hawks}") in output
    assert squeeze("2 document(s) from 2 file(s)") in output
    assert sorted(load_index(index).documents) == ["hawks-again", "owls"]
