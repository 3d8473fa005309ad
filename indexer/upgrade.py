"""Upgrade a format-1 index folder to format 2 (segments) in place, embedding nothing that is stored.

The format-1 documents, passages and vectors become one segment (the passages' sentences, which format 1
did not store, are embedded); writes that its journal
(``<index>.journal.jsonl``) held beyond the checkpoint are applied first (only the documents they add or
change are embedded). The new folder is staged beside the old and swapped in, then the journal is removed:
a crash leaves the format-1 folder and its journal as they were.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from corpus.types import Document
from indexer.build import new_manifest, write_fresh
from indexer.chunking import ChunkerSettings
from indexer.embedding import Encoder, embed_batches
from indexer.errors import IndexMismatchError
from indexer.format1 import format1_manifest_version, load_format1
from indexer.index_folder import (
    DOCUMENTS,
    FORMAT1,
    content_hash,
    document_from_record,
    read_jsonl,
    read_manifest,
)
from indexer.index_settings import IndexSettings, embedding_text, indexed_title
from indexer.journal import journal_path, read_journal
from indexer.lexical import tokenize
from indexer.segment import SegmentContent
from indexer.sentences import SentenceRows, split_sentences
from indexer.writer import prepare_segment


@dataclass(frozen=True)
class UpgradeReport:
    path: Path
    version: int
    documents: int
    passages: int
    embedded_passages: int
    damage: str | None = None  # why the stored vectors could not be kept (then everything was embedded)


def replay_journal(documents: dict[str, Document], version: int, journal: Path) -> int:
    """Apply the writes ``journal`` holds beyond ``version`` to ``documents``; the version they reach."""
    for entry in read_journal(journal):
        if entry.version <= version:
            continue
        for op in entry.ops:
            if op["op"] == "put":
                document = document_from_record(op["document"])
                documents[document.doc_id] = document
            elif op["op"] == "delete":
                documents.pop(op["doc_id"], None)
        version = entry.version
    return version


def format1_version(folder: Path) -> int:
    """The version of the format-1 folder at ``folder`` with its journal's writes (at least 1): its
    manifest's, or its journal's last entry's when above. A manifest version that is not a whole number,
    or a journal that cannot be read, is passed over: the folder is being replaced, not read."""
    try:
        recorded = read_manifest(folder, formats=(FORMAT1,)).get("version", 1)
    except IndexMismatchError:
        recorded = 1
    version = recorded if isinstance(recorded, int) and not isinstance(recorded, bool) else 1
    try:
        entries = read_journal(journal_path(folder))
    except (IndexMismatchError, OSError):
        entries = []
    return max([version, *(e.version for e in entries)])


def upgrade_format1(folder: Path, encoder: Encoder) -> UpgradeReport:
    folder = Path(folder)
    try:
        old = load_format1(folder)
    except IndexMismatchError as err:
        return rebuild_format1_from_stored(folder, encoder, err.damage)
    documents = dict(old.documents)
    journal = journal_path(folder)
    version = replay_journal(documents, old.version, journal)
    settings = IndexSettings.of_manifest(old.manifest)
    if "bm25_title" not in old.manifest:
        # The first release's BM25 read passages without titles; the tokens are made anew below, so the
        # folder takes today's default and stays current for `make run`, its stored vectors kept.
        settings = replace(settings, bm25_title=IndexSettings().bm25_title)
    kept = [
        d
        for d in documents.values()
        if d.doc_id in old.documents and content_hash(old.documents[d.doc_id]) == content_hash(d)
    ]
    fresh = [d for d in documents.values() if d not in kept]
    rows = [p.passage_id for p in old.passages if p.doc_id in {d.doc_id for d in kept}]
    titles = {d.doc_id: indexed_title(d) for d in kept}
    kept_passages = [old.passages[r] for r in rows]
    kept_tokens = tokenize([embedding_text(p, titles[p.doc_id], settings.bm25_title) for p in kept_passages])
    added = prepare_segment(fresh, encoder, settings)
    # Format 1 stored no sentence vectors: the kept passages' sentences are embedded here, once.
    kept_sentences, texts, text_of_row = split_sentences(kept_passages, {d.doc_id: d.text for d in kept})
    kept_sentence_vectors = embed_batches(encoder, texts, settings.batch_size)[text_of_row]
    assert added.sentences is not None and added.sentence_vectors is not None
    content = SegmentContent(
        [*kept, *added.documents],
        [*kept_passages, *added.passages],
        np.concatenate([old.vectors[rows].reshape(len(rows), -1), added.vectors]).astype(np.float32),
        [*kept_tokens, *added.tokens],
        sentences=SentenceRows.concatenate([(kept_sentences, 0), (added.sentences, len(kept_passages))]),
        sentence_vectors=np.concatenate([kept_sentence_vectors, added.sentence_vectors]).astype(np.float32),
    )
    model = old.manifest["model"]
    manifest = new_manifest(
        model["name"], int(model["dimension"]), settings, old.manifest.get("corpus", {}).get("source", "")
    )
    manifest["text_rules"] = 1  # the kept passages were cut by the rules of format 1's release
    # Format 1 counted every write in its version (its rule: above 1, changed by writes, kept by `citeqa
    # index --if-stale`), and a checkpoint recorded the fingerprint of the documents it then held; format 2
    # clears the fingerprint on a write. So only a folder never written keeps its corpus fingerprint.
    if version == 1:
        manifest["corpus"] = {**old.manifest.get("corpus", {})}
    write_fresh(folder, content, manifest, settings, version)
    journal.unlink(missing_ok=True)
    return UpgradeReport(folder, version, len(content.documents), len(content.passages), len(added.passages))


def rebuild_format1_from_stored(folder: Path, encoder: Encoder, damage: str) -> UpgradeReport:
    """A format-1 folder whose vectors or manifest fields cannot be read (damaged, or a field missing)
    becomes format 2 from its stored documents (documents.jsonl, a plain file, and the journal's writes),
    every passage and sentence embedded anew, so that what was written into it is kept; settings its
    manifest lacks are the defaults. Unreadable stored documents are refused, naming the corpus build."""
    manifest = read_manifest(folder, formats=(FORMAT1,))
    old_version = format1_manifest_version(manifest, folder)
    unreadable = (
        f"index at {folder} is damaged ({damage}) and its stored documents cannot be read ({{why}}); "
        f"replace it from the corpus with `citeqa index --force --index {folder}` (what was written into "
        "it is then lost: restore the folder from a backup to keep it)"
    )
    try:
        documents = {r["doc_id"]: document_from_record(r) for r in read_jsonl(folder / DOCUMENTS)}
    except (IndexMismatchError, OSError, ValueError, KeyError, TypeError) as err:
        raise IndexMismatchError(unreadable.format(why=err)) from None
    version = replay_journal(documents, old_version, journal_path(folder))
    defaults = IndexSettings()
    try:  # every document is cut anew: a chunker that cannot be read is today's
        chunker = ChunkerSettings(**manifest["chunker"])
    except (KeyError, TypeError, ValueError):
        chunker = defaults.chunker
    settings = IndexSettings(
        chunker=chunker,
        embed_title=bool(manifest.get("embed_title", defaults.embed_title)),
        # Every passage is tokenized anew: without a recorded bm25_title, today's, as upgrade_format1 takes.
        bm25_title=bool(manifest.get("bm25_title", defaults.bm25_title)),
        index_type=str(manifest.get("index_type", defaults.index_type)),
    )
    content = prepare_segment(list(documents.values()), encoder, settings)
    source = (manifest.get("corpus") or {}).get("source", "")
    new = new_manifest(encoder.name, encoder.dimension, settings, source)
    if version == 1 and manifest.get("corpus"):
        new["corpus"] = {**manifest["corpus"]}
    write_fresh(folder, content, new, settings, version)
    journal_path(folder).unlink(missing_ok=True)
    return UpgradeReport(
        folder, version, len(content.documents), len(content.passages), len(content.passages), damage
    )
