"""Optional cross-encoder reranking of the head of the fused (hybrid) ranking.

A cross-encoder reads the question and a passage together and returns one relevance score: slower than
the bi-encoder (one model pass per passage), usually more accurate. Any sentence-transformers CrossEncoder
saved as a local folder works, e.g. cross-encoder/ms-marco-MiniLM-L6-v2 downloaded on a machine with
internet access and copied over; no reranker is packaged, and none is downloaded at run time.

Hybrid search fuses as usual, then the first ``depth`` fused passages are scored by the cross-encoder
and returned by that score, best first (ties by passage id); a deeper request (a search box paging
through the best 200) continues with the fused order below them. The scores are the model's
(floats, higher is better; for a one-label model sentence-transformers applies a sigmoid, so in (0, 1)).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from citeqa.errors import RerankerError
from citeqa.fusion import sort_by_score

DEFAULT_RERANK_DEPTH = 20


class Reranker(Protocol):
    depth: int

    def rerank(self, question: str, ids: np.ndarray, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(ids, scores) of the given passages reordered by relevance to ``question``, best first."""
        ...


def rerank_order(ids: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Passages by reranker score, best first, ties by passage id."""
    return sort_by_score(np.asarray(ids, dtype=np.int64), np.asarray(scores, dtype=np.float64))


class CrossEncoderReranker:
    """A sentence-transformers CrossEncoder loaded from a local folder, on the CPU."""

    def __init__(self, path: Path | str, depth: int = DEFAULT_RERANK_DEPTH, batch_size: int = 32) -> None:
        from sentence_transformers import CrossEncoder

        path = Path(path)
        if depth < 1:
            raise RerankerError(f"rerank depth must be at least 1, got {depth}")
        if not (path / "config.json").is_file():
            raise RerankerError(
                f"reranker folder {path} has no config.json; set CITEQA_RERANKER to the folder of a "
                "sentence-transformers CrossEncoder (e.g. a copy of cross-encoder/ms-marco-MiniLM-L6-v2), "
                "or unset it to search without reranking"
            )
        try:
            self._model = CrossEncoder(str(path), device="cpu", local_files_only=True)
        except (OSError, ValueError) as err:
            raise RerankerError(f"cannot load the cross-encoder at {path}: {err}") from None
        self.name = str(path)
        self.depth = depth
        self.batch_size = batch_size

    def scores(self, question: str, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.empty(0, dtype=np.float64)
        pairs = [(question, text) for text in texts]
        raw = self._model.predict(pairs, batch_size=self.batch_size, show_progress_bar=False)
        scores = np.asarray(raw, dtype=np.float64)
        if scores.ndim != 1:
            raise RerankerError(
                f"the cross-encoder at {self.name} returns {scores.shape[-1]} scores per pair; "
                "a reranker needs a model with one output label"
            )
        return scores

    def rerank(self, question: str, ids: np.ndarray, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        return rerank_order(ids, self.scores(question, texts))


__all__ = ["CrossEncoderReranker", "Reranker", "RerankerError", "rerank_order"]
