"""Rank fusion of a dense and a BM25 candidate list, as pure functions over arrays.

Each input is (ids, scores) best first; the output is (ids, scores) best first, ties broken by id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

FusionMethod = Literal["rrf", "convex"]


@dataclass(frozen=True)
class FusionSettings:
    """``rrf``: sum of 1/(k + rank). ``convex``: weight * z(dense) + (1 - weight) * z(bm25), z-scored
    per query over the union of both candidate lists (a passage missing from a list gets that
    list's own score for it when known, else the list's minimum)."""

    method: FusionMethod = "rrf"
    rrf_k: float = 60.0
    dense_weight: float = 0.5
    candidates: int = 100


def sort_by_score(ids: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.lexsort((ids, -scores))
    return ids[order], scores[order]


def reciprocal_rank_fusion(rankings: list[np.ndarray], k: float = 60.0) -> tuple[np.ndarray, np.ndarray]:
    """Score of an id = sum over rankings of 1 / (k + rank), rank starting at 1."""
    totals: dict[int, float] = {}
    for ranking in rankings:
        for rank, passage_id in enumerate(ranking.tolist(), 1):
            totals[passage_id] = totals.get(passage_id, 0.0) + 1.0 / (k + rank)
    ids = np.fromiter(totals.keys(), dtype=np.int64, count=len(totals))
    scores = np.fromiter(totals.values(), dtype=np.float64, count=len(totals))
    return sort_by_score(ids, scores)


def zscore(values: np.ndarray) -> np.ndarray:
    std = values.std()
    return (values - values.mean()) / std if std > 0 else np.zeros_like(values)


def convex_fusion(
    ids: np.ndarray, dense_scores: np.ndarray, bm25_scores: np.ndarray, dense_weight: float
) -> tuple[np.ndarray, np.ndarray]:
    """Fuse two score vectors over the same candidate ids (z-scored per query)."""
    fused = dense_weight * zscore(dense_scores.astype(np.float64)) + (1.0 - dense_weight) * zscore(
        bm25_scores.astype(np.float64)
    )
    return sort_by_score(ids.astype(np.int64), fused)
