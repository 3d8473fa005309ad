"""A bounded LRU of query responses in the service, so a repeated question costs a dictionary lookup.

The key is (index_version, normalized question, top_k, mode, offset, filters): a new index version (the
corpus changed) never serves a response of the old one. Normalization: whitespace runs become one space and
the ends are stripped (the model's tokenizer and BM25 split on whitespace; the control characters that
str.split() counts as whitespace but the tokenizer deletes are kept), and case is folded (lower())
only when the encoder's tokenizer lower-cases its input (all-MiniLM-L6-v2 does; BM25 and the answer
terms are lower-cased too), so two questions share an entry only when they get the same answer. The
library's Response is cached, not the HTTP body: took_ms and the echoed question are per request.

A response holds its question's whole analysis (its features are computed when read, from every sentence,
term set and weight of the query): about 35 KiB for a usual question, but 333 KiB for one of 10,000
characters. Questions longer than QUERY_TOKENS_CACHED_CHARS (1,000; a usual one is under 200) are
therefore answered afresh each time, as they are tokenized afresh, so the cache stays near 35 MB.
"""

from __future__ import annotations

import json
import re
from typing import Any

from citeqa.answers import Answerer, Response
from indexer.bm25_index import QUERY_TOKENS_CACHED_CHARS
from indexer.lru import LRU


def folds_case(encoder: Any) -> bool:
    """True when the encoder's tokenizer lower-cases its input (so case cannot change a vector)."""
    return bool(getattr(getattr(encoder, "tokenizer", None), "do_lower_case", False))


# The spaces the tokenizer reads as spaces: str.split()'s whitespace less the control characters among it
# (\x0b, \x0c, \x1c-\x1f, \x85), which the tokenizer deletes ("milia\x1cbumps" is read "miliabumps").
SPACES = re.compile(r"[^\S\x0b\x0c\x1c-\x1f\x85]+")


def normalize_question(question: str, fold_case: bool) -> str:
    collapsed = " ".join(part for part in SPACES.split(question) if part)
    return collapsed.lower() if fold_case else collapsed


class ResponseCache:
    """The last ``size`` responses by request key; ``hits`` and ``misses`` count lookups."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._responses: LRU[tuple[Any, ...], Response] = LRU(size)

    @property
    def hits(self) -> int:
        return self._responses.hits

    @property
    def misses(self) -> int:
        return self._responses.misses

    def respond(
        self, answerer: Answerer, question: str, top_k: int, mode: Any, offset: int, filters: Any
    ) -> Response:
        """``answerer.respond(...)``, from the cache when the same request was answered on this index."""
        if self.size < 1 or len(question) > QUERY_TOKENS_CACHED_CHARS:
            return answerer.respond(question, top_k, mode, offset, filters)
        fold = folds_case(answerer.searcher.question_encoder)
        key = (
            answerer.index_version,
            normalize_question(question, fold),
            top_k,
            mode,
            offset,
            json.dumps(filters, sort_keys=True),
        )
        found = self._responses.get(key)
        if found is not None:
            return found
        response = answerer.respond(question, top_k, mode, offset, filters)
        self._responses.put(key, response)
        return response
