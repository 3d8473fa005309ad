"""BM25 reads documents and questions in Unicode's NFKC form: a text typed with combining marks (NFD),
fullwidth letters or ligatures (as PDFs extract "ﬁ") matches its plain spelling, both ways (found by an
exploratory probe at stop 25: an NFC question found nothing in an NFD document)."""

from __future__ import annotations

import unicodedata

import numpy as np
import pytest
import Stemmer

from indexer.bm25_index import STOPWORDS, stopword_set, text_tokens
from indexer.lexical import LexicalIndex, LexicalSegment, tokenize

NFC_DOC = "Der Käse aus der Schweiz ist berühmt. Crème brûlée im Café."
FULLWIDTH_SEALS = "".join(chr(ord(c) + 0xFEE0) for c in "seals")  # "seals" in fullwidth letters
DOCS = [
    unicodedata.normalize("NFD", NFC_DOC),
    "Harbor seals rest on rocks. The fire kept the cabin warm.",
    "Sourdough needs a starter.",
]


@pytest.mark.parametrize(
    ("question", "row"),
    [
        ("Käse berühmt", 0),  # NFC question, NFD document
        (unicodedata.normalize("NFD", "crème brûlée"), 0),
        (FULLWIDTH_SEALS, 1),
        ("\ufb01re", 1),  # the "fi" ligature
    ],
)
def test_a_question_finds_its_document_whatever_the_normal_form(question: str, row: int) -> None:
    index = LexicalIndex([LexicalSegment.from_texts(DOCS)])
    scores = index.scores(question)
    assert scores[row] > 0 and int(np.argmax(scores)) == row, scores


def test_documents_and_questions_are_tokenized_alike() -> None:
    stemmer_tokens = text_tokens(NFC_DOC, stopword_set(STOPWORDS), Stemmer.Stemmer("english"))
    assert tokenize([DOCS[0]]) == [stemmer_tokens]
    assert "se" not in stemmer_tokens  # the NFD "Ka|se" split is gone
