"""`citeqa index --index-type` and `citeqa verify`, as the venv's console script in subprocesses."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from support import run_cli

from corpus import DEFAULT_CORPUS_DIR
from indexer.errors import IndexMismatchError
from indexer.load import load_index


def test_index_type_option_then_verify_finds_a_changed_file(tmp_path: Path) -> None:
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(DEFAULT_CORPUS_DIR, corpus)
    command = ["index", "--corpus", str(corpus), "--index", str(index), "--index-type"]
    built = run_cli([*command, "ivf"], cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    assert load_index(index).manifest["shards"][0]["index"]["kind"] == "ivf"

    checked = run_cli(["verify", "--index", str(index)], cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "files match their checksums" in checked.stdout

    passages = index / "passages.jsonl"
    data = bytearray(passages.read_bytes())
    at = data.index(b'"text": "') + len(b'"text": "')
    data[at] = ord("X") if data[at] != ord("X") else ord("Y")  # same size, one letter of a quote changed
    passages.write_bytes(bytes(data))
    with pytest.raises(IndexMismatchError, match="does not quote its document"):
        load_index(index, checksums=False)  # sizes match, but the quote check still refuses it ...
    checked = run_cli(["verify", "--index", str(index)], cwd=tmp_path)
    assert checked.returncode == 2  # ... the full one does, and says which file
    assert "passages.jsonl" in checked.stderr and "checksum" in checked.stderr

    wrong = run_cli([*command, "lsh"], cwd=tmp_path)
    assert wrong.returncode == 2 and "index_type must be one of" in wrong.stderr
