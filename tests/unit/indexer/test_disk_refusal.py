"""Recognising a write the disk refused, whoever raised it: Python's own writers raise OSError with the
errno, FAISS a RuntimeError quoting the C library's text (a real FAISS write past the process's file-size
limit, RLIMIT_FSIZE, which refuses bytes as a full disk does)."""

from __future__ import annotations

import errno
import os
import resource
import signal
from pathlib import Path

import faiss
import numpy as np
import pytest

from indexer.errors import disk_refusal


def test_a_faiss_write_the_disk_refuses_is_recognised(tmp_path: Path) -> None:
    index = faiss.IndexFlatIP(384)
    index.add(np.random.default_rng(0).random((200, 384), dtype=np.float32))
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (10_000, hard))
    try:
        with pytest.raises(RuntimeError) as caught:
            faiss.write_index(index, str(tmp_path / "dense.faiss"))
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)
    assert disk_refusal(caught.value) == os.strerror(errno.EFBIG)


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT, errno.EFBIG])
def test_an_os_error_of_a_full_disk_is_recognised(code: int) -> None:
    assert disk_refusal(OSError(code, os.strerror(code), "segments/x.arrow")) == os.strerror(code)


@pytest.mark.parametrize(
    "error",
    [
        OSError(errno.EACCES, os.strerror(errno.EACCES)),
        FileNotFoundError(errno.ENOENT, "gone"),
        RuntimeError("Error in faiss: bad dimension"),
        ValueError(f"({os.strerror(errno.ENOSPC)})"),
    ],
)
def test_other_errors_are_not_taken_for_a_full_disk(error: BaseException) -> None:
    assert disk_refusal(error) is None
