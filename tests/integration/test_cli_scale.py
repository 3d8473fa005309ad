"""`citeqa index --index-type` and `citeqa verify`, as the venv's console script in subprocesses."""

from __future__ import annotations

import shutil
from pathlib import Path

from support import one_line, run_cli

from corpus import DEFAULT_CORPUS_DIR
from indexer.load import load_index


def test_index_type_option_then_verify_finds_a_changed_file(tmp_path: Path) -> None:
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(DEFAULT_CORPUS_DIR, corpus)
    command = ["index", "--corpus", str(corpus), "--index", str(index), "--index-type"]
    built = run_cli([*command, "ivf"], cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    assert load_index(index).manifest["segments"][0]["index"]["kind"] == "ivf"

    checked = run_cli(["verify", "--index", str(index)], cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "files match their checksums" in checked.stdout

    stored = next((index / "segments").glob("*/documents.arrow"))
    data = bytearray(stored.read_bytes())
    at = data.index(b"Milia") + 1
    data[at] = ord("X") if data[at] != ord("X") else ord("Y")  # same size, one letter of a document changed
    stored.write_bytes(bytes(data))
    loaded = load_index(index, checksums=False)  # sizes match: the quick check at start-up lets it in ...
    for passage in loaded.passages:  # ... and citations still quote the (changed) stored text exactly,
        assert loaded.documents[passage.doc_id].text[passage.start : passage.end] == passage.text
    checked = run_cli(["verify", "--index", str(index)], cwd=tmp_path)
    assert checked.returncode == 2  # ... but the full check refuses it, and says which file
    assert "documents.arrow" in one_line(checked.stderr) and "checksum" in checked.stderr

    wrong = run_cli([*command, "lsh"], cwd=tmp_path)
    assert wrong.returncode == 2 and "index_type must be one of" in wrong.stderr
