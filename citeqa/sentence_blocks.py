"""The sentences of one result's passage and everything about them that does not depend on the question:
their spans and texts, content terms, which of them may answer (citeqa.answer_choice) and their static
answer features (citeqa.answer_features).

A block is a pure function of the document's text and the passage's bounds, so it is made once and kept
(citeqa.sentence_caches, keyed by that text and those bounds: it holds for any snapshot of the index); a
query only gathers its results' blocks and computes what depends on the question.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from citeqa.answer_choice import answer_candidates, heading_lines
from citeqa.answer_features import StaticFeatures
from indexer.chunking import Span
from indexer.sentences import passage_sentences

# (document text, start, end) of a result's passage.
BlockKey = tuple[str, int, int]
TermSets = list[frozenset[str]]


@dataclass(frozen=True)
class SentenceBlock:
    spans: tuple[Span, ...]
    texts: tuple[str, ...]
    terms: tuple[frozenset[str], ...]
    candidate: np.ndarray  # bool: may answer (answer_candidates of this result's sentences)
    heading: np.ndarray  # bool: a heading (heading_lines), never the answer while the result has another
    static: StaticFeatures

    def __len__(self) -> int:
        return len(self.spans)


def sentence_block(key: BlockKey, term_sets: Callable[[Sequence[str]], TermSets]) -> SentenceBlock:
    """The block of the passage ``key``; ``term_sets`` gives the content terms of texts."""
    document, start, end = key
    spans = passage_sentences(document, start, end)
    texts = tuple(document[s.start : s.end] for s in spans)
    return SentenceBlock(
        spans=spans,
        texts=texts,
        terms=tuple(term_sets(texts)),
        candidate=answer_candidates(spans, texts),
        heading=heading_lines(document, spans, texts),
        static=StaticFeatures.of_result(document, spans, texts),
    )
