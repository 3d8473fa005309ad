"""Explicit rules that remove page chrome (text that is not part of an article) from captures.

Rules only ever remove whole leading lines, so the cleaned text is still a verbatim slice of the
capture and citations into it quote the article exactly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class ChromeRule:
    name: str
    pattern: re.Pattern[str]


CHROME_RULES: tuple[ChromeRule, ...] = (
    # Web-shop banner captured above blog posts, e.g. "FREE Shipping on orders $199 or more".
    ChromeRule("shop-banner", re.compile(r"free shipping on (all )?orders\b.*", re.IGNORECASE)),
)


def clean_text(text: str, rules: tuple[ChromeRule, ...] = CHROME_RULES) -> tuple[str, list[str]]:
    """Drop leading lines that match a chrome rule, and the blank lines after them.

    Returns the cleaned text and the names of the rules that fired.
    """
    fired: list[str] = []
    while True:
        first_line, newline, rest = text.partition("\n")
        rule = next((r for r in rules if r.pattern.fullmatch(first_line.strip())), None)
        if rule is None:
            break
        fired.append(rule.name)
        text = rest.lstrip("\n") if newline else ""
    return text, fired
