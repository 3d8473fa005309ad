"""Paired comparison of two systems on the same questions: which questions each wins, by a per-question
metric (reciprocal rank by default), and the mean difference with a 95% bootstrap confidence interval."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import combinations

from eval.metrics import bootstrap_ci


@dataclass(frozen=True)
class PairedComparison:
    a: str
    b: str
    metric: str
    wins: dict[str, tuple[float, float]]  # qid -> (a's value, b's value), where a > b
    losses: dict[str, tuple[float, float]]  # where a < b
    ties: int
    mean_difference: float  # mean of a - b
    ci95: tuple[float, float]  # bootstrap interval of that mean

    def as_json(self) -> dict:
        return {
            "a": self.a,
            "b": self.b,
            "metric": self.metric,
            "a_wins": sorted(self.wins),
            "b_wins": sorted(self.losses),
            "ties": self.ties,
            "mean_difference": self.mean_difference,
            "ci95": list(self.ci95),
        }


def compare_pair(
    a: str, b: str, a_values: Mapping[str, float], b_values: Mapping[str, float], metric: str
) -> PairedComparison:
    """Compare on the questions both were scored on (sorted qids)."""
    qids = sorted(set(a_values) & set(b_values))
    if not qids:
        raise ValueError(f"{a} and {b} share no scored question")
    wins = {q: (a_values[q], b_values[q]) for q in qids if a_values[q] > b_values[q]}
    losses = {q: (a_values[q], b_values[q]) for q in qids if a_values[q] < b_values[q]}
    differences = [a_values[q] - b_values[q] for q in qids]
    mean = sum(differences) / len(differences)
    return PairedComparison(
        a, b, metric, wins, losses, len(qids) - len(wins) - len(losses), mean, bootstrap_ci(differences)
    )


def compare_all(per_query: Mapping[str, Mapping[str, float]], metric: str) -> list[PairedComparison]:
    """Every pair of systems, in the order given (each system against each later one)."""
    return [compare_pair(a, b, per_query[a], per_query[b], metric) for a, b in combinations(per_query, 2)]
