"""Is an index folder up to date for a corpus and settings? (used by make run / --if-stale)."""

from __future__ import annotations

from pathlib import Path

from corpus.types import Document
from indexer.build import IndexSettings
from indexer.errors import IndexMismatchError
from indexer.index_folder import corpus_fingerprint, read_manifest, verify_files
from indexer.journal import journal_path, read_journal


def index_is_current(folder: Path, documents: list[Document], model: str, settings: IndexSettings) -> bool:
    try:
        manifest = read_manifest(folder)
        verify_files(folder, manifest)
    except IndexMismatchError:
        return False
    return (
        manifest["model"]["name"] == model
        and manifest["corpus"]["fingerprint"] == corpus_fingerprint(documents)
        and all(manifest.get(key) == value for key, value in settings.manifest_view().items())
    )


def live_version(folder: Path) -> int:
    """The newest version an index folder and its journal hold (0 when there is no index): above 1, the
    index has been changed by writes since it was built from its corpus."""
    try:
        version = int(read_manifest(folder).get("version", 1))
    except IndexMismatchError:
        version = 0
    journal = journal_path(folder)
    if journal.is_file():
        version = max([version, *(entry.version for entry in read_journal(journal))])
    return version
