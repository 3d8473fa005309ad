"""Can the model read the question? A question the encoder's tokenizer takes mostly as unknown tokens
(simplified Chinese or Thai with all-MiniLM-L6-v2's English WordPiece vocabulary: "熊猫吃什么" is five
[UNK]) gets one and the same vector whatever it asks, so hybrid ranking, which gives the dense side most
of the weight, would rank passages by noise. For such a question hybrid ranks by BM25, with the dense side
kept only to order near-ties (``fusion_for``), whenever BM25 finds a passage at all. The answer layer
(sentence scores, answerability) still reads the question's vector."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from citeqa.fusion import Candidates, FusionSettings

UNREADABLE_SHARE = 0.5  # at least this share of the question's tokens unknown: the model cannot read it
TIE_BREAK_DENSE_WEIGHT = 0.01  # the dense side of an unreadable question only orders near-equal BM25 scores


def unknown_share(tokenizer: Any, question: str) -> float:
    """The share of the question's tokens (special tokens aside) that ``tokenizer`` does not know: 0 for a
    tokenizer without an unknown token, and for ASCII text (which every WordPiece or BPE vocabulary of the
    sentence-transformers models spells), without tokenizing."""
    unknown = getattr(tokenizer, "unk_token_id", None)
    if unknown is None or question.isascii():
        return 0.0
    ids = tokenizer(question, add_special_tokens=False)["input_ids"]
    return sum(1 for i in ids if i == unknown) / len(ids) if ids else 0.0


def fusion_for(
    tokenizer: Any, question: str, candidates: Candidates, fusion: FusionSettings
) -> FusionSettings:
    """``fusion``, or for a question the model cannot read (and BM25 can: it found a passage) the same
    convex fusion with the dense side reduced to ordering near-ties. Rank fusions (RRF) are left as they
    are."""
    if fusion.method not in ("convex", "convex_minmax") or not len(candidates.bm25_ids):
        return fusion
    if unknown_share(tokenizer, question) < UNREADABLE_SHARE:
        return fusion
    return replace(fusion, dense_weight=TIE_BREAK_DENSE_WEIGHT)
