"""`citeqa` on a disk that refuses bytes (the real console script in a subprocess whose file-size limit,
RLIMIT_FSIZE, refuses them as a full disk does): one line saying what happened and what to do, exit 2,
no traceback, and the folder it was writing as it was before."""

from __future__ import annotations

import resource
import shutil
import signal
import subprocess
from pathlib import Path

from support import CITEQA_BIN, cli_env, folder_digest

from corpus import DEFAULT_CORPUS_DIR
from indexer.embedding import DEFAULT_MODEL
from indexer.onnx_encoder import onnx_model_file


def refuse_bytes_past(limit: int) -> None:
    """In the child before exec: writes past ``limit`` bytes of a file fail (EFBIG), not kill it."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))


# Builds embed on ONNX Runtime: the model's export, made once in the ONNX cache (outside the folders
# compared below), is there before a run on a full disk, unless a test asks for a cache of its own.
ONNX_CACHE = Path("var/cache/onnx").resolve()


def run_citeqa(
    args: list[str], cwd: Path, full_disk: bool = False, onnx_cache: Path = ONNX_CACHE
) -> subprocess.CompletedProcess[str]:
    """The venv's `citeqa ARGS`; with ``full_disk``, every file it writes stops at 20,000 bytes."""
    onnx_model_file(DEFAULT_MODEL, "onnx", ONNX_CACHE)
    return subprocess.run(
        [str(CITEQA_BIN), *args],
        cwd=cwd,
        env={**cli_env(), "CITEQA_ONNX_CACHE_PATH": str(onnx_cache)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        preexec_fn=(lambda: refuse_bytes_past(20_000)) if full_disk else None,
    )


def test_index_on_a_full_disk_says_so_in_one_line_and_leaves_no_folder(tmp_path: Path) -> None:
    corpus = tmp_path / "docs"
    shutil.copytree(DEFAULT_CORPUS_DIR, corpus)
    args = ["index", "--corpus", str(corpus), "--index", str(tmp_path / "idx")]
    result = run_citeqa(args, tmp_path, full_disk=True)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "│" not in result.stderr  # no (rich) traceback
    error = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1, result.stderr
    assert "the disk refused a write (File too large)" in error[0]
    assert "run the command again" in error[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["docs"]  # no index, no staging folder


def test_index_with_the_model_export_on_a_full_disk_says_so_and_leaves_no_half_file(tmp_path: Path) -> None:
    """The first build on a machine exports the model to ONNX: on a full disk that export fails with the
    disk's reason and what to do, one line, and leaves no half-written file in the cache."""
    corpus = tmp_path / "docs"
    shutil.copytree(DEFAULT_CORPUS_DIR, corpus)
    cache = tmp_path / "onnx"
    args = ["index", "--corpus", str(corpus), "--index", str(tmp_path / "idx")]
    result = run_citeqa(args, tmp_path, full_disk=True, onnx_cache=cache)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "│" not in result.stderr
    error = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1, result.stderr
    assert f"cannot export {DEFAULT_MODEL} to ONNX (onnx) into {cache}" in error[0]
    assert "the disk refused a write (File too large)" in error[0] and "run the command again" in error[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["docs", "onnx"]  # no index
    assert [p for p in cache.rglob("*") if p.is_file()] == []  # no half-written export


def test_index_over_an_index_on_a_full_disk_keeps_the_old_one(tmp_path: Path) -> None:
    corpus = tmp_path / "docs"
    shutil.copytree(DEFAULT_CORPUS_DIR, corpus)
    index = tmp_path / "idx"
    built = run_citeqa(["index", "--corpus", str(corpus), "--index", str(index)], tmp_path)
    assert built.returncode == 0, built.stderr
    before = folder_digest(index)
    (corpus / "extra.txt").write_text("Milia are not contagious. " * 400, encoding="utf-8")
    result = run_citeqa(["index", "--corpus", str(corpus), "--index", str(index)], tmp_path, full_disk=True)
    assert result.returncode == 2, result.stderr
    assert "the disk refused a write" in result.stderr and "Traceback" not in result.stderr
    assert folder_digest(index) == before
    # No staging folder left beside it (idx.lock is the folder's write lock, kept by design).
    assert sorted(p.name for p in tmp_path.iterdir()) == ["docs", "idx", "idx.lock"]
