"""indexer.sentences.passage_sentences: memoized without keeping the text of the document it was asked
about (a long-running service asks about passages of many documents, and of documents replaced since)."""

from __future__ import annotations

import gc
import textwrap
import tracemalloc

from corpus.types import Document
from indexer.chunking import ChunkerSettings, chunk_document, sentence_spans
from indexer.sentences import passage_sentences


def test_the_sentences_of_a_passage_are_those_of_its_document(default_documents: list[Document]) -> None:
    for document in default_documents:
        for passage in chunk_document(document, ChunkerSettings()):
            found = passage_sentences(document.text, passage.start, passage.end)
            assert list(found) == sentence_spans(document.text, passage.start, passage.end)


def test_the_passages_of_hard_wrapped_text_keep_its_sentences_whole() -> None:
    """A sentence wrapped over lines (TEXT_RULES 13) is one sentence in its document and in every passage
    that holds it: passages start at the document's sentence starts, often mid-line."""
    prose = " ".join(
        f"Sentence {i} tells how the wrapped text of a plain file goes on over line breaks, "
        f"and it ends here after {i % 7 + 3} more words."
        for i in range(40)
    )
    text = "\n".join(textwrap.wrap(prose, 72))
    whole = {(s.start, s.end) for s in sentence_spans(text)}
    assert len(whole) == 40 and all(text[a:b].endswith("more words.") for a, b in whole)
    for passage in chunk_document(Document("w", "Wrapped", text), ChunkerSettings(60, 15)):
        found = passage_sentences(text, passage.start, passage.end)
        assert {(s.start, s.end) for s in found} <= whole


def test_a_passage_asked_about_keeps_no_document_text() -> None:
    sentence = "Milia are small white bumps. Dr. Smith says they go away (e.g. in babies). "
    tracemalloc.start()
    try:
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        document = sentence * 20_000  # 1.5 million characters
        size = len(document)
        spans = passage_sentences(document, 750_000, 750_750)
        assert spans and all(750_000 <= s.start < s.end <= 750_750 for s in spans)
        del document
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert kept < size // 10
