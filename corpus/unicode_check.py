"""Text that is not valid Unicode: JSON's escapes (``"\\ud800"``) and a command line's undecodable bytes
give Python strings with unpaired surrogates, which no encoder or file can take."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping


def is_blank(text: str) -> bool:
    """Whether ``text`` shows nothing: only spaces and invisible format characters (zero-width spaces and
    joiners, soft hyphens, byte order marks, direction marks; Unicode category Cf), which str.strip()
    keeps. A document of them was stored and found as a blank passage, where one of spaces was refused."""
    return all(c.isspace() or unicodedata.category(c) == "Cf" for c in text)


def has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def field_with_lone_surrogate(value: object, path: str = "") -> str | None:
    """The dotted name of the first string (key or value) in ``value`` holding an unpaired surrogate."""
    if isinstance(value, str):
        return (path or "(value)") if has_lone_surrogate(value) else None
    if isinstance(value, Mapping):
        for key, item in value.items():
            name = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and has_lone_surrogate(key):
                return name.encode("utf-8", "backslashreplace").decode("ascii")
            found = field_with_lone_surrogate(item, name)
            if found:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = field_with_lone_surrogate(item, f"{path}[{i}]")
            if found:
                return found
    return None


LONE_SURROGATE_FIX = (
    "it holds an unpaired surrogate (such as the JSON escape \\ud800), which is not valid Unicode"
)
