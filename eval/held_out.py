"""The held-out part of every labelled set and bootstrap intervals of shares, for the answer measures.

A quarter of every set, chosen by a hash of the set's name and the question's id (so fixed before any
fitting, and the same in every command), is kept out of all tuning: fitting (eval.answer_fit) never sees
it, and reports show it apart.
"""

from __future__ import annotations

import hashlib

import numpy as np

HELD_OUT_BUCKETS = 4  # one bucket in four is held out
BOOTSTRAP = 2000


def is_held_out(set_name: str, qid: str) -> bool:
    digest = hashlib.sha256(f"{set_name}:{qid}".encode()).hexdigest()
    return int(digest[:8], 16) % HELD_OUT_BUCKETS == 0


def bootstrap_interval(values: np.ndarray, seed: int = 0) -> tuple[float, float]:
    """95% percentile bootstrap interval of the mean of ``values`` (resampling the questions)."""
    if not len(values):
        return (0.0, 0.0)
    rng = np.random.default_rng(seed)
    means = rng.choice(np.asarray(values, dtype=np.float64), size=(BOOTSTRAP, len(values))).mean(axis=1)
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))
