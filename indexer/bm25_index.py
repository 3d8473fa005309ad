"""BM25 over passages with bm25s: English stopwords and the Snowball stemmer (PyStemmer)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import bm25s
import numpy as np
import Stemmer

from indexer.cjk import CJK_CHARS, cjk_bigrams
from indexer.lru import LRU
from indexer.text_rules import INVISIBLE_IN_WORDS, MARK_CHARS, spaceless_bigrams

STOPWORDS = "en"
STEMMER_LANGUAGE = "english"
QUERY_TOKENS_CACHED = 4096  # questions whose tokens are kept
# ... if at most this long: a question may hold 10,000 characters, and 4,096 such kept about 66-110 KiB
# of tokens each (hundreds of MB); a usual question is under 200 characters.
QUERY_TOKENS_CACHED_CHARS = 1_000
# bm25s.tokenize's default (scikit-learn's: words of two or more word characters, \b\w\w+\b, which
# findall reads as \w\w+) with the combining marks a word holds after its first letter (indexer.text_rules:
# Hindi, Tamil, Thai, pointed Hebrew), and a lone Chinese or Japanese character (indexer.cjk writes their
# runs as bigrams, and a one-character run as itself).
TOKEN_PATTERN = re.compile(rf"(?u)\w[\w{MARK_CHARS}]+|[{CJK_CHARS}]")

_INVISIBLE = dict.fromkeys(map(ord, INVISIBLE_IN_WORDS))


@cache
def stopword_set(name: str) -> frozenset[str]:
    """bm25s's stopword list of that name (e.g. "en", "en_plus"), as a set."""
    return frozenset(bm25s.tokenization._infer_stopwords(name))


def folded(text: str) -> str:
    """``text`` as every text is read for BM25 (documents and questions alike): in Unicode's NFKC form
    ("Käse" typed with a combining mark, fullwidth letters and ligatures match their plain spellings), with
    Chinese and Japanese written as character bigrams (``indexer.cjk``), and Thai, Lao, Myanmar and Khmer
    as bigrams of letters (``indexer.text_rules``), as they have no spaces, and without the invisible
    characters that may stand inside a word (``INVISIBLE_IN_WORDS``: "infor\u00admation" is "information")."""
    if text.isascii():
        return text
    return spaceless_bigrams(cjk_bigrams(unicodedata.normalize("NFKC", text).translate(_INVISIBLE)))


def text_tokens(text: str, stopwords: frozenset[str], stemmer: Stemmer.Stemmer) -> list[str]:
    """The tokens bm25s.tokenize(folded(text), stopwords=..., stemmer=..., return_ids=False) gives for one
    text, without its per-call set-up (a set of the stopwords, vocabularies, id maps), which cost ten times
    the work for a question: lower-cased words of two or more word characters, stopwords out, stemmed."""
    return stemmer.stemWords([t for t in TOKEN_PATTERN.findall(folded(text).lower()) if t not in stopwords])


def indexed(ids: list[list[int]], vocab: dict[str, int]) -> bm25s.BM25:
    """A bm25s retriever over token ids. Passages with no term at all (punctuation, symbols only) are
    valid: bm25s needs a vocabulary, so an empty one gets the empty token bm25s itself adds for them."""
    if not vocab:
        vocab = {"": 0}
    retriever = bm25s.BM25()
    with np.errstate(divide="ignore", invalid="ignore"):  # no term anywhere: an average length of 0
        retriever.index(bm25s.tokenization.Tokenized(ids=ids, vocab=vocab), show_progress=False)
    return retriever


class Bm25Index:
    def __init__(self, retriever: bm25s.BM25) -> None:
        self._retriever = retriever
        self._stemmer = Stemmer.Stemmer(STEMMER_LANGUAGE)
        self._vocab = retriever.vocab_dict
        self._query_tokens: LRU[str, list[str]] = LRU(QUERY_TOKENS_CACHED)

    @classmethod
    def build(cls, texts: Sequence[str]) -> Bm25Index:
        stemmer = Stemmer.Stemmer(STEMMER_LANGUAGE)
        folded_texts = [folded(t) for t in texts]
        tokens = bm25s.tokenize(
            folded_texts,
            stopwords=STOPWORDS,
            stemmer=stemmer,
            token_pattern=TOKEN_PATTERN.pattern,
            show_progress=False,
        )
        return cls(indexed(tokens.ids, dict(tokens.vocab)))

    @classmethod
    def build_from_tokens(cls, token_lists: Sequence[list[str]]) -> Bm25Index:
        """The index of already tokenized texts (see ``tokenize``): a writer that keeps the tokens of
        unchanged passages only tokenizes the new ones."""
        vocab: dict[str, int] = {}
        ids = [[vocab.setdefault(token, len(vocab)) for token in tokens] for tokens in token_lists]
        return cls(indexed(ids, vocab))

    @staticmethod
    def tokenize(texts: Sequence[str]) -> list[list[str]]:
        """The stemmed, stopword-free tokens of each text, as ``build`` makes them."""
        if not texts:
            return []
        stemmer = Stemmer.Stemmer(STEMMER_LANGUAGE)
        return bm25s.tokenize(
            [folded(t) for t in texts],
            stopwords=STOPWORDS,
            stemmer=stemmer,
            return_ids=False,
            token_pattern=TOKEN_PATTERN.pattern,
            show_progress=False,
        )

    @classmethod
    def load(cls, folder: Path) -> Bm25Index:
        return cls(bm25s.BM25.load(str(folder), allow_pickle=False, show_progress=False))

    def save(self, folder: Path) -> None:
        self._retriever.save(str(folder), allow_pickle=False, show_progress=False)

    def __len__(self) -> int:
        return int(self._retriever.scores["num_docs"])

    def has_term(self, term: str) -> bool:
        """Whether a stemmed term occurs in the indexed passages."""
        return term in self._vocab

    def document_frequency(self, term: str) -> int:
        """How many indexed passages hold a stemmed term (0 when none does)."""
        token = self._vocab.get(term)
        if token is None:
            return 0
        indptr = self._retriever.scores["indptr"]
        return int(indptr[token + 1] - indptr[token])

    def query_tokens(self, question: str) -> list[str]:
        """The question's stemmed terms that occur in the index vocabulary (kept for recent questions: an
        index's vocabulary never changes, and a query asks for them more than once)."""
        cached = self._query_tokens.get(question)
        if cached is None:
            tokens = text_tokens(question, stopword_set(STOPWORDS), self._stemmer)
            cached = [t for t in tokens if t in self._vocab]
            if len(question) <= QUERY_TOKENS_CACHED_CHARS:
                self._query_tokens.put(question, cached)
        return list(cached)

    def scores(self, question: str) -> np.ndarray:
        """BM25 score of every passage for ``question`` (zeros when no term is known)."""
        tokens = self.query_tokens(question)
        if not tokens:
            return np.zeros(len(self), dtype=np.float32)
        return np.asarray(self._retriever.get_scores(tokens), dtype=np.float32)

    def search(
        self, question: str, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) of the ``k`` best passages with a positive score, best first; with ``allowed``,
        of those ids only."""
        return top_positive(self.scores(question), k, allowed)


def top_positive(
    scores: np.ndarray, k: int, allowed: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(scores, ids) of the ``k`` best positive ``scores`` (among ``allowed`` ids if given), best first,
    ties by id. BM25 scores every passage, so masking the score vector is an exact filtered search."""
    candidates = np.arange(len(scores)) if allowed is None else np.asarray(allowed, dtype=np.int64)
    positive = candidates[scores[candidates] > 0]
    if len(positive) > k:
        positive = positive[np.argpartition(-scores[positive], k - 1)[:k]]
    order = positive[np.lexsort((positive, -scores[positive]))]
    return scores[order], order.astype(np.int64)
