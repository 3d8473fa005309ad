"""What the search page offers before a question: example questions, the search box's placeholder and the
corpus's name (GET /examples), so the page fits whatever corpus is served.

They come from the first of:

1. the settings: CITEQA_EXAMPLE_QUESTIONS (questions separated by ``|``, or a JSON list; empty: none) and
   CITEQA_CORPUS_NAME;
2. ``examples.json`` beside the index folder (``var/examples.json`` for ``var/index``):
   ``{"corpus": "Bread notes", "questions": ["How long does rye bake?"], "placeholder": "e.g. rye"}``, every
   field optional;
3. the bundled default corpus's own questions, when the index was built from it (its manifest names the
   corpus folder, or the fingerprint of its documents: a moved checkout keeps them);
4. nothing: the page then hides its examples and shows a neutral placeholder.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from corpus import DEFAULT_CORPUS_DIR
from corpus.sources import load_corpus
from indexer.index_folder import corpus_fingerprint

EXAMPLES_FILE = "examples.json"
MAX_EXAMPLES = 8
DEFAULT_CORPUS_EXAMPLES = (
    "What are milia?",
    "Do milia go away on their own in babies?",
    "Is it safe to pop milia with a needle?",
    "How are milia different from baby acne?",
)
DEFAULT_CORPUS_PLACEHOLDER = "e.g. what are milia?"
NEUTRAL_PLACEHOLDER = "Type a question"

logger = logging.getLogger("citeqa.service")


class ExamplesOut(BaseModel):
    corpus: str | None = Field(None, description="the corpus's name, for the page title (CITEQA_CORPUS_NAME)")
    placeholder: str = Field(..., description="the search box's placeholder")
    questions: list[str] = Field(..., description="example questions; empty: the page shows none")


def examples_file(index_path: Path) -> Path:
    return Path(index_path).parent / EXAMPLES_FILE


def read_examples_file(path: Path) -> dict[str, Any] | None:
    """The file's fields, or None when there is no file or it is not a JSON object (logged)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        logger.warning("ignoring %s: not readable JSON (%s)", path, err)
        return None
    if isinstance(record, list):
        record = {"questions": record}
    if not isinstance(record, dict):
        logger.warning("ignoring %s: expected an object with a 'questions' list", path)
        return None
    for problem in field_problems(record):
        logger.warning("%s: %s", path, problem)
    return record


def field_problems(record: Mapping[str, Any]) -> list[str]:
    """What of an examples file's fields is ignored, and why (a field of the wrong type is dropped alone)."""
    problems = []
    questions = record.get("questions")
    if questions is not None and not isinstance(questions, list):
        problems.append("ignoring 'questions': expected a list of strings")
    elif questions and (others := sum(not isinstance(q, str) for q in questions)):
        problems.append(f"ignoring {others} item(s) of 'questions' that are not strings")
    for name in ("corpus", "placeholder"):
        if record.get(name) is not None and not isinstance(record[name], str):
            problems.append(f"ignoring {name!r}: expected a string")
    if unknown := sorted(set(record) - {"questions", "corpus", "placeholder"}):
        named = ", ".join(map(repr, unknown))
        problems.append(f"ignoring unknown field(s) {named}: expected questions, corpus, placeholder")
    return problems


def clean_questions(values: Any) -> list[str]:
    if not isinstance(values, list):
        return []
    return [v.strip() for v in values if isinstance(v, str) and v.strip()][:MAX_EXAMPLES]


def built_from_default_corpus(manifest: Mapping[str, Any]) -> bool:
    """Whether the manifest names the bundled corpus: its folder, or (the checkout or index moved since the
    build, which the folder's absolute path does not survive) its documents' fingerprint."""
    corpus = manifest.get("corpus") or {}
    source, fingerprint = corpus.get("source"), corpus.get("fingerprint")
    try:
        if source and Path(source).resolve() == DEFAULT_CORPUS_DIR.resolve():
            return True
    except (OSError, TypeError, ValueError):
        return False
    return isinstance(fingerprint, str) and fingerprint == default_corpus_fingerprint()


@functools.cache
def default_corpus_fingerprint() -> str | None:
    """The bundled corpus's fingerprint as an index build records it (None if it cannot be read)."""
    try:
        return corpus_fingerprint(load_corpus(DEFAULT_CORPUS_DIR))
    except Exception:  # a damaged install: then only its folder names the bundled corpus
        logger.warning("cannot read the bundled corpus at %s", DEFAULT_CORPUS_DIR, exc_info=True)
        return None


def page_examples(
    questions: list[str] | None, corpus_name: str | None, index_path: Path, manifest: Mapping[str, Any]
) -> ExamplesOut:
    """The examples of the served index (see the module's docstring for the order)."""
    found: dict[str, Any] = {}
    if questions is not None:
        found = {"questions": questions}
    else:
        found = read_examples_file(examples_file(index_path)) or {}
        if not found and built_from_default_corpus(manifest):
            found = {"questions": list(DEFAULT_CORPUS_EXAMPLES), "placeholder": DEFAULT_CORPUS_PLACEHOLDER}
    chosen = clean_questions(found.get("questions"))
    placeholder = found.get("placeholder")
    if not isinstance(placeholder, str) or not placeholder.strip():
        placeholder = f"e.g. {chosen[0]}" if chosen else NEUTRAL_PLACEHOLDER
    name = corpus_name or found.get("corpus")
    return ExamplesOut(
        corpus=name.strip() if isinstance(name, str) and name.strip() else None,
        placeholder=placeholder.strip(),
        questions=chosen,
    )
