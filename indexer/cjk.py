"""Chinese and Japanese text, which puts no spaces between words: what counts as a word for the chunker
(one character) and as a term for BM25 (overlapping character bigrams, as Lucene's CJKBigramFilter makes
them). Korean writes spaces between words, so Hangul is read as any other script."""

from __future__ import annotations

import re

# Han (with extension A, compatibility ideographs and the supplementary planes), Hiragana, Katakana
# (with its phonetic extensions and the halfwidth forms NFKC does not fold away).
CJK_CHARS = (
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
    "\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff\uff66-\uff9f"
)
CJK_RUN = re.compile(f"[{CJK_CHARS}]+")
# A sentence of these scripts ends at an ideographic full stop, or a fullwidth ! or ?, with no space after.
CJK_SENTENCE_STOPS = "\u3002\uff01\uff1f\uff61"
# Closing quotes and brackets that may follow such a stop and belong to the sentence.
CJK_CLOSERS = "\u300d\u300f\uff09\u3011\u3009\u300b"


def _bigrams(match: re.Match[str]) -> str:
    run = match.group()
    if len(run) == 1:
        return f" {run} "
    return " " + " ".join(run[i : i + 2] for i in range(len(run) - 1)) + " "


def cjk_bigrams(text: str) -> str:
    """``text`` with each run of Chinese or Japanese characters written as its overlapping bigrams, set
    apart by spaces ("使用编程" -> " 使用 用编 编程 "); other text is unchanged. A lone character stays
    as it is (BM25's tokens are two or more word characters, so it is not indexed, as a one-letter word
    is not)."""
    return CJK_RUN.sub(_bigrams, text)
