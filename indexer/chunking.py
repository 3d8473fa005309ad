"""Sentence-aware chunking into passages that keep exact character offsets into their document."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

from corpus.types import Document
from indexer.cjk import CJK_CHARS, CJK_CLOSERS, CJK_SENTENCE_STOPS
from indexer.text_rules import LINE_BREAKS, MARK_CHARS, SCRIPT_STOPS, SPACELESS_CHARS, TITLES
from indexer.types import Passage

# Closing quotes and brackets that end a sentence with its stop (English and German double and single
# quotes, French and Russian guillemets, the German reversed ones, brackets); French sets its closing
# guillemet after a space ("C'est bon. \u00bb"), which still closes its sentence when a space follows it.
CLOSERS = "\"'\u201d\u2019\u201c\u2018\u00bb\u00ab\u203a\u2039)\\]"
SPACED_CLOSERS = "\u00bb\u203a"
# A sentence ends at . ! ? or an ellipsis (…, as "..." does) or another script's full stop or question
# mark (SCRIPT_STOPS; optionally followed by CLOSERS) before whitespace (a zero-width space counts: pages
# use it as an invisible space, Python's \s does not) or a Chinese or Japanese character, at ideographic
# full stops or fullwidth ! ? (those scripts put no space after them; a run of such stops is one end), or
# at a line break: captured web text uses lines for headings and list items. A line ends at \n, and at a
# carriage return, a vertical tab, a form feed, NEL and Unicode's line and paragraph separators
# (LINE_BREAKS: text sent as JSON keeps the line ends it was written with, an old Mac file's lone \r, a
# page's \f).
_SENTENCE_END = re.compile(
    f"(?P<stop>[.!?\u2026{SCRIPT_STOPS}](?:[ \u00a0\u202f]+[{SPACED_CLOSERS}](?=\\s|\\Z))?[{CLOSERS}]*)"
    f"(?:[\\s\u200b]+|(?=[{CJK_CHARS}])|\\Z)"
    f"|(?P<cjk>[{CJK_SENTENCE_STOPS}]+[{CJK_CLOSERS}\"'\u201d\u2019)\\]]*)\\s*"
    f"|[{LINE_BREAKS}]+"
)
_ABBREVIATIONS = frozenset(
    "dr mr mrs ms prof st jr sr vs etc e.g i.e approx no fig al inc ltd co".split() + TITLES.split()
)
# Abbreviations that may end a sentence too, so they continue one only when a lower-case letter or a digit
# follows ("the U.S. in 1999", "ca. 3,5 mg", "p. ex. du camembert", "env. 3 km"; "in the U.S. The next"
# ends there): letters joined by full stops ("U.S.", "a.m.", "P.A.D.") and those of French, German and
# Spanish (TEXT_RULES 6).
_ABBREVIATIONS_BEFORE_LOWER = frozenset(
    "ca env bzw usw vgl nr str ex cf mme mlle mm sra srta ud uds resp incl excl vol pp viz".split()
)
_DOTTED = re.compile(r"(?:\w\.)+\w")
# A word is a run of characters between spaces, but each Chinese or Japanese character is a word of its
# own (a passage of 120 of them is about 120 model tokens, as 120 English words are ~150), as is each
# Thai, Lao, Myanmar or Khmer letter with its marks (indexer.text_rules).
_WORD = re.compile(f"[{CJK_CHARS}]|[{SPACELESS_CHARS}][{MARK_CHARS}]*|[^\\s{CJK_CHARS}{SPACELESS_CHARS}]+")


@dataclass(frozen=True)
class ChunkerSettings:
    """Target passage size and overlap, in words."""

    max_words: int = 120
    overlap_words: int = 30

    def __post_init__(self) -> None:
        if self.max_words < 1:
            raise ValueError("max_words must be at least 1")
        if not 0 <= self.overlap_words < self.max_words:
            raise ValueError("overlap_words must be at least 0 and less than max_words")


# A NamedTuple, not a frozen dataclass: the answer layer makes one per sentence of every passage it meets
# for the first time, and a frozen dataclass costs several times as much to make.
class Span(NamedTuple):
    start: int
    end: int
    words: int


def sentence_spans(text: str, begin: int = 0, stop_at: int | None = None, lead: int = 0) -> list[Span]:
    """Sentences of ``text[begin:stop_at]`` as spans without surrounding whitespace, in offsets of
    ``text`` (the same sentences as those of the slice, without copying it). ``lead``: how many characters
    of its first line come before the slice (a passage that starts mid-line), of which nothing else is
    read; a wrapped line is told by its length (``wraps``)."""
    spans: list[Span] = []
    limit = len(text) if stop_at is None else stop_at
    start = begin
    for match in _SENTENCE_END.finditer(text, begin, limit):
        stop = "stop" if match.group("stop") else "cjk" if match.group("cjk") else None
        end = match.end(stop) if stop else match.start()
        if match.group("stop") and continues(text, start, end, match, limit):
            continue
        if not stop and wraps(text, start, match, limit, begin, lead):
            continue
        _append_span(text, start, end, spans)
        start = match.end()
    _append_span(text, start, limit, spans)
    return spans


def continues(text: str, start: int, end: int, match: re.Match[str], limit: int) -> bool:
    """Whether the sentence ``text[start:end]`` goes on past the full stop ``match`` found: after an
    abbreviation or an initial ("Dr.", "e.g.", "J."), unless its line ends there or it is an "etc." that a
    capital follows ("a ruler, etc. The exam starts at nine.": "etc." closes a list, often a sentence), or
    after one that continues a sentence only before a lower-case word or a number ("the U.S. in 1999")."""
    if ends_line(match):
        return False
    after = match.end()
    sentence = _tail(text, start, end)
    if not _ends_with_abbreviation(sentence):
        return after < limit and _before_lower(sentence) and (text[after].islower() or text[after].isdigit())
    capital = after < limit and (text[after].isupper() or text[after] in OPENING_QUOTES)
    if capital and _ends_with_unit(sentence):
        return False
    return not (capital and sentence.rstrip(".").lower().endswith("etc"))


TAIL_CHARS = 64  # of a sentence, all that the abbreviation rules read (its last words)


def _tail(text: str, start: int, end: int) -> str:
    """The last words of the sentence ``text[start:end]``, whole, within about TAIL_CHARS characters: the
    rules after a full stop read its last word or two, and copying the whole sentence at every "e.g." made
    a long one (a wrapped text without a stop) quadratic."""
    first = end - TAIL_CHARS
    if first <= start:
        return text[start:end]
    cut = first
    while cut < end and not text[cut].isspace():
        cut += 1
    return text[cut:end] if cut < end else text[first:end]


# A line this long (or longer) that breaks without a stop was wrapped inside running text, not a heading or
# a list item: hard-wrapped text (plain-text files, e-mail, man pages, Markdown) breaks its lines at 60-80.
WRAPPED_LINE_CHARS = 30
WRAPPED_INDENT = 8  # spaces or tabs before a wrapped line's next line, at most
# What a wrapped line ends in: a word, a comma, a closing bracket or quote, a hyphen (not ":" or ";",
# which introduce a list or end a line of code).
_WRAP_ENDS = ",)]\"'\u2019\u201d-%"
# English words that end no sentence and no heading: a line ending in one was wrapped, whatever follows.
_CONTINUING_WORDS = frozenset(
    "a an the of to in on at by for from with and or nor but as than that which whose via into onto "
    "its their our your his her my this these those is are was were be been has have had can will would "
    "should may might must".split()
)
_NUMBERED_ITEM = re.compile(r"\d{1,3}[.)]\s")  # "1. edit the file": a list item, not a wrapped line
_WRAP_OPENS = "([\"'\u201c\u2018"  # may open a wrapped line's next line before its lower-case letter


def wraps(text: str, start: int, match: re.Match[str], limit: int, begin: int = 0, lead: int = 0) -> bool:
    """Whether the line break ``match`` (no stop before it) continues the sentence begun at ``start``:
    one line break (no blank line) inside running text that was wrapped, i.e. the line ends in a word,
    a comma or a closing bracket, is at least WRAPPED_LINE_CHARS long, and the next line goes on with a
    lower-case letter (or an opening bracket or quote and one; no list marker) after at most
    WRAPPED_INDENT spaces, or with any letter or digit after a word such as "the" (TEXT_RULES 13). The
    line is read back to ``begin`` at most; ``lead`` characters of it come before ``begin`` (see
    sentence_spans)."""
    after = match.end()
    if match.group(0) not in ("\n", "\r\n"):
        return False
    # An indented paragraph (a licence, an RFC, a list item's second line) keeps its indent; code is
    # indented deeper.
    indent = after
    while indent < limit and text[indent] in " \t" and indent - after < WRAPPED_INDENT:
        indent += 1
    if indent < limit - 1 and text[indent] in _WRAP_OPENS:
        indent += 1  # '(an example ...', '"control" means ...'
    if indent >= limit or not text[indent].isalnum() or _NUMBERED_ITEM.match(text, indent, limit):
        return False
    end = match.start()
    while end > start and text[end - 1] in " \t":
        end -= 1
    if end == start or not (text[end - 1].isalnum() or text[end - 1] in _WRAP_ENDS):
        return False
    # A capital or a number may go on a line that ends in a word no sentence or heading ends in ("by the
    # / Free Software Foundation"); else the next line goes on in lower case.
    if not text[indent].islower() and _last_word(text, start, end) not in _CONTINUING_WORDS:
        return False
    line_start = end
    floor = max(begin, end - WRAPPED_LINE_CHARS)
    while line_start > floor and text[line_start - 1] not in LINE_BREAKS:
        line_start -= 1
    if line_start == begin:
        line_start -= lead
    return end - line_start >= WRAPPED_LINE_CHARS


def _last_word(text: str, start: int, end: int) -> str:
    """The word ``text[:end]`` ends in (read back to ``start`` at most), lower-cased."""
    first = end
    while first > start and end - first < 12 and text[first - 1].isalpha():
        first -= 1
    return text[first:end].lower() if first == start or not text[first - 1].isalnum() else ""


def holds_wrapped_line(text: str) -> bool:
    """Whether ``text`` holds a line break that continues its sentence by TEXT_RULES 13."""
    return "\n" in text and any(
        not match.group("stop") and not match.group("cjk") and wraps(text, 0, match, len(text))
        for match in _SENTENCE_END.finditer(text)
    )


def ends_line(match: re.Match[str]) -> bool:
    """Whether a sentence end's spaces hold a line break: a line ends its sentence even after "etc." or
    "500 m." (a list item, a heading), as a line without a full stop does."""
    return any(c in LINE_BREAKS for c in match.group(0))


def _ends_with_abbreviation(sentence: str) -> bool:
    words = sentence.split()
    if not words or not words[-1].endswith("."):
        return False
    stem = words[-1].lstrip("([{\"'\u201c\u2018").rstrip(".").lower()
    # "Dr." or "e.g." or a single initial ("J.") do not end a sentence.
    return stem in _ABBREVIATIONS or len(stem) == 1


_UNIT = re.compile(r"(?:^|\s)\d[\d.,]*\s+([^\W\d_])\.$")  # "100 g." "500 m." "2,5 l."
_UNIT_STOP = re.compile(r"(?<![\w.,])\d[\d.,]*\s+([^\W\d_])\.[ \t\u00a0\u200b]+(?=\S)")
OPENING_QUOTES = "\"'\u201c\u201e\u2018\u00ab\u00bb("


def _ends_with_unit(sentence: str) -> bool:
    """Whether ``sentence`` ends in a number and a one-letter lower-case unit ("Er wiegt 100 g."): not an
    initial, so a capital or an opening quote after it starts a sentence (TEXT_RULES 12)."""
    found = _UNIT.search(sentence)
    return found is not None and found.group(1).islower()


def holds_unit_before_capital(text: str) -> bool:
    """Whether ``text`` holds a sentence that ends at a unit only by TEXT_RULES 12 ("100 g. Das")."""
    return any(
        m.group(1).islower() and (text[m.end()].isupper() or text[m.end()] in OPENING_QUOTES)
        for m in _UNIT_STOP.finditer(text)
    )


def _before_lower(sentence: str) -> bool:
    """Whether ``sentence`` ends in an abbreviation that continues it before a lower-case word or a
    number (_ABBREVIATIONS_BEFORE_LOWER)."""
    words = sentence.split()
    if not words or not words[-1].endswith("."):
        return False
    stem = words[-1].lstrip("([{\"'\u201c\u2018").rstrip(".").lower()
    return stem in _ABBREVIATIONS_BEFORE_LOWER or _DOTTED.fullmatch(stem) is not None


_STOP_BEFORE_WORD = re.compile(r"(\S+\.)[\s\u200b]+(\w)")


def holds_abbreviation_before_lower(text: str) -> bool:
    """Whether ``text`` holds a sentence that goes on past an abbreviation only by TEXT_RULES 6 ("the
    U.S. in 1999": before, two sentences)."""
    return any(
        (m.group(2).islower() or m.group(2).isdigit())
        and _before_lower(m.group(1))
        and not _ends_with_abbreviation(m.group(1))
        for m in _STOP_BEFORE_WORD.finditer(text)
    )


def _append_span(text: str, start: int, end: int, spans: list[Span]) -> None:
    segment = text[start:end]
    left = len(segment) - len(segment.lstrip())
    right = len(segment.rstrip())
    if right > left:
        s, e = start + left, start + right
        spans.append(Span(s, e, len(_WORD.findall(text, s, e))))


def _split_long(text: str, span: Span, max_words: int) -> list[Span]:
    """Cut a sentence longer than ``max_words`` at word boundaries (the only case a sentence is cut)."""
    words = list(_WORD.finditer(text, span.start, span.end))
    pieces = []
    for i in range(0, len(words), max_words):
        group = words[i : i + max_words]
        pieces.append(Span(group[0].start(), group[-1].end(), len(group)))
    return pieces


def chunk_spans(text: str, settings: ChunkerSettings) -> list[tuple[int, int]]:
    """(start, end) of each passage: whole sentences up to ``max_words``, overlapping by whole
    sentences of at most ``overlap_words`` words."""
    units: list[Span] = []
    for span in sentence_spans(text):
        units.extend(
            _split_long(text, span, settings.max_words) if span.words > settings.max_words else [span]
        )
    chunks: list[tuple[int, int]] = []
    i = 0
    while i < len(units):
        j, words = i, 0
        while j < len(units) and (j == i or words + units[j].words <= settings.max_words):
            words += units[j].words
            j += 1
        chunks.append((units[i].start, units[j - 1].end))
        if j >= len(units):
            break
        # Step back over whole sentences that fit in the overlap and still leave room for the next
        # sentence, so the next passage always adds new text.
        back, overlap, room = j, 0, settings.max_words - units[j].words
        while (
            back - 1 > i
            and overlap + units[back - 1].words <= settings.overlap_words
            and overlap + units[back - 1].words <= room
        ):
            back -= 1
            overlap += units[back].words
        i = back
    return chunks


def chunk_document(document: Document, settings: ChunkerSettings, first_id: int = 0) -> list[Passage]:
    return [
        Passage(passage_id=first_id + n, doc_id=document.doc_id, start=s, end=e, text=document.text[s:e])
        for n, (s, e) in enumerate(chunk_spans(document.text, settings))
    ]


def chunk_corpus(documents: list[Document], settings: ChunkerSettings) -> Iterator[Passage]:
    """Passages of every document, numbered 0..N-1 in corpus order."""
    next_id = 0
    for document in documents:
        passages = chunk_document(document, settings, next_id)
        next_id += len(passages)
        yield from passages
