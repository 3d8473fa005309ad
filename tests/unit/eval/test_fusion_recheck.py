"""eval.fusion_recheck's pure parts: the grid it scores and the paired table it reports."""

from __future__ import annotations

from citeqa.fusion import FusionSettings
from eval.fusion_recheck import DENSE_WEIGHTS, SENTENCE_WEIGHTS, grid, paired_table, seed_table


def test_the_grid_starts_with_the_service_fusion_and_varies_one_weight_at_a_time() -> None:
    base = FusionSettings(method="convex_minmax", dense_weight=0.8)
    configs = grid(base)
    assert configs[0].fusion == base and configs[0].name == "w=0.8 (default)"
    weights = [c.fusion.dense_weight for c in configs if c.fusion.sentence_weight == 0]
    assert sorted(weights) == sorted(DENSE_WEIGHTS) and weights.count(0.8) == 1
    sentence = [c for c in configs if c.fusion.sentence_weight]
    assert [c.fusion.sentence_weight for c in sentence] == list(SENTENCE_WEIGHTS)
    assert all(c.fusion.dense_weight == 0.8 and c.fusion.method == "convex_minmax" for c in sentence)
    assert len({c.name for c in configs}) == len(configs)


def test_the_paired_table_gives_means_spreads_and_paired_differences_to_the_first() -> None:
    per_fold = {
        "base": [{"ndcg@10": 0.5, "mrr@10": 0.4}, {"ndcg@10": 0.7, "mrr@10": 0.6}],
        "other": [{"ndcg@10": 0.6, "mrr@10": 0.4}, {"ndcg@10": 0.6, "mrr@10": 0.8}],
    }
    table = paired_table(per_fold, ("ndcg@10", "mrr@10")).splitlines()
    assert table[0].startswith("| configuration | ndcg@10 | mrr@10 | paired Δ ndcg@10 vs base")
    assert table[2] == "| base | 0.6000 ± 0.1414 | 0.5000 ± 0.1414 | +0.0000 ± 0.0000 | 0/2 |"
    # other - base per fold: +0.1, -0.1 -> mean 0, sample std 0.1414; better in one fold of two.
    assert table[3] == "| other | 0.6000 ± 0.0000 | 0.6000 ± 0.2828 | +0.0000 ± 0.1414 | 1/2 |"


def test_the_seed_table_has_a_row_per_configuration() -> None:
    rows = {"a": {"hit@1": 0.6, "mrr@10": 0.75}, "b": {"hit@1": 0.65, "mrr@10": 0.7}}
    assert seed_table(rows, ("hit@1", "mrr@10")).splitlines()[2:] == [
        "| a | 0.600 | 0.750 |",
        "| b | 0.650 | 0.700 |",
    ]
