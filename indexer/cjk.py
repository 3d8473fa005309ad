"""Chinese and Japanese text, which puts no spaces between words: what counts as a word for the chunker
(one character) and as a term for BM25 (overlapping character bigrams, as Lucene's CJKBigramFilter makes
them). Korean writes spaces between words, so Hangul is read as any other script."""

from __future__ import annotations

import re

# Han (with extension A, compatibility ideographs, the supplementary planes and the iteration and
# ideographic marks 々〆〇), Hiragana, Katakana (with its phonetic extensions and the halfwidth forms, which
# the chunker reads unfolded; BM25 reads them after NFKC, as fullwidth).
CJK_CHARS = (
    "\u3005-\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
    "\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff\uff66-\uff9f"
)
# Version 2 of the text rules (indexer.text_rules); before, a word ran between spaces in every script.
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
    a term of its own ("茶", "5月3日" -> "5 月 3 日"), as Lucene's CJKBigramFilter keeps it: the BM25 token
    pattern (indexer.bm25_index.TOKEN_PATTERN) takes one such character where other words need two."""
    return CJK_RUN.sub(_bigrams, text)
