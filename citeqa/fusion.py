"""Rank fusion of a dense and a BM25 candidate list, as pure functions over arrays.

Each ranked output is (ids, scores) best first, ties broken by id. The methods:

- ``rrf``: sum over both lists of 1 / (k + rank) (plain reciprocal-rank fusion).
- ``weighted_rrf``: dense_weight / (k + dense rank) + (1 - dense_weight) / (k + BM25 rank).
- ``convex``: dense_weight * z(dense) + (1 - dense_weight) * z(BM25), each score z-scored per query over the
  union of both candidate lists (every passage of the union carries both of its exact scores).
- ``convex_minmax``: the same with min-max scaling to [0, 1] instead of z-scores.

The default (convex_minmax, weight 0.8 on dense, over the top 100 of each list) was chosen by 5-fold
cross-validation over the medquad-dev questions on the default passages (120 words, overlap 30, title
embedded and indexed by BM25), and checked on the seed set: see eval/fusion_sweep.md. Plain RRF (k=60)
stays available; on medquad-dev it ranks below dense alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

FusionMethod = Literal["rrf", "weighted_rrf", "convex", "convex_minmax"]
FUSION_METHODS: tuple[FusionMethod, ...] = get_args(FusionMethod)


@dataclass(frozen=True)
class FusionSettings:
    """How hybrid search fuses; ``candidates`` is the depth of each list that the fusion sees."""

    method: FusionMethod = "convex_minmax"
    rrf_k: float = 60.0
    dense_weight: float = 0.8
    candidates: int = 100
    # Sentence-level evidence (convex methods): the share of the dense term given to each passage's best
    # sentence (its stored sentence vectors, see indexer.sentences) instead of the passage vector.
    sentence_weight: float = 0.0

    def __post_init__(self) -> None:
        if self.method not in FUSION_METHODS:
            raise ValueError(f"unknown fusion method {self.method!r}; use one of {', '.join(FUSION_METHODS)}")
        if not 0.0 <= self.dense_weight <= 1.0:
            raise ValueError("dense_weight must be in [0, 1]")
        if self.rrf_k <= 0 or self.candidates < 1:
            raise ValueError("rrf_k must be positive and candidates at least 1")
        if not 0.0 <= self.sentence_weight <= 1.0:
            raise ValueError("sentence_weight must be in [0, 1]")
        if self.sentence_weight and self.method not in ("convex", "convex_minmax"):
            raise ValueError("sentence_weight applies to the convex fusion methods only")

    def label(self) -> str:
        """A short description, e.g. ``convex w=0.80`` or ``rrf k=60``."""
        if self.method == "rrf":
            return f"rrf k={self.rrf_k:g}"
        if self.method == "weighted_rrf":
            return f"weighted_rrf w={self.dense_weight:.3g} k={self.rrf_k:g}"
        sentences = f" s={self.sentence_weight:.3g}" if self.sentence_weight else ""
        return f"{self.method} w={self.dense_weight:.3g}{sentences}"


@dataclass(frozen=True)
class Candidates:
    """One query's candidates: both ranked lists, and both exact scores of every passage in their union.

    ``ids`` is the sorted union of ``dense_ids`` and ``bm25_ids``; ``dense_scores`` and ``bm25_scores``
    are aligned with ``ids``.
    """

    dense_ids: np.ndarray
    bm25_ids: np.ndarray
    ids: np.ndarray
    dense_scores: np.ndarray
    bm25_scores: np.ndarray
    # Each passage's best sentence score (aligned with ``ids``; NaN where none is stored), when asked for.
    sentence_scores: np.ndarray | None = None

    def head(self, depth: int) -> Candidates:
        """The candidates of the first ``depth`` passages of each list."""
        dense_ids, bm25_ids = self.dense_ids[:depth], self.bm25_ids[:depth]
        keep = self.members(dense_ids) | self.members(bm25_ids)
        sentences = None if self.sentence_scores is None else self.sentence_scores[keep]
        return Candidates(
            dense_ids, bm25_ids, self.ids[keep], self.dense_scores[keep], self.bm25_scores[keep], sentences
        )

    def members(self, some: np.ndarray) -> np.ndarray:
        """A mask over ``ids`` of those in ``some`` (a subset of them): ``np.isin`` without sorting, as
        ``ids`` is sorted and unique."""
        mask = np.zeros(len(self.ids), dtype=bool)
        mask[np.searchsorted(self.ids, some)] = True
        return mask

    def sentence_or_dense(self) -> np.ndarray:
        """The best sentence score of each candidate, its passage's dense score where it has none."""
        if self.sentence_scores is None:
            return self.dense_scores
        return np.where(np.isnan(self.sentence_scores), self.dense_scores, self.sentence_scores)


def sort_by_score(ids: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.lexsort((ids, -scores))
    return ids[order], scores[order]


def reciprocal_rank_fusion(
    rankings: list[np.ndarray], k: float = 60.0, weights: list[float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Score of an id = sum over rankings of weight / (k + rank), rank starting at 1 (weights default 1)."""
    weights = weights if weights is not None else [1.0] * len(rankings)
    totals: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, passage_id in enumerate(ranking.tolist(), 1):
            totals[passage_id] = totals.get(passage_id, 0.0) + weight / (k + rank)
    ids = np.fromiter(totals.keys(), dtype=np.int64, count=len(totals))
    scores = np.fromiter(totals.values(), dtype=np.float64, count=len(totals))
    return sort_by_score(ids, scores)


def zscore(values: np.ndarray) -> np.ndarray:
    std = values.std()
    return (values - values.mean()) / std if std > 0 else np.zeros_like(values)


def minmax(values: np.ndarray) -> np.ndarray:
    """Scale to [0, 1]; a constant vector becomes zeros."""
    if values.size == 0:
        return values
    span = values.max() - values.min()
    return (values - values.min()) / span if span > 0 else np.zeros_like(values)


def convex_fusion(
    ids: np.ndarray,
    dense_scores: np.ndarray,
    bm25_scores: np.ndarray,
    dense_weight: float,
    normalize: Literal["z", "minmax"] = "z",
) -> tuple[np.ndarray, np.ndarray]:
    """Fuse two score vectors over the same candidate ids, each normalized per query."""
    scale = zscore if normalize == "z" else minmax
    fused = dense_weight * scale(dense_scores.astype(np.float64)) + (1.0 - dense_weight) * scale(
        bm25_scores.astype(np.float64)
    )
    return sort_by_score(ids.astype(np.int64), fused)


def fuse(candidates: Candidates, settings: FusionSettings) -> tuple[np.ndarray, np.ndarray]:
    """All candidates ranked by ``settings.method``."""
    c, w = candidates, settings.dense_weight
    if settings.method == "rrf":
        return reciprocal_rank_fusion([c.dense_ids, c.bm25_ids], settings.rrf_k)
    if settings.method == "weighted_rrf":
        return reciprocal_rank_fusion([c.dense_ids, c.bm25_ids], settings.rrf_k, [w, 1.0 - w])
    normalize: Literal["z", "minmax"] = "z" if settings.method == "convex" else "minmax"
    if settings.sentence_weight:
        return sentence_fusion(c, w, settings.sentence_weight, normalize)
    return convex_fusion(c.ids, c.dense_scores, c.bm25_scores, w, normalize)


def sentence_fusion(
    candidates: Candidates, dense_weight: float, sentence_weight: float, normalize: Literal["z", "minmax"]
) -> tuple[np.ndarray, np.ndarray]:
    """dense_weight * ((1 - s) * n(passage cosine) + s * n(best sentence cosine)) + (1 - dense_weight) *
    n(BM25), each normalized per query over the candidates (a passage matched by one sentence rises)."""
    scale = zscore if normalize == "z" else minmax
    c = candidates
    dense = (1.0 - sentence_weight) * scale(c.dense_scores.astype(np.float64)) + sentence_weight * scale(
        c.sentence_or_dense().astype(np.float64)
    )
    fused = dense_weight * dense + (1.0 - dense_weight) * scale(c.bm25_scores.astype(np.float64))
    return sort_by_score(c.ids.astype(np.int64), fused)


def fuse_ranking(
    candidates: Candidates, settings: FusionSettings, top_k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The first ``top_k`` fused passages, always headed by the fusion of the top-``settings.candidates``
    lists, so a deep request (an evaluation) ranks its head exactly as the service does.

    Past that head, the fusion of the full (deeper) lists continues the ranking, its scores shifted
    below the head's so that the scores stay best first.
    """
    head_ids, head_scores = fuse(candidates.head(settings.candidates), settings)
    deeper = max(len(candidates.dense_ids), len(candidates.bm25_ids)) > settings.candidates
    if top_k <= len(head_ids) or not deeper:
        return head_ids[:top_k], head_scores[:top_k]
    deep_ids, deep_scores = fuse(candidates, settings)
    tail = ~np.isin(deep_ids, head_ids)
    tail_ids, tail_scores = deep_ids[tail], deep_scores[tail]
    if len(tail_scores) and len(head_scores):
        tail_scores = tail_scores - (tail_scores[0] - head_scores[-1]) - 1.0
    ids = np.concatenate([head_ids, tail_ids])[:top_k]
    return ids, np.concatenate([head_scores, tail_scores])[:top_k]
