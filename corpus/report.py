"""What an ingestion took and what it left out, by file type (the suffix, lower-cased, e.g. ``.pdf``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from corpus.types import Document


@dataclass(frozen=True)
class Skip:
    """A file left out, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class IngestReport:
    """Files read (``taken``) and left out (``skipped``) by suffix, each skip with its reason, the
    ``NAME.json`` metadata files used, and the number of documents made."""

    taken: Mapping[str, int] = field(default_factory=dict)
    skipped: Mapping[str, int] = field(default_factory=dict)
    skips: tuple[Skip, ...] = ()
    sidecars: int = 0
    documents: int = 0

    def rows(self) -> list[tuple[str, int, int]]:
        """(suffix, taken, skipped) for every suffix seen, sorted; a file without a suffix is ''."""
        suffixes = sorted({*self.taken, *self.skipped})
        return [(s, self.taken.get(s, 0), self.skipped.get(s, 0)) for s in suffixes]


@dataclass(frozen=True)
class Ingested:
    documents: tuple[Document, ...]
    report: IngestReport


def suffix_of(path: Path) -> str:
    return path.suffix.lower()


@dataclass
class ReportBuilder:
    taken: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    skips: list[Skip] = field(default_factory=list)
    sidecars: int = 0

    def take(self, path: Path) -> None:
        self.taken[suffix_of(path)] += 1

    def skip(self, path: Path, reason: str) -> None:
        self.skipped[suffix_of(path)] += 1
        self.skips.append(Skip(str(path), reason))

    def build(self, documents: int) -> IngestReport:
        return IngestReport(dict(self.taken), dict(self.skipped), tuple(self.skips), self.sidecars, documents)
