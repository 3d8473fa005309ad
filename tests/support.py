"""Helpers shared by the test files (imported as ``support``; pytest puts tests/ on sys.path)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from corpus.types import Document

BAILEY_ID = "bailey-baby-milia"
OVERVIEW_ID = "milia-overview"
ALLOWED_ORIGIN = "http://example.test"
BANNER = "FREE Shipping on orders $199 or more"
CITEQA_BIN = Path(sys.executable).parent / "citeqa"


def write_document(folder: Path, name: str, text: str | bytes, meta: dict[str, Any] | str | None) -> Path:
    """Write NAME.txt (and NAME.json unless ``meta`` is None) into ``folder``; returns the .txt path."""
    folder.mkdir(parents=True, exist_ok=True)
    text_path = folder / f"{name}.txt"
    text_path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    if meta is not None:
        raw = meta if isinstance(meta, str) else json.dumps(meta)
        (folder / f"{name}.json").write_text(raw, encoding="utf-8")
    return text_path


def folder_digest(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` (manifest included), by relative path."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def swap_leftovers(destination: Path) -> list[str]:
    """Names of temporary (.NAME.tmp-*) or displaced (.NAME.old-*) siblings of an index folder."""
    return sorted(p.name for p in destination.parent.glob(f".{destination.name}.*"))


class FailingEncoder:
    """Wraps a real encoder and raises on the ``fail_on``-th call of encode (1-based): a crash mid-build."""

    def __init__(self, inner: Any, fail_on: int = 2, error: BaseException | None = None) -> None:
        self.inner = inner
        self.name = inner.name
        self.dimension = inner.dimension
        self.fail_on = fail_on
        self.calls = 0
        self.error = error or RuntimeError("simulated crash while embedding")

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        self.calls += 1
        if self.calls >= self.fail_on:
            raise self.error
        return self.inner.encode(texts, batch_size=batch_size)


def cli_env() -> dict[str, str]:
    """The current environment without CITEQA_* settings, offline, with a wide terminal for rich."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEQA_")}
    env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "COLUMNS": "250", "NO_COLOR": "1"})
    return env


def run_cli(
    args: Sequence[str], cwd: Path, timeout: float = 180, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the venv's ``citeqa`` console script (``env`` adds variables to ``cli_env()``)."""
    return subprocess.run(
        [str(CITEQA_BIN), *args],
        cwd=cwd,
        env={**cli_env(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def one_line(text: str) -> str:
    """Collapse whitespace (rich wraps long messages)."""
    return " ".join(text.split())


def squeeze(text: str) -> str:
    """``text`` without whitespace: the terminal wraps a long path anywhere, even inside it."""
    return "".join(text.split())


def cli_index(corpus: Path, destination: Path, *extra: str) -> tuple[int, str]:
    """``citeqa index --corpus CORPUS --index DESTINATION EXTRA...`` in process: its exit code and its
    output, squeezed; anything but a clean exit is a test failure."""
    from typer.testing import CliRunner

    from service.cli.app import app

    result = CliRunner().invoke(app, ["index", "--corpus", str(corpus), "--index", str(destination), *extra])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, squeeze(result.output)


class CountingEncoder:
    """The real encoder, counting its calls and texts."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.name, self.dimension = inner, inner.name, inner.dimension
        self.calls: list[int] = []
        self.texts: list[str] = []

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        self.calls.append(len(texts))
        self.texts.extend(texts)
        return self.inner.encode(texts, batch_size=batch_size)


SYNTHETIC_WORDS = (
    "rye dough crust oven loaf salt yeast flour starter proof bake crumb knead water steam".split()
)


def synthetic_content(vectors: Any, seed: int = 0) -> Any:
    """A segment's content of one short document per vector (random words), the vectors as they are."""
    from indexer.lexical import tokenize
    from indexer.segment import SegmentContent
    from indexer.types import Passage

    rng = np.random.default_rng(seed)
    documents, passages = [], []
    for n in range(len(vectors)):
        text = " ".join(rng.choice(SYNTHETIC_WORDS, 8))
        documents.append(Document(doc_id=f"s{n}", title=f"S {n}", text=text))
        passages.append(Passage(n, f"s{n}", 0, len(text), text))
    return SegmentContent(
        documents, passages, np.asarray(vectors, dtype=np.float32), tokenize([p.text for p in passages])
    )


def write_synthetic_index(
    folder: Path, vectors: Any, segment_sizes: list[int], index_type: str = "flat"
) -> Path:
    """An index folder of synthetic documents with the given vectors, one segment per size."""
    from indexer.build import IndexSettings, new_manifest, write_fresh

    assert sum(segment_sizes) == len(vectors) and len(set(segment_sizes[:-1])) <= 1
    settings = IndexSettings(shard_size=segment_sizes[0], index_type=index_type)
    manifest = new_manifest("synthetic", int(vectors.shape[1]), settings, "synthetic")
    write_fresh(folder, synthetic_content(vectors), manifest, settings, version=1)
    return folder


def assert_exact_sentences(index: Any) -> None:
    """Every stored sentence of every segment of ``index`` (a LoadedIndex) cites exactly: it lies inside its
    passage, is one of that passage's sentences as the answer layer splits them, and its stored vector is
    its text's (a unit vector); a segment of this release stores them all."""
    from indexer.sentences import passage_sentences

    for segment in index.segments:
        reader = segment.reader
        assert reader.sentences is not None and reader.sentence_vectors is not None
        rows = reader.sentences
        expected = []
        for row in range(reader.n_passages):
            passage = reader.passage(row, 0)
            text = reader.document(int(reader.doc_rows[row])).text
            expected.extend(
                (row, s.start, s.end) for s in passage_sentences(text, passage.start, passage.end)
            )
        got = list(zip(rows.passage_rows.tolist(), rows.starts.tolist(), rows.ends.tolist(), strict=True))
        assert got == expected
        for text, row in reader.sentence_rows_by_text().items():
            document = reader.document(int(reader.doc_rows[rows.passage_rows[row]]))
            assert document.text[rows.starts[row] : rows.ends[row]] == text
        assert np.allclose(np.linalg.norm(reader.sentence_vectors, axis=1), 1.0, atol=1e-4)


def distinct_sentence_texts(passages: Sequence[Any], documents: Any) -> list[str]:
    """The distinct sentence texts of ``passages`` (documents: doc_id -> Document), as a write embeds them."""
    from indexer.sentences import passage_sentences

    texts: dict[str, None] = {}
    for passage in passages:
        text = documents[passage.doc_id].text
        for span in passage_sentences(text, passage.start, passage.end):
            texts.setdefault(text[span.start : span.end])
    return list(texts)


def remove_sentence_files(folder: Path) -> None:
    """Make ``folder`` (a format-2 index) what the release before stored sentences wrote: no sentence files,
    no ``sentences`` count in its segment entries, none listed in its manifest."""
    remove_sentence_lexical_files(folder)
    manifest_path = folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    for entry in manifest["segments"]:
        entry.pop("sentences", None)
        for name in ("sentences.arrow", "sentence_vectors.npy"):
            relative = f"segments/{entry['name']}/{name}"
            (folder / relative).unlink()
            del manifest["files"][relative]
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")


def remove_sentence_lexical_files(folder: Path) -> None:
    """Make ``folder`` (a format-2 index) what the release before sentence postings were stored wrote: no
    ``sentence_lexical/`` folder, no ``sentence_lexical`` count in its segment entries, none listed in its
    manifest (sentence rows and vectors kept)."""
    manifest_path = folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    for entry in manifest["segments"]:
        entry.pop("sentence_lexical", None)
        prefix = f"segments/{entry['name']}/sentence_lexical/"
        for relative in [f for f in manifest["files"] if f.startswith(prefix)]:
            (folder / relative).unlink()
            del manifest["files"][relative]
        if (folder / prefix).is_dir():
            (folder / prefix).rmdir()
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")


@contextmanager
def documents_client(
    documents: Sequence[Document], folder: Path, encoder: Any, source: str = "documents written by the test"
) -> Iterator[Any]:
    """A TestClient of the real app, built as the service builds it from its settings, over an index of
    ``documents`` written into ``folder``; the app starts and stops with the block."""
    from fastapi.testclient import TestClient

    from indexer.build import IndexSettings, build_index
    from indexer.embedding import DEFAULT_MODEL
    from service.app import create_app
    from service.settings import Settings
    from service.wiring import build_searcher

    build_index(list(documents), encoder, folder, IndexSettings(), source)
    settings = Settings(index_path=folder, model=DEFAULT_MODEL)
    with TestClient(create_app(settings, build_searcher(settings, encoder))) as client:
        yield client


QUESTION_ENCODERS: dict[tuple[int, str], Any] = {}


def writable_client(index: Path, encoder: Any, **settings: Any) -> Any:
    """A TestClient of the real app over ``index`` (a copy the test may change) with the session's
    encoder for passages and the service's question encoder (the question tower unless the settings turn
    it off; loaded once per process); ``settings`` are Settings fields (e.g. ``api_keys=[...]``)."""
    from fastapi.testclient import TestClient

    from citeqa.search import Searcher
    from indexer.embedding import DEFAULT_MODEL
    from indexer.load import load_index
    from service.app import create_app
    from service.settings import Settings
    from service.wiring import build_answerer, build_question_encoder

    config = Settings(index_path=index, model=DEFAULT_MODEL, **settings)
    key = (id(encoder), str(config.question_tower_path))
    if key not in QUESTION_ENCODERS:
        QUESTION_ENCODERS[key] = build_question_encoder(config, encoder)
    searcher = Searcher(load_index(index), encoder, question_encoder=QUESTION_ENCODERS[key])
    answerer = build_answerer(config, searcher)
    return TestClient(create_app(config, answerer=answerer))


@contextmanager
def unwritable(*folders: Path) -> Iterator[None]:
    """``folders`` made unwritable for this process, as a read-only mount or another user's folder is: as
    root (whom permission bits do not stop) with the immutable attribute (`chattr +i`, EPERM), otherwise
    by taking the write bits away (EACCES). Skips the test where neither refuses a write here."""
    import pytest

    as_root = os.geteuid() == 0
    made: list[Path] = []
    try:
        for folder in folders:
            if as_root:
                done = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, check=False)
                if done.returncode != 0:
                    pytest.skip(f"chattr +i is refused here: {done.stderr.decode(errors='replace')}")
            else:
                folder.chmod(0o555)
            made.append(folder)
        try:
            (folders[0] / ".write-check").touch()
        except OSError:
            pass
        else:
            pytest.skip(f"{folders[0]} is still writable after chattr +i / chmod 555")
        yield
    finally:
        for folder in made:
            if as_root:
                subprocess.run(["chattr", "-i", str(folder)], check=True)
            else:
                folder.chmod(0o755)


def record_passage_encoders(monkeypatch: Any) -> list[Any]:
    """A spy around ``service.wiring.build_passage_encoder`` (the real function still makes every
    encoder): the returned list holds each encoder made, in order, for the test to check its kind."""
    import service.wiring

    real_build, made = service.wiring.build_passage_encoder, []

    def passage_encoder(settings: Any) -> Any:
        made.append(real_build(settings))
        return made[-1]

    monkeypatch.setattr(service.wiring, "build_passage_encoder", passage_encoder)
    return made
