"""Chunking: passages quote their document exactly and never cut a sentence unless that sentence alone
is longer than the limit. Checked on hand-made cases, on random documents (fixed seeds) whose true
sentence boundaries are known, and on every passage of the built index of the default corpus."""

from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import dataclass
from itertools import pairwise

import pytest

from corpus.types import Document
from indexer.build import IndexSettings
from indexer.chunking import ChunkerSettings, chunk_corpus, chunk_document, chunk_spans, sentence_spans
from indexer.load import LoadedIndex
from indexer.types import Passage

WORD = re.compile(r"\S+")


def is_cjk(char: str) -> bool:
    """A Chinese or Japanese character: a word of its own (indexer.cjk), told here by its Unicode name."""
    return unicodedata.name(char, "").startswith(
        ("CJK UNIFIED", "CJK COMPATIBILITY IDEOGRAPH", "HIRAGANA", "KATAKANA")
    )


def words(text: str) -> int:
    """Runs between spaces, where each Chinese or Japanese character counts as a word of its own."""
    count = 0
    for token in WORD.findall(text):
        kinds = [is_cjk(c) for c in token]
        count += sum(kinds) + sum(1 for i, k in enumerate(kinds) if not k and (i == 0 or kinds[i - 1]))
    return count


def sentences(text: str) -> list[str]:
    return [text[s.start : s.end] for s in sentence_spans(text)]


# --- settings -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("max_words", "overlap_words"), [(0, 0), (-5, 0), (10, 10), (10, 11), (10, -1)])
def test_invalid_settings_are_refused(max_words: int, overlap_words: int) -> None:
    with pytest.raises(ValueError):
        ChunkerSettings(max_words, overlap_words)


# --- sentences ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("One. Two! Three? Four", ["One.", "Two!", "Three?", "Four"]),
        ("See Dr. Smith today. Then go.", ["See Dr. Smith today.", "Then go."]),
        (
            "Use a cream, e.g. retinol, i.e. a retinoid. Wait.",
            ["Use a cream, e.g. retinol, i.e. a retinoid.", "Wait."],
        ),
        ("Ask J. Doe now. Ok.", ["Ask J. Doe now.", "Ok."]),
        ("Take vitamin A. It helps.", ["Take vitamin A. It helps."]),  # a single initial never ends one
        ('He said "stop." Then left.', ['He said "stop."', "Then left."]),
        (
            "She said \u201cgo.\u201d Then (quietly.) left.",
            ["She said \u201cgo.\u201d", "Then (quietly.)", "left."],
        ),
        ("Heading\nBody line one. Body two.\n\n- item", ["Heading", "Body line one.", "Body two.", "- item"]),
        ("Bring pens, etc.\nDive to 500 m.\r\nRest.", ["Bring pens, etc.", "Dive to 500 m.", "Rest."]),
        ("A car.\u200b Dr. Smith came.\u200bThen 3.5 more.", ["A car.", "Dr. Smith came.", "Then 3.5 more."]),
        (
            "Pens, paper, etc. The exam is at ten. Pens etc. are fine.",
            ["Pens, paper, etc.", "The exam is at ten.", "Pens etc. are fine."],
        ),
        ("To the U.S. in 1999. To the U.S. The end.", ["To the U.S. in 1999.", "To the U.S.", "The end."]),
        (
            "Il a env. 3 ans, p. ex. du pain. Er hat ca. 5 Euro.",
            ["Il a env. 3 ans, p. ex. du pain.", "Er hat ca. 5 Euro."],
        ),
        ("  padded.  \n", ["padded."]),
        # Hard-wrapped running text goes on over its line breaks (TEXT_RULES 13) ...
        (
            "Milia are small white bumps that appear on the\nnose and cheeks of newborns. They go away.",
            ["Milia are small white bumps that appear on the\nnose and cheeks of newborns.", "They go away."],
        ),
        (
            "Wash the face gently with warm water, \r\nthen pat it dry with a towel.",
            ["Wash the face gently with warm water, \r\nthen pat it dry with a towel."],
        ),
        (  # an indented paragraph, as licences and RFCs are written
            '   "License" shall mean the terms and conditions for use, reproduction,\n'
            "   and distribution as defined by Sections 1 through 9 of this document.",
            [
                '"License" shall mean the terms and conditions for use, reproduction,\n'
                "   and distribution as defined by Sections 1 through 9 of this document."
            ],
        ),
        (
            "For the purposes of this License, a work is any\n"
            '(an example is below) "work" shall mean any work of\n'
            '"control" means the power to direct it.',
            [
                "For the purposes of this License, a work is any\n"
                '(an example is below) "work" shall mean any work of\n'
                '"control" means the power to direct it.'
            ],
        ),
        (
            "A long line of running text that stops without a stop\n        eight spaces in",
            ["A long line of running text that stops without a stop\n        eight spaces in"],
        ),
        (  # a line ending in a word no sentence or heading ends in goes on before a capital or a number
            "Perl is not produced nor maintained by the\nFree Software Foundation. It is free, for\n"
            "42 years now.",
            [
                "Perl is not produced nor maintained by the\nFree Software Foundation.",
                "It is free, for\n42 years now.",
            ],
        ),
        (
            "Keep your skin clean and moisturised with the\n- list item",
            ["Keep your skin clean and moisturised with the", "- list item"],
        ),
        (
            "To build it, run the following commands and\n1. edit the config file first",
            ["To build it, run the following commands and", "1. edit the config file first"],
        ),
        # ... but a short line (a heading, a list item), a line ending in ":" or ";", a blank line, an
        # indented (code) or capitalized next line, and a list marker still end one.
        ("Ingredients\nflour\nwater", ["Ingredients", "flour", "water"]),
        (
            "These are the steps to follow, in order:\nwash, dry, moisturize",
            ["These are the steps to follow, in order:", "wash, dry, moisturize"],
        ),
        (
            "my @sorted = sort { $a <=> $b } @numbers;\nprint @sorted",
            ["my @sorted = sort { $a <=> $b } @numbers;", "print @sorted"],
        ),
        (
            "A long line of running text that stops without a stop\n\nnext paragraph",
            ["A long line of running text that stops without a stop", "next paragraph"],
        ),
        (
            "A long line of running text that stops without a stop\n         deeply indented code",
            ["A long line of running text that stops without a stop", "deeply indented code"],
        ),
        (
            "A long line of running text that stops without a stop\nNew heading",
            ["A long line of running text that stops without a stop", "New heading"],
        ),
        (
            "- a long list item that runs on past the line\n- another item",
            ["- a long list item that runs on past the line", "- another item"],
        ),
        ("café naïve 日本語. 😀 ok!", ["café naïve 日本語.", "😀 ok!"]),
        ("", []),
        (" \n\t ", []),
    ],
)
def test_sentence_spans(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected
    for span in sentence_spans(text):
        assert span.words == words(text[span.start : span.end])


@pytest.mark.parametrize(
    ("intro", "sentence"),
    [
        ("Intro words here.", "Milia are common (e.g. in newborns) and harmless."),
        ("Intro words here.", 'The sign said "Dr. Smith is in" all day.'),
    ],
)
def test_abbreviation_after_opening_bracket_or_quote_does_not_end_a_sentence(
    intro: str, sentence: str
) -> None:
    text = f"{intro} {sentence}"
    assert sentences(text) == [intro, sentence]
    # A limit that fits the sentence (but not both) must keep the sentence whole in one passage.
    settings = ChunkerSettings(max_words=words(sentence), overlap_words=0)
    assert [text[s:e] for s, e in chunk_spans(text, settings)] == [intro, sentence]


# --- passages on hand-made documents --------------------------------------------------------------


def test_sentences_are_packed_up_to_the_limit_with_sentence_overlap() -> None:
    text = "aa bb cc. dd ee ff. gg hh ii. jj kk ll."
    assert [text[s:e] for s, e in chunk_spans(text, ChunkerSettings(6, 3))] == [
        "aa bb cc. dd ee ff.",
        "dd ee ff. gg hh ii.",
        "gg hh ii. jj kk ll.",
    ]
    assert [text[s:e] for s, e in chunk_spans(text, ChunkerSettings(7, 0))] == [
        "aa bb cc. dd ee ff.",
        "gg hh ii. jj kk ll.",
    ]
    # The overlap is whole sentences only: a 3-word sentence does not fit an overlap of 2.
    assert [text[s:e] for s, e in chunk_spans(text, ChunkerSettings(6, 2))] == [
        "aa bb cc. dd ee ff.",
        "gg hh ii. jj kk ll.",
    ]


def test_only_an_overlong_sentence_is_cut_and_only_at_word_boundaries() -> None:
    long_sentence = " ".join(f"w{i}" for i in range(25)) + "."
    text = f"Short one. {long_sentence} Short two."
    chunks = [text[s:e] for s, e in chunk_spans(text, ChunkerSettings(10, 0))]
    assert chunks == [
        "Short one.",
        " ".join(f"w{i}" for i in range(10)),
        " ".join(f"w{i}" for i in range(10, 20)),
        " ".join(f"w{i}" for i in range(20, 25)) + ". Short two.",
    ]


def test_every_passage_adds_text_beyond_the_previous_one() -> None:
    text = "aa bb cc. dd ee ff gg. hh ii jj kk ll."
    chunks = chunk_spans(text, ChunkerSettings(max_words=8, overlap_words=4))
    assert all(before[1] < after[1] for before, after in pairwise(chunks)), [text[s:e] for s, e in chunks]


def test_chunk_corpus_numbers_passages_across_documents() -> None:
    docs = [
        Document("a", "A", "One. Two. Three. Four."),
        Document("b", "B", "Five. Six."),
    ]
    passages = list(chunk_corpus(docs, ChunkerSettings(2, 0)))
    assert [p.passage_id for p in passages] == list(range(len(passages)))
    assert [p.doc_id for p in passages] == ["a", "a", "b"]
    assert [p.text for p in passages] == ["One. Two.", "Three. Four.", "Five. Six."]


# --- properties over random documents -------------------------------------------------------------

PLAIN_WORDS = (
    "milia skin baby acne cyst keratin café naïve résumé 日本語 Ωmega 😀 x-ray 3.5 U.S.A "
    "co-operate don't «guillemets» Ünïcödé crème"
).split()
# Abbreviations are placed mid-sentence after a plain word (see the bracket and quote cases above for the case
# where one follows an opening bracket or quote).
ABBREVIATED = [
    "Dr. Smith",
    "e.g. rice",
    "i.e. that",
    "Mr. Jones",
    "J. Doe",
    "approx. ten",
    "vs. acne",
    "St. Louis",
]
LAST_WORDS = ["end", "done", "over", "here", "ended", "fin"]
CJK_ENDINGS = ("\u3002", "\uff01\u300d", "\uff1f\uff01")
ENDINGS = [".", "!", "?", '."', ".\u201d", "?\u2019", ".)", "!'", ".]", *CJK_ENDINGS]
SEPARATORS = [" ", "  ", "\n", "\n\n", " \n ", "\t", "\u00a0", "\r\n", "\u2003"]


@dataclass(frozen=True)
class TrueSentence:
    start: int
    end: int
    words: int


def random_sentence(rng: random.Random, max_words: int) -> str:
    long = rng.random() < 0.12
    count = rng.randint(max_words + 1, 3 * max_words + 5) if long else rng.randint(0, max(1, max_words // 2))
    parts = [rng.choice(ABBREVIATED) if rng.random() < 0.1 else rng.choice(PLAIN_WORDS) for _ in range(count)]
    if parts and rng.random() < 0.3 and "." not in parts[0]:
        parts[0] = rng.choice(['"', "\u201c", "(", "'"]) + parts[0]
    parts.append(rng.choice(LAST_WORDS))
    return " ".join(parts) + rng.choice(ENDINGS)


def random_document(rng: random.Random, max_words: int) -> tuple[str, list[TrueSentence]]:
    text = rng.choice(["", " ", "\n", "\u00a0\n"])
    truth = []
    sentences = [random_sentence(rng, max_words) for _ in range(rng.randint(1, 30))]
    for sentence, following in zip(sentences, [*sentences[1:], ""], strict=True):
        truth.append(TrueSentence(len(text), len(text) + len(sentence), words(sentence)))
        # Chinese and Japanese put no space after a sentence; then the next one must not open with a quote
        # or bracket (read as closing the stop before it, as "。」" is).
        cjk_end = sentence.endswith(CJK_ENDINGS) and not following.startswith(('"', "\u201c", "(", "'"))
        text += sentence + rng.choice([*SEPARATORS, "", ""] if cjk_end else SEPARATORS)
    return text, truth


def check_passages(
    text: str, passages: list[Passage], truth: list[TrueSentence], settings: ChunkerSettings
) -> None:
    starts = {s.start for s in truth}
    ends = {s.end for s in truth}
    long = [s for s in truth if s.words > settings.max_words]

    def inside_long(position: int) -> bool:
        return any(s.start < position < s.end for s in long)

    assert passages, "a document with text has passages"
    for p in passages:
        assert text[p.start : p.end] == p.text
        assert p.text == p.text.strip() and p.text
        assert words(p.text) <= settings.max_words
        assert p.start in starts or inside_long(p.start), f"passage starts mid-sentence: {p.text[:60]!r}"
        assert p.end in ends or inside_long(p.end), f"passage ends mid-sentence: {p.text[-60:]!r}"
        # A long sentence is cut between words, never inside one (a Chinese character is a word).
        if inside_long(p.start):
            assert text[p.start - 1].isspace() or is_cjk(text[p.start - 1]) or is_cjk(text[p.start])
        if inside_long(p.end):
            assert text[p.end].isspace() or is_cjk(text[p.end - 1]) or is_cjk(text[p.end])
    for before, after in pairwise(passages):
        assert before.start < after.start and before.end <= after.end  # moves forward
        if after.start < before.end:
            assert words(text[after.start : before.end]) <= settings.overlap_words
        else:
            assert text[before.end : after.start].strip() == ""  # no text falls between passages
    covered = [(p.start, p.end) for p in passages]
    for at, char in enumerate(text):
        assert char.isspace() or any(s <= at < e for s, e in covered), f"{text[at - 10 : at + 10]!r} lost"


@pytest.mark.parametrize("seed", range(0, 1000, 50))
def test_random_documents(seed: int) -> None:
    for case in range(seed, seed + 50):
        rng = random.Random(case)
        max_words = rng.choice([3, 8, 15, 40, 120])
        settings = ChunkerSettings(max_words, rng.randint(0, max_words - 1))
        text, truth = random_document(rng, max_words)
        passages = chunk_document(Document(doc_id="d", title="t", text=text), settings, first_id=7)
        assert [p.passage_id for p in passages] == list(range(7, 7 + len(passages)))
        check_passages(text, passages, truth, settings)


def test_random_documents_cover_the_hard_cases() -> None:
    """Guard against the generator silently losing the cases it exists for."""
    texts = []
    for case in range(400):
        rng = random.Random(case)
        texts.append(random_document(rng, rng.choice([3, 8, 15, 40, 120]))[0])
    joined = "".join(texts)
    for needle in ["Dr. ", "e.g. ", ".\u201d", '."', "\n", "\r\n", "日本語", "😀", "\u00a0", "\u3002"]:
        assert needle in joined
    assert re.search("[\u3002\u300d\uff01][^\\s]", joined)  # a CJK stop with the next sentence right after it
    assert any(words(t) > 200 for t in texts)


# --- every passage of the built default index -----------------------------------------------------


def test_every_indexed_passage_quotes_its_document(loaded_index: LoadedIndex) -> None:
    assert len(loaded_index.passages) == loaded_index.manifest["counts"]["passages"] > 0
    for position, passage in enumerate(loaded_index.passages):
        document = loaded_index.documents[passage.doc_id]
        assert passage.passage_id == position
        assert document.text[passage.start : passage.end] == passage.text
        assert passage.start == 0 or document.text[passage.start - 1].isspace()
        assert passage.end == len(document.text) or document.text[passage.end].isspace()


def test_no_indexed_passage_cuts_a_sentence(
    loaded_index: LoadedIndex, default_documents: list[Document]
) -> None:
    settings = ChunkerSettings(**loaded_index.manifest["chunker"])
    assert settings == IndexSettings().chunker
    for document in default_documents:
        passages = [p for p in loaded_index.passages if p.doc_id == document.doc_id]
        truth = [TrueSentence(s.start, s.end, s.words) for s in sentence_spans(document.text)]
        check_passages(document.text, passages, truth, settings)
        assert passages == chunk_document(document, settings, passages[0].passage_id)


@pytest.mark.parametrize(
    "text",
    [
        "See Dr. Smith today. Then go.\nHeading\nBody line one. Body two.",
        "café naïve 日本語. 😀 ok! 東京タワーは高さ333メートルの電波塔です。然后走了。",
        'He said "stop." Then left. Take vitamin A. It helps.',
        "Short.\nA wrapped line of text that goes on past its\nbreak, and then\nends. New one",
    ],
)
def test_the_sentences_of_a_range_are_those_of_its_slice_in_document_offsets(text: str) -> None:
    for begin in range(len(text)):
        for end in range(begin, len(text) + 1, 3):
            sliced = [(begin + s.start, begin + s.end, s.words) for s in sentence_spans(text[begin:end])]
            assert [tuple(s) for s in sentence_spans(text, begin, end)] == sliced


def test_the_rules_after_a_full_stop_read_only_the_last_words_of_a_long_sentence() -> None:
    """Found in review: every "e.g." or "Dr." copied the whole sentence so far to read its last word, so a
    wrapped text without a stop (one sentence under text rules 13) took time quadratic in its length
    (16,000 lines: 53 s). The rules read a bounded tail, its words whole, and decide as before."""
    from indexer.chunking import TAIL_CHARS, _tail

    text = "word " * 5000 + "as said by Dr. Smith"
    end = text.index("Dr.") + len("Dr.")
    tail = _tail(text, 0, end)
    assert text[:end].endswith(tail) and tail.split()[-2:] == ["by", "Dr."]
    assert len(tail) <= TAIL_CHARS and tail[0].isspace()
    assert _tail("see Dr.", 0, 7) == "see Dr."
    wrapped = "this is the value e.g. some text that goes on and\n" * 2000
    assert [(s.start, s.end) for s in sentence_spans(wrapped)] == [(0, len(wrapped) - 1)]
