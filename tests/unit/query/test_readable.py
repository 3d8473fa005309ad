"""citeqa.readable: a question the model's tokenizer reads as unknown tokens is ranked by BM25 in hybrid
mode (found this stop: over three short Chinese files, hybrid put a note on green tea above the one on
pandas for "熊猫吃什么", what do pandas eat, because every simplified Chinese character is [UNK] to
all-MiniLM-L6-v2 and every such question gets the same vector). Real tokenizer, real fusion."""

from __future__ import annotations

import numpy as np
import pytest

from citeqa.fusion import Candidates, FusionSettings
from citeqa.readable import NOTHING_CLOSE, TIE_BREAK_DENSE_WEIGHT, UNREADABLE_SHARE, fusion_for, unknown_share
from indexer.embedding import SentenceTransformerEncoder


@pytest.mark.parametrize(
    ("question", "unreadable"),
    [
        ("熊猫吃什么", True),  # simplified Chinese: five [UNK]
        ("ขนมปังไรย์อบนานเท่าไร", True),  # Thai: one [UNK]
        ("富士山の高さは何メートルですか", False),  # Japanese: most characters are in the vocabulary
        ("Как долго печь ржаной хлеб", False),  # Cyrillic letters are in it
        ("what are milia", False),
        ("naïve café crème brûlée", False),
        ("what are milia 🐧", False),  # one unknown token of five
    ],
)
def test_unknown_share_of_the_packaged_tokenizer(
    encoder: SentenceTransformerEncoder, question: str, unreadable: bool
) -> None:
    assert (unknown_share(encoder.tokenizer, question) >= UNREADABLE_SHARE) is unreadable


def candidates(bm25_ids: list[int]) -> Candidates:
    union = np.arange(4, dtype=np.int64)
    return Candidates(
        np.array([3, 2, 1, 0], dtype=np.int64),
        np.asarray(bm25_ids, dtype=np.int64),
        union,
        np.array([0.1, 0.2, 0.3, 0.4], dtype=np.float32),
        np.array([5.0, 0.0, 0.0, 0.0], dtype=np.float32) if bm25_ids else np.zeros(4, np.float32),
        None,
    )


def test_an_unreadable_question_leaves_the_dense_side_only_to_break_ties(
    encoder: SentenceTransformerEncoder,
) -> None:
    default = FusionSettings()
    found = candidates([0])
    assert fusion_for(encoder.tokenizer, "熊猫吃什么", found, default).dense_weight == TIE_BREAK_DENSE_WEIGHT
    # Readable, BM25 found nothing, or a rank fusion: the configured fusion as it is.
    assert fusion_for(encoder.tokenizer, "what do pandas eat", found, default) == default
    assert fusion_for(encoder.tokenizer, "熊猫吃什么", candidates([]), default) == default
    rrf = FusionSettings(method="rrf")
    assert fusion_for(encoder.tokenizer, "熊猫吃什么", found, rrf) == rrf
    # No tokenizer known (a remote encoder): nothing changes.
    assert fusion_for(None, "熊猫吃什么", found, default) == default


def test_a_question_the_model_finds_nothing_like_is_ranked_by_bm25(
    encoder: SentenceTransformerEncoder,
) -> None:
    """No candidate within NOTHING_CLOSE cosine: the dense scores are noise, BM25 leads (when it found
    something); one passage close enough and the configured fusion stays."""
    default = FusionSettings()
    far = candidates([0])
    far = Candidates(far.dense_ids, far.bm25_ids, far.ids, far.dense_scores * 0.4, far.bm25_scores, None)
    assert float(far.dense_scores.max()) < NOTHING_CLOSE <= float(candidates([0]).dense_scores.max())
    assert fusion_for(encoder.tokenizer, "banneton", far, default).dense_weight == TIE_BREAK_DENSE_WEIGHT
    assert fusion_for(encoder.tokenizer, "banneton", candidates([0]), default) == default
    nothing = Candidates(
        far.dense_ids, far.bm25_ids[:0], far.ids, far.dense_scores, far.bm25_scores * 0, None
    )
    assert fusion_for(encoder.tokenizer, "banneton", nothing, default) == default
    rrf = FusionSettings(method="rrf")
    assert fusion_for(encoder.tokenizer, "banneton", far, rrf) == rrf
