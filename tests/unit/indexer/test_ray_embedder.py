"""The Ray build's embedding actor (indexer.ray_build.Embedder, a plain class Ray Data instantiates): the
model on the backend it is given, ONNX Runtime as `citeqa index` embeds, rows without text left zero."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from indexer.embedding import SentenceTransformerEncoder
from indexer.onnx_encoder import DEFAULT_ONNX_CACHE, OnnxEncoder
from indexer.ray_build import Embedder

TEXTS = np.array(["what are milia", "", "Milia are tiny white bumps under the skin."])


def test_the_embedder_embeds_on_onnx_runtime_when_told_and_leaves_empty_rows_zero(
    encoder: SentenceTransformerEncoder,
) -> None:
    embedder = Embedder(encoder.name, 1, "onnx", str(Path(DEFAULT_ONNX_CACHE).resolve()))
    assert isinstance(embedder.encoder, OnnxEncoder) and embedder.encoder.backend == "onnx"
    batch = {"text": TEXTS, "shard": np.array([0, 1, 2])}
    out = embedder(batch)
    assert np.array_equal(out["shard"], batch["shard"])
    vectors = out["vector"]
    assert vectors.shape == (3, encoder.dimension) and not vectors[1].any()
    torch = encoder.encode([TEXTS[0], TEXTS[2]])
    assert np.sum(vectors[[0, 2]] * torch, axis=1).min() >= 0.9999  # the model's vectors


def test_the_embedder_embeds_on_pytorch_by_default(encoder: SentenceTransformerEncoder) -> None:
    assert isinstance(Embedder(encoder.name, 1).encoder, SentenceTransformerEncoder)
