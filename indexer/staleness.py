"""Is an index folder up to date for a corpus and settings? (used by make run / --if-stale)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from corpus.types import Document
from indexer.errors import IndexMismatchError
from indexer.index_folder import corpus_fingerprint, read_manifest
from indexer.index_settings import IndexSettings
from indexer.load import load_index
from indexer.text_rules import TEXT_RULES, changes_since


def index_is_current(folder: Path, documents: list[Document], model: str, settings: IndexSettings) -> bool:
    """Whether the index at ``folder`` holds these documents with these settings, and the service would
    open it as it is (checksums, dimensions and counts checked as at start-up)."""
    if not Path(folder).exists() or index_damage(folder, model) is not None:
        return False
    manifest = read_manifest(folder)
    return (
        not lacks_sentences(manifest)
        and manifest["model"]["name"] == model
        and manifest["corpus"]["fingerprint"] == corpus_fingerprint(documents)
        and all(manifest.get(key) == value for key, value in settings.manifest_view().items())
        and not predates_text_rules(manifest, documents)
    )


def index_damage(folder: Path, model: str) -> str | None:
    """Why the service would refuse to open the index at ``folder`` with ``model`` (a damaged or missing
    file, a manifest that does not match its segments, another model), without the rebuild hint that
    ends the message; None when it opens, or when there is nothing at ``folder``."""
    if not Path(folder).exists():
        return None
    try:
        load_index(folder, expected_model=model, mmap=True)
    except IndexMismatchError as err:
        return str(err).split("; rebuild it from", 1)[0]
    return None


def predates_text_rules(manifest: dict[str, Any], documents: Sequence[Document]) -> bool:
    """Whether the index was cut and tokenized by older text rules (indexer.text_rules) that read this
    corpus differently (a corpus in which no rule since changed anything, say English, is read alike)."""
    return bool(text_rules_missed(manifest, documents))


def text_rules_missed(manifest: dict[str, Any], documents: Sequence[Document]) -> str:
    """What the current text rules read differently in ``documents`` from those the index was built by,
    as "A and B" ("" when nothing)."""
    rules = int(manifest.get("text_rules", 1))
    if rules >= TEXT_RULES:
        return ""
    return " and ".join(changes_since(rules, (d.text for d in documents)))


def index_predates_text_rules(folder: Path, documents: Sequence[Document]) -> str:
    """``text_rules_missed`` of the index at ``folder`` ("" when there is no index)."""
    try:
        return text_rules_missed(read_manifest(folder), documents)
    except IndexMismatchError:
        return ""


def stored_text_predates_text_rules(folder: Path) -> str:
    """What the current text rules read differently in the stored documents (writes included) of the
    index at ``folder`` from the older ones it was built by ("" when nothing, or when it cannot be
    read)."""
    from indexer.recover import stored_documents

    try:
        manifest = read_manifest(folder)
        if int(manifest.get("text_rules", 1)) >= TEXT_RULES:
            return ""
        return text_rules_missed(manifest, stored_documents(folder))
    except IndexMismatchError:
        return ""


def lacks_sentences(manifest: dict[str, Any]) -> bool:
    """Whether a segment of the index stores no sentence vectors (written by an earlier release)."""
    return any(entry.get("sentences") is None for entry in manifest.get("segments", []))


def index_lacks_sentences(folder: Path) -> bool:
    """``lacks_sentences`` of the index at ``folder`` (False when there is no index)."""
    try:
        return lacks_sentences(read_manifest(folder))
    except IndexMismatchError:
        return False


def live_version(folder: Path) -> int:
    """The version of the index's newest commit (0 when there is no index): above 1, the index has been
    changed by writes since it was built from its corpus."""
    try:
        return int(read_manifest(folder).get("version", 1))
    except IndexMismatchError:
        return 0


def changed_by_writes(folder: Path) -> bool:
    """Whether writes have changed the index since it was built from its corpus (a write clears the
    manifest's corpus fingerprint)."""
    try:
        manifest = read_manifest(folder)
    except IndexMismatchError:
        return False
    # A manifest that lost its version (a hand edit) is not taken for a fresh build: the cleared
    # fingerprint is the writes' mark.
    version = manifest.get("version")
    return manifest.get("corpus", {}).get("fingerprint") is None and (
        not isinstance(version, int) or version > 1
    )
