"""indexer.sentences.passage_sentences: memoized without keeping the text of the document it was asked
about (a long-running service asks about passages of many documents, and of documents replaced since)."""

from __future__ import annotations

import gc
import tracemalloc

from corpus.types import Document
from indexer.chunking import ChunkerSettings, chunk_document, sentence_spans
from indexer.sentences import passage_sentences


def test_the_sentences_of_a_passage_are_those_of_its_document(default_documents: list[Document]) -> None:
    for document in default_documents:
        for passage in chunk_document(document, ChunkerSettings()):
            found = passage_sentences(document.text, passage.start, passage.end)
            assert list(found) == sentence_spans(document.text, passage.start, passage.end)


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
