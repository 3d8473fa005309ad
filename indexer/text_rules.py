"""The rules by which text is cut into passages and sentences and read into BM25 terms, by version: an
index folder records the version it was built with (manifest "text_rules"), and each version names the
text it reads differently from the one before, so that only an index holding such text is rebuilt by
`citeqa index --if-stale` (an index without the key was built by version 1)."""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Callable, Iterable

from indexer.cjk import CJK_RUN

# The planes that hold combining marks: the basic and supplementary multilingual planes and the special-
# purpose plane (variation selectors); planes 2 and 3 hold only ideographs, 4 to 13 nothing yet, 15 and 16
# private use. Reading only these makes the import 4 times faster (all of them took 0.2 s per process).
MARK_PLANES = (range(0x20000), range(0xE0000, 0xF0000))


def _ranges(category: str, codes: Iterable[Iterable[int]] = MARK_PLANES) -> str:
    """A regular-expression class body of every character of ``codes`` whose Unicode category starts
    with ``category``, as ranges."""
    ranges: list[tuple[int, int]] = []
    for code in itertools.chain.from_iterable(codes):
        if unicodedata.category(chr(code)).startswith(category):
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1] = (ranges[-1][0], code)
            else:
                ranges.append((code, code))
    return "".join(
        re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges
    )


# Combining marks (Unicode category M): the vowel signs and viramas of Devanagari, Tamil and the other
# Indic scripts, Thai vowels and tone marks, Hebrew points, Arabic harakat. Python's \w does not match
# them, so "हिन्दी" was read as the pieces between its marks; a word holds them (indexer.bm25_index).
MARK_CHARS = _ranges("M")
MARK = re.compile(f"[{MARK_CHARS}]")


def _holds_marks(text: str) -> bool:
    """Whether ``text`` holds a combining mark that Unicode's NFKC form (as BM25 reads text) keeps: an
    accented Latin letter typed with a combining mark is one letter in that form, read as before."""
    return MARK.search(text) is not None and MARK.search(unicodedata.normalize("NFKC", text)) is not None


# Full stops and question marks of other scripts, which end a sentence as . and ? do (before a space):
# the Devanagari danda and double danda (Hindi, Marathi, Nepali, Sanskrit; Bengali writes the same
# characters), the Arabic question mark, the Urdu full stop, the Armenian full stop, the Ethiopic full
# stop and question mark, the Myanmar and Khmer full stops. Before, a Hindi paragraph was one sentence.
SCRIPT_STOPS = "\u0964\u0965\u061f\u06d4\u0589\u1362\u1367\u104b\u17d4"

# Thai, Lao, Myanmar and Khmer write no space between words (a space ends a phrase or a sentence). A
# letter with the combining marks after it (a vowel sign, a tone mark) is a word of its own for the
# chunker, as a Chinese character is (indexer.chunking), and BM25 reads a run of them as overlapping
# bigrams of such letters (spaceless_bigrams), as it reads Chinese. Before, a run between spaces was one
# word: a Thai document without spaces was one passage however long, and a word inside a run was not
# found.
SPACELESS_CHARS = "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff"
SPACELESS_RUN = re.compile(f"[{SPACELESS_CHARS}]+")
SPACELESS_LETTER = re.compile(f"[{SPACELESS_CHARS}][{MARK_CHARS}]*")


def _spaceless_bigrams(match: re.Match[str]) -> str:
    letters = SPACELESS_LETTER.findall(match.group())
    if len(letters) == 1:
        return f" {letters[0]} "
    return " " + " ".join(letters[i] + letters[i + 1] for i in range(len(letters) - 1)) + " "


def spaceless_bigrams(text: str) -> str:
    """``text`` with each run of Thai, Lao, Myanmar or Khmer written as the overlapping bigrams of its
    letters (each with its marks), set apart by spaces ("ภาษาไทย" -> " ภา าษ ษา าไ ไท ทย "); other text
    is unchanged."""
    return SPACELESS_RUN.sub(_spaceless_bigrams, text)


# Characters that show nothing and may stand inside a word, which BM25 drops (indexer.bm25_index.folded):
# the soft hyphen (pages and PDFs hyphenate with it: "infor\u00admation"), the zero-width non-joiner and
# joiner (Persian and the Indic scripts write them inside words), the word joiner and the zero-width
# no-break space. Before, each cut its word in two ("information" was not found).
INVISIBLE_IN_WORDS = "\u00ad\u200c\u200d\u2060\ufeff"


# What ends a line, and so a sentence (indexer.chunking): \n, and the carriage return, vertical tab, form
# feed, NEL and Unicode's line and paragraph separators. Before, only \n: a text sent with lone \r line
# ends (an old Mac file, sent as JSON) was one sentence.
LINE_BREAKS = "\n\r\x0b\x0c\x85\u2028\u2029"
_NEW_LINE_BREAK = re.compile("\r(?!\n)|[\x0b\x0c\x85\u2028\u2029]")


# A stop followed by a closing quote that version 9 added (the quotes English opens a quotation with are
# those German closes one with), or by a French guillemet after a space.
_NEW_CLOSER = re.compile(
    f"[.!?{SCRIPT_STOPS}][\"'\u201d\u2019)\\]]*[\u201c\u2018\u00bb\u00ab\u203a\u2039]"
    "|[.!?][ \u00a0\u202f]+[\u00bb\u203a]"
)


# Abbreviated titles and the mountain, which a name follows (indexer.chunking reads them as it reads "Dr."):
# before version 11, "Mt. Everest" or "Gen. Grant" ended a sentence at the title.
TITLES = "mt gen gov sen lt capt sgt rev hon cmdr adm supt pres"
_TITLE = re.compile(f"(?i)(?<!\\w)(?:{'|'.join(TITLES.split())})\\.[ \\t\u00a0\u200b]+\\S")


def _unit_before_capital(text: str) -> bool:
    from indexer.chunking import holds_unit_before_capital  # the chunker reads these rules

    return holds_unit_before_capital(text)


def _abbreviation_before_lower(text: str) -> bool:
    from indexer.chunking import holds_abbreviation_before_lower  # the chunker reads these rules

    return holds_abbreviation_before_lower(text)


def _wrapped_line(text: str) -> bool:
    from indexer.chunking import holds_wrapped_line  # the chunker reads these rules

    return holds_wrapped_line(text)


def _outside_ascii(check: Callable[[str], bool]) -> Callable[[str], bool]:
    """``check`` of a change that only characters outside ASCII can meet: text that is all ASCII (most
    English text) is passed without it (str.isascii is one pass in C; the marks' class alone took 0.3 s
    per MB, and make run reads every document of an index built by older rules)."""
    return lambda text: not text.isascii() and check(text)


TEXT_RULES = 13
# What each version reads differently from the one before: the text it matches, and what it changed.
CHANGES: dict[int, tuple[Callable[[str], bool], str]] = {
    2: (
        _outside_ascii(lambda text: CJK_RUN.search(text) is not None),
        "Chinese and Japanese text was split into words and sentences",
    ),
    3: (
        _outside_ascii(_holds_marks),
        "words holding combining marks (Hindi, Tamil, Thai, pointed Hebrew) were read whole",
    ),
    4: (
        _outside_ascii(lambda text: re.search(f"[{SCRIPT_STOPS}]", text) is not None),
        "sentences were ended by the full stops and question marks of other scripts (। ؟ and the like)",
    ),
    5: (
        _outside_ascii(lambda text: SPACELESS_RUN.search(text) is not None),
        "Thai, Lao, Myanmar and Khmer text was split into letters and bigrams",
    ),
    6: (
        _abbreviation_before_lower,
        'sentences went on past "U.S.", "ca." or "p. ex." before a lower-case word',
    ),
    7: (
        _outside_ascii(lambda text: any(c in text for c in INVISIBLE_IN_WORDS)),
        "soft hyphens and zero-width joiners were read as part of their words",
    ),
    8: (
        lambda text: _NEW_LINE_BREAK.search(text) is not None,
        "a carriage return, a form feed or a line separator ended a line",
    ),
    9: (
        _outside_ascii(lambda text: _NEW_CLOSER.search(text) is not None),
        "a sentence ended after the closing quotes of German and French",
    ),
    10: (lambda text: "\u2026" in text, "a sentence ended at an ellipsis (\u2026)"),
    11: (
        lambda text: _TITLE.search(text) is not None,
        'a sentence went on past "Mt." or "Gen." before a name',
    ),
    12: (_unit_before_capital, 'a sentence ended at a unit after a number ("100 g.") before a capital'),
    13: (_wrapped_line, "a sentence went on over the line breaks of hard-wrapped text"),
}


def changes_since(rules: int, texts: Iterable[str]) -> list[str]:
    """What the current rules read differently in ``texts`` from version ``rules`` (empty when nothing)."""
    pending = {version: change for version, change in CHANGES.items() if version > rules}
    found: list[int] = []
    for text in texts:
        for version, (reads_differently, _) in list(pending.items()):
            if reads_differently(text):
                found.append(version)
                del pending[version]
        if not pending:
            break
    return [CHANGES[version][1] for version in sorted(found)]
