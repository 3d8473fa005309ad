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


def refuse_bytes_past(limit: int) -> None:
    """In the child before exec: writes past ``limit`` bytes of a file fail (EFBIG), not kill it."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))


def run_citeqa(args: list[str], cwd: Path, full_disk: bool = False) -> subprocess.CompletedProcess[str]:
    """The venv's `citeqa ARGS`; with ``full_disk``, every file it writes stops at 20,000 bytes."""
    return subprocess.run(
        [str(CITEQA_BIN), *args],
        cwd=cwd,
        env=cli_env(),
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
