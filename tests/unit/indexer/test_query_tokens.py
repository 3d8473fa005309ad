"""indexer.bm25_index.text_tokens: the same tokens as bm25s.tokenize of the NFKC-folded text (as the index
was built) for questions and sentences of every kind, at a fraction of the cost; a question's tokens are
cached per index and callers cannot change the cached list."""

from __future__ import annotations

import bm25s
import pytest
import Stemmer

from corpus.types import Document
from indexer.bm25_index import TOKEN_PATTERN, Bm25Index, folded, stopword_set, text_tokens

TEXTS = [
    "What are the symptoms of Milia in newborn babies, and how long do they last?",
    "🍞🍞🍞 Bread notes from the bakery 🥖🥐. A dense rye loaf needs a long bake of at least 70 minutes",
    "日本語のテキスト 東京 and Straße İstanbul ÉCOLE naïve café",
    "茶 5月3日 佐々木さん ｶﾀｶﾅ 大熊猫吃什么\uff1f",
    "שלום עולם مرحبا بالعالم e\u0301clair",
    "a I x y",
    "",
    "   \n\t ",
    "don't can't it's the U.S.A. 3.14 e-mail foo_bar __init__ x2 2x",
    "WHAT IS THE CAPITAL OF FRANCE",
]


@pytest.mark.parametrize("stopwords", ["en", "en_plus"])
def test_text_tokens_equal_bm25s_tokenize(stopwords: str, default_documents: list[Document]) -> None:
    stemmer = Stemmer.Stemmer("english")
    texts = TEXTS + [d.text for d in default_documents] + [d.title for d in default_documents]
    expected = bm25s.tokenize(  # the index reads texts folded to NFKC (indexer.bm25_index.folded)
        [folded(t) for t in texts],
        stopwords=stopwords,
        stemmer=stemmer,
        return_ids=False,
        token_pattern=TOKEN_PATTERN.pattern,
        show_progress=False,
    )
    assert [text_tokens(t, stopword_set(stopwords), stemmer) for t in texts] == expected


def test_query_tokens_are_cached_per_index_and_safe_to_change() -> None:
    index = Bm25Index.build(["Milia are tiny white bumps.", "A dense rye loaf needs a long bake."])
    question = "what are milia bumps and croissants?"
    stemmer = Stemmer.Stemmer("english")
    tokens = bm25s.tokenize(question, stopwords="en", stemmer=stemmer, return_ids=False, show_progress=False)[
        0
    ]
    expected = [t for t in tokens if index.has_term(t)]  # the stems the index knows: not croissants
    first = index.query_tokens(question)
    assert first == expected == ["milia", "bump"]
    first.append("changed")
    assert index.query_tokens(question) == expected
