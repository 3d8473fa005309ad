"""GET /examples: the search page's example questions, placeholder and corpus name (service.examples)."""

from __future__ import annotations

from fastapi import APIRouter

from service.deps import SearcherDep, SettingsDep
from service.examples import ExamplesOut, page_examples
from service.routes import READ_ACCESS, READ_RESPONSES

router = APIRouter()


@router.get("/examples", response_model=ExamplesOut, responses=READ_RESPONSES, dependencies=READ_ACCESS)
def examples(settings: SettingsDep, searcher: SearcherDep) -> ExamplesOut:
    """What the search page offers before a question; no questions when the corpus has none configured."""
    return page_examples(
        settings.example_questions, settings.corpus_name, settings.index_path, searcher.index.manifest
    )
