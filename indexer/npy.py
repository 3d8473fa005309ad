"""Reading .npy files from many threads: ``np.load`` parses each file's header with ``ast.literal_eval``,
and CPython 3.11's compiler is not thread-safe (two threads compiling at once can raise "SystemError: AST
constructor recursion depth mismatch"; seen with readers reopening an index while writers commit). So every
load in the index takes one lock; a memory-mapped load holds it for the header only (microseconds)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Literal

import numpy as np

_LOCK = threading.Lock()


def load_npy(path: Path, mmap_mode: Literal["r"] | None = None) -> np.ndarray:
    """``np.load(path, mmap_mode, allow_pickle=False)``, one thread at a time."""
    with _LOCK:
        return np.load(path, mmap_mode=mmap_mode, allow_pickle=False)
