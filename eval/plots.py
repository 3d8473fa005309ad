"""PNG plots of an evaluation, drawn with matplotlib's object API (no pyplot state, no display needed).

- ``recall_curves``: Recall@k for k = 1..k_max per mode, where a question counts at k when a gold passage is
  in its top k (hit@k; "Recall@k" in the project's issue), from each question's rank of its first gold hit.
- ``confidence_distributions``: the confidence of answerable vs unanswerable questions, with the threshold
  that separates them; the caller supplies the arrays.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

MODE_STYLES = {
    "hybrid": {"color": "#1b6ca8", "marker": "o"},
    "dense": {"color": "#e07b00", "marker": "s"},
    "bm25": {"color": "#3a9d23", "marker": "^"},
}
DPI = 150


def recall_at_k_curve(first_ranks: Sequence[int | None], k_max: int) -> np.ndarray:
    """Share of questions whose first gold rank is <= k, for k = 1..k_max (None: not found)."""
    if not first_ranks:
        raise ValueError("no questions to plot")
    ranks = np.asarray([r if r is not None else np.inf for r in first_ranks], dtype=np.float64)
    return np.asarray([(ranks <= k).mean() for k in range(1, k_max + 1)])


def recall_curves(
    first_ranks: Mapping[str, Sequence[int | None]], path: Path, k_max: int = 10, title: str = ""
) -> Path:
    """Plot Recall@k (k = 1..k_max) of each mode into ``path`` (PNG)."""
    figure = Figure(figsize=(7.5, 5), layout="constrained")
    axes = figure.add_subplot()
    ks = np.arange(1, k_max + 1)
    questions = 0
    for mode, ranks in first_ranks.items():
        curve = recall_at_k_curve(ranks, k_max)
        questions = len(ranks)
        style = MODE_STYLES.get(mode, {})
        axes.plot(
            ks,
            curve,
            linewidth=2,
            markersize=6,
            label=f"{mode} (R@5 = {curve[min(4, k_max - 1)]:.2f})",
            **style,
        )
    axes.set_xlabel("k (passages returned)", fontsize=12)
    axes.set_ylabel("Recall@k\n(share of questions with a gold passage in the top k)", fontsize=11)
    axes.set_title(title or f"Recall@k by search mode ({questions} questions)", fontsize=13)
    axes.set_xticks(ks)
    axes.set_xlim(0.7, k_max + 0.3)
    axes.set_ylim(0, 1.02)
    axes.grid(True, alpha=0.3)
    axes.legend(loc="lower right", fontsize=11, title="mode", title_fontsize=11)
    return save(figure, path)


def confidence_distributions(
    answerable: Sequence[float] | np.ndarray,
    unanswerable: Sequence[float] | np.ndarray,
    threshold: float,
    path: Path,
    title: str = "",
    bins: int = 20,
) -> Path:
    """Overlaid histograms of the confidence of answerable and of unanswerable questions (in [0, 1]), with a
    vertical line at ``threshold`` (questions below it are declared unanswerable)."""
    answerable = np.asarray(answerable, dtype=np.float64)
    unanswerable = np.asarray(unanswerable, dtype=np.float64)
    if not answerable.size or not unanswerable.size:
        raise ValueError("need at least one answerable and one unanswerable confidence")
    values = np.concatenate([answerable, unanswerable])
    if not np.isfinite(values).all() or values.min() < 0 or values.max() > 1:
        raise ValueError("confidences must be finite numbers in [0, 1]")
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    figure = Figure(figsize=(7.5, 5), layout="constrained")
    axes = figure.add_subplot()
    edges = np.linspace(0.0, 1.0, bins + 1)
    kept = (answerable >= threshold).mean()
    rejected = (unanswerable < threshold).mean()
    counts_a, _, _ = axes.hist(
        answerable,
        bins=edges,
        alpha=0.6,
        color="#1b6ca8",
        edgecolor="white",
        label=f"answerable (n={answerable.size}; {kept:.0%} at or above threshold)",
    )
    counts_u, _, _ = axes.hist(
        unanswerable,
        bins=edges,
        alpha=0.6,
        color="#c0392b",
        edgecolor="white",
        label=f"unanswerable (n={unanswerable.size}; {rejected:.0%} below threshold)",
    )
    axes.axvline(threshold, color="black", linestyle="--", linewidth=2, label=f"threshold = {threshold:.2f}")
    axes.set_xlabel("confidence", fontsize=12)
    axes.set_ylabel("questions", fontsize=12)
    axes.set_xlim(0, 1)
    axes.set_ylim(0, max(counts_a.max(), counts_u.max()) * 1.45 + 0.5)  # room for the legend above the bars
    axes.set_title(title or "Confidence of answerable vs unanswerable questions", fontsize=13)
    axes.grid(True, axis="y", alpha=0.3)
    axes.legend(loc="upper center", fontsize=10)
    return save(figure, path)


def save(figure: Figure, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=DPI)
    return path
