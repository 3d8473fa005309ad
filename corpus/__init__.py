"""Source documents, their metadata, and the loaders that turn them into typed Documents."""

from pathlib import Path

DEFAULT_CORPUS_DIR = Path(__file__).resolve().parent / "documents"
