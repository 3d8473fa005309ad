"""Can the model read the question? A question the encoder's tokenizer takes mostly as unknown tokens
(simplified Chinese or Thai with all-MiniLM-L6-v2's English WordPiece vocabulary: "熊猫吃什么" is five
[UNK]) gets one and the same vector whatever it asks, so hybrid ranking, which gives the dense side most
of the weight, would rank passages by noise. For such a question hybrid ranks by BM25, with the dense side
kept only to order near-ties (``fusion_for``), whenever BM25 finds a passage at all. The answer layer
(sentence scores, answerability) still reads the question's vector.

The same holds when the model reads the question but finds nothing like it: when no candidate passage is
within NOTHING_CLOSE cosine of it, the dense scores are noise (min-max fusion would still stretch them over
the dense side's whole weight) and a passage holding the question's rare word, found by BM25 alone, sank
to 94th of 111 for "banneton" over a probe's bread corpus (dense's best cosine 0.19; bm25 ranked it first).
Unrelated questions score about 0 on all-MiniLM-L6-v2; of the 599 labelled answerable questions (seed,
answers, bread, medquad-dev) one has its closest passage below 0.2 ("what is curettage", 0.14, which
BM25 ranks first too), medquad-dev's lowest is 0.42."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from citeqa.fusion import Candidates, FusionSettings

UNREADABLE_SHARE = 0.5  # at least this share of the question's tokens unknown: the model cannot read it
TIE_BREAK_DENSE_WEIGHT = 0.01  # the dense side of an unreadable question only orders near-equal BM25 scores
NOTHING_CLOSE = 0.2  # no candidate passage within this cosine of the question: the model found nothing


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
    """``fusion``, or for a question the model cannot read or finds nothing like (no candidate within
    NOTHING_CLOSE), when BM25 found a passage, the same convex fusion with the dense side reduced to
    ordering near-ties. Rank fusions (RRF) are left as they are."""
    if fusion.method not in ("convex", "convex_minmax") or not len(candidates.bm25_ids):
        return fusion
    if nothing_close(candidates) or unknown_share(tokenizer, question) >= UNREADABLE_SHARE:
        return replace(fusion, dense_weight=TIE_BREAK_DENSE_WEIGHT)
    return fusion


def nothing_close(candidates: Candidates) -> bool:
    """Whether no candidate passage is within NOTHING_CLOSE cosine of the question."""
    scores = candidates.dense_scores
    return bool(len(scores)) and float(np.nanmax(scores)) < NOTHING_CLOSE
