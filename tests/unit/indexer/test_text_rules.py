"""indexer.text_rules: the combining marks are read from the planes that hold them only (a faster import);
no mark of any other plane is left out."""

from __future__ import annotations

import sys

from indexer.text_rules import MARK_CHARS, _ranges


def test_the_mark_planes_hold_every_combining_mark() -> None:
    assert _ranges("M", [range(sys.maxunicode + 1)]) == MARK_CHARS
