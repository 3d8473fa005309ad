"""A linear query adapter: the question's vector becomes normalize(W q) before search.

Passage and sentence vectors are untouched (no re-indexing); only the vector of the question, computed in
one place (Searcher.encode_question), is mapped. W is a float32 .npy file with a JSON sidecar beside it
(same name, .json) naming the model it was fitted for, its dimension, the command and data that produced
it, its cross-validated numbers and the file's sha256; see eval/adapter_fit.py and eval/adapter_sweep.md.
A W fitted for one model is meaningless for another, so it is refused for any other model (the packaged
default, fitted for the default model, is simply off for other models: see service.wiring).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from citeqa.errors import CiteqaError

# Fitted for the default model on medquad-dev (its sidecar says how, and its cross-validated numbers).
DEFAULT_QUERY_ADAPTER_PATH = Path(__file__).resolve().parent / "query_adapter.npy"


class QueryAdapterError(CiteqaError):
    """The configured query adapter cannot be used (missing, corrupt, or for another model)."""


@dataclass(frozen=True)
class QueryAdapter:
    """W [d, d] and the model it was fitted for."""

    matrix: np.ndarray
    model: str
    path: Path

    @cached_property
    def checksum(self) -> str:
        """sha256 of W's float32 bytes: what a cache validator (ETag) keys on."""
        return hashlib.sha256(np.ascontiguousarray(self.matrix, dtype=np.float32).tobytes()).hexdigest()

    def apply(self, vector: np.ndarray) -> np.ndarray:
        """normalize(W q) of one question vector (float32, unit length)."""
        adapted = self.matrix @ np.asarray(vector, dtype=np.float32)
        norm = float(np.linalg.norm(adapted))
        return (adapted / max(norm, 1e-12)).astype(np.float32)


def sidecar_path(path: Path) -> Path:
    return Path(path).with_suffix(".json")


def adapter_model(path: Path) -> str | None:
    """The model named by the sidecar of ``path``, or None when it cannot be read."""
    try:
        return str(json.loads(sidecar_path(path).read_text(encoding="utf-8"))["model"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def load_query_adapter(path: Path, model: str, dimension: int) -> QueryAdapter:
    """The adapter at ``path`` for ``model`` (vectors of ``dimension``); QueryAdapterError with what to do
    when the file or its sidecar is missing or corrupt, or it was fitted for another model."""
    path = Path(path)
    fix = "set CITEQA_QUERY_ADAPTER_PATH to an adapter fitted for this model, or empty to turn it off"
    try:
        meta = json.loads(sidecar_path(path).read_text(encoding="utf-8"))
        data = path.read_bytes()
    except (OSError, ValueError) as err:
        raise QueryAdapterError(
            f"cannot read query adapter {path} and its .json sidecar: {err}; {fix}"
        ) from None
    if meta.get("model") != model:
        raise QueryAdapterError(
            f"query adapter {path} was fitted for model {meta.get('model')!r}, not the configured {model!r}; "
            f"{fix}"
        )
    if meta.get("sha256") != hashlib.sha256(data).hexdigest():
        raise QueryAdapterError(f"query adapter {path} does not match the checksum in its sidecar; {fix}")
    matrix = np.load(path, allow_pickle=False)
    if matrix.shape != (dimension, dimension) or not np.all(np.isfinite(matrix)):
        raise QueryAdapterError(
            f"query adapter {path} holds a {matrix.shape} matrix; the model's vectors have {dimension} "
            f"dimensions; {fix}"
        )
    return QueryAdapter(np.ascontiguousarray(matrix, dtype=np.float32), model, path)
