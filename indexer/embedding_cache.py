"""A cache of passage embeddings, keyed by sha256(model name + NUL + embedded text), in open formats.

Layout, one folder per model under the cache folder (default ``var/cache/embeddings``):

    FOLDER/<model-slug>/<segment>.vectors.npy   float32 matrix, one row per text
    FOLDER/<model-slug>/<segment>.keys.npy      the rows' keys (64 hex characters each), same order

Every ``embed`` call that embeds something new adds one segment. Both files are written to a temporary
name and moved into place with os.replace, vectors first: the keys file is the commit mark, so a crash
leaves either a whole segment or one that is ignored. Nothing is pickled (np.load(allow_pickle=False)).
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from indexer.embedding import Encoder, embed_batches
from indexer.npy import load_npy

DEFAULT_CACHE_DIR = Path("var/cache/embeddings")
KEYS_SUFFIX = ".keys.npy"
VECTORS_SUFFIX = ".vectors.npy"


def text_key(model: str, text: str) -> str:
    """The cache key of ``text`` embedded by ``model``."""
    return hashlib.sha256(f"{model}\0{text}".encode()).hexdigest()


def model_folder_name(model: str) -> str:
    """A readable, collision-free folder name for a model name or path."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", model).strip("_")[-60:]
    return f"{readable}-{hashlib.sha256(model.encode()).hexdigest()[:12]}"


def save_atomic(path: Path, array: np.ndarray) -> None:
    """Write ``array`` as .npy to a temporary sibling, fsync, and move it into place."""
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}-{time.time_ns()}")
    try:
        with temporary.open("wb") as out:
            np.save(out, array, allow_pickle=False)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


class EmbeddingCache:
    """Embeddings by (model, text); ``hits`` and ``misses`` count texts served from and added to it."""

    def __init__(self, folder: Path = DEFAULT_CACHE_DIR) -> None:
        self.folder = Path(folder)
        self.hits = 0
        self.misses = 0
        self._rows: dict[str, dict[str, np.ndarray]] = {}

    def model_dir(self, model: str) -> Path:
        return self.folder / model_folder_name(model)

    def lookup(self, model: str, dimension: int) -> dict[str, np.ndarray]:
        """Key -> vector of every cached embedding of ``model`` (loaded once per cache object)."""
        if model not in self._rows:
            self._rows[model] = self._load(self.model_dir(model), dimension)
        return self._rows[model]

    def embed(
        self,
        encoder: Encoder,
        texts: Sequence[str],
        batch_size: int = 64,
        on_batch: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Vectors of ``texts`` in order: cached ones read, the others embedded (each distinct text once)
        and added to the cache as one new segment."""
        keys = [text_key(encoder.name, text) for text in texts]
        known = self.lookup(encoder.name, encoder.dimension)
        todo = list(dict.fromkeys(key for key in keys if key not in known))
        cached = len(keys) - sum(key not in known for key in keys)
        if on_batch is not None and cached:
            on_batch(cached)
        if todo:
            first_text = {key: text for key, text in zip(keys, texts, strict=True)}
            vectors = embed_batches(encoder, [first_text[key] for key in todo], batch_size, on_batch)
            self._store(encoder.name, todo, vectors)
            known.update(zip(todo, vectors, strict=True))
        repeats = len(keys) - cached - len(todo)
        if on_batch is not None and repeats:
            on_batch(repeats)
        out = np.empty((len(texts), encoder.dimension), dtype=np.float32)
        for row, key in enumerate(keys):
            out[row] = known[key]
        self.hits += cached
        self.misses += len(todo)
        return out

    def _store(self, model: str, keys: list[str], vectors: np.ndarray) -> None:
        folder = self.model_dir(model)
        folder.mkdir(parents=True, exist_ok=True)
        name = hashlib.sha256("".join(keys).encode()).hexdigest()[:24]
        save_atomic(folder / f"{name}{VECTORS_SUFFIX}", np.ascontiguousarray(vectors, dtype=np.float32))
        save_atomic(folder / f"{name}{KEYS_SUFFIX}", np.asarray(keys, dtype="<U64"))

    @staticmethod
    def _load(folder: Path, dimension: int) -> dict[str, np.ndarray]:
        """Every whole segment in ``folder`` whose vectors have ``dimension`` columns; others are skipped."""
        rows: dict[str, np.ndarray] = {}
        for keys_path in sorted(folder.glob(f"*{KEYS_SUFFIX}")):
            vectors_path = keys_path.with_name(keys_path.name.removesuffix(KEYS_SUFFIX) + VECTORS_SUFFIX)
            try:
                keys = load_npy(keys_path)
                vectors = load_npy(vectors_path)
            except (OSError, ValueError):
                continue
            if vectors.ndim != 2 or vectors.shape != (len(keys), dimension) or vectors.dtype != np.float32:
                continue
            rows.update(zip(keys.tolist(), vectors, strict=True))
        return rows
