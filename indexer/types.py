"""The passage: a span of one document, what the indexer stores and the query core retrieves."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Passage:
    """A span of one document: ``document.text[start:end] == text``."""

    passage_id: int
    doc_id: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class PassageLayout:
    """Where each passage of a list lies, as arrays aligned with it: a number per document (equal for the
    passages of one document), start and end; read without building the passages."""

    doc_keys: np.ndarray
    starts: np.ndarray
    ends: np.ndarray

    @classmethod
    def of(cls, passages: Sequence[Passage]) -> PassageLayout:
        numbers: dict[str, int] = {}
        keys = [numbers.setdefault(p.doc_id, len(numbers)) for p in passages]
        return cls(
            np.asarray(keys, dtype=np.int64),
            np.asarray([p.start for p in passages], dtype=np.int64),
            np.asarray([p.end for p in passages], dtype=np.int64),
        )
