"""Shared, session-scoped fixtures: the real embedding model, the default corpus, an index of it built
once into a temporary folder, the searcher over that index, and an HTTP test client of the real app.

Heavy modules are imported inside the fixtures, so test files that need none of them (metrics, BEIR
loading) do not pay for them. Nothing here writes outside pytest's temporary folders: the
repository's var/ is never touched.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

INTEGRATION = Path(__file__).resolve().parent / "integration"

# The model must load from the installed package, never from the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

    from citeqa.answers import Answerer
    from citeqa.search import Searcher
    from corpus.types import Document
    from indexer.embedding import SentenceTransformerEncoder
    from indexer.load import LoadedIndex
    from service.settings import Settings


@pytest.fixture(scope="session")
def encoder() -> SentenceTransformerEncoder:
    """The real default model (all-MiniLM-L6-v2 from the installed package), loaded once."""
    from indexer.embedding import SentenceTransformerEncoder

    return SentenceTransformerEncoder()


@pytest.fixture(scope="session")
def default_documents() -> list[Document]:
    from corpus import DEFAULT_CORPUS_DIR
    from corpus.loader import load_documents

    return load_documents(DEFAULT_CORPUS_DIR)


@pytest.fixture(scope="session")
def documents_by_id(default_documents: list[Document]) -> dict[str, Document]:
    return {d.doc_id: d for d in default_documents}


@pytest.fixture(scope="session")
def default_index_path(
    tmp_path_factory: pytest.TempPathFactory,
    default_documents: list[Document],
    encoder: SentenceTransformerEncoder,
) -> Path:
    """The default corpus indexed with the default settings. Read-only: copy it (``index_copy``)
    before changing anything in it."""
    from corpus import DEFAULT_CORPUS_DIR
    from indexer.build import IndexSettings, build_index

    path = tmp_path_factory.mktemp("default-index") / "index"
    build_index(default_documents, encoder, path, IndexSettings(), str(DEFAULT_CORPUS_DIR))
    return path


@pytest.fixture(scope="session")
def loaded_index(default_index_path: Path) -> LoadedIndex:
    from indexer.embedding import DEFAULT_MODEL
    from indexer.load import load_index

    return load_index(default_index_path, expected_model=DEFAULT_MODEL)


@pytest.fixture(scope="session")
def app_settings(default_index_path: Path) -> Settings:
    """Service settings for the default index, with one CORS origin allowed."""
    from support import ALLOWED_ORIGIN

    from indexer.embedding import DEFAULT_MODEL
    from service.settings import Settings

    return Settings(index_path=default_index_path, model=DEFAULT_MODEL, cors_origins=[ALLOWED_ORIGIN])


@pytest.fixture(scope="session")
def searcher(app_settings: Settings, loaded_index: LoadedIndex) -> Searcher:
    """The searcher exactly as the service builds it from its settings (model, index, fusion).

    The model is already loaded by the ``encoder`` fixture, so loading it again here is instant.
    """
    from service.wiring import build_searcher

    built = build_searcher(app_settings)
    assert built.index.manifest == loaded_index.manifest
    return built


@pytest.fixture(scope="session")
def answerer(app_settings: Settings, searcher: Searcher) -> Answerer:
    """The answer layer exactly as the service builds it (calibration and dedup from the settings)."""
    from service.wiring import build_answerer

    return build_answerer(app_settings, searcher)


@pytest.fixture(scope="session")
def client(app_settings: Settings, searcher: Searcher) -> Iterator[TestClient]:
    """The real app over the session searcher (its lifespan runs, so nothing is loaded twice)."""
    from fastapi.testclient import TestClient

    from service.app import create_app

    with TestClient(create_app(app_settings, searcher)) as test_client:
        yield test_client


@pytest.fixture
def index_copy(default_index_path: Path, tmp_path: Path) -> Path:
    """A private copy of the default index, free to tamper with or build over."""
    path = tmp_path / "index"
    shutil.copytree(default_index_path, path)
    return path


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/integration/ is ``slow``: ``pytest -m "not slow"`` runs the unit tests alone."""
    for item in items:
        if INTEGRATION in item.path.parents:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def logging_as_it_was() -> Iterator[None]:
    """`citeqa serve` run in process (typer's CliRunner) routes the root logger to the runner's stream, which
    closes when the command returns: every later log record then printed "--- Logging error ---" and a
    traceback into whatever output the next tests read. The root and uvicorn loggers are put back."""
    import logging

    names = ("", "uvicorn", "uvicorn.error", "uvicorn.access")
    saved = {n: (logging.getLogger(n).handlers[:], logging.getLogger(n).level) for n in names}
    flags = {n: (logging.getLogger(n).propagate, logging.getLogger(n).disabled) for n in names}
    yield
    for name in names:
        logger = logging.getLogger(name)
        logger.handlers[:], level = saved[name]
        logger.setLevel(level)
        logger.propagate, logger.disabled = flags[name]
