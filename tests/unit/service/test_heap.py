"""The loaded index is frozen out of the garbage collector's full passes while the app serves, and given
back to it when the app stops (service.heap)."""

from __future__ import annotations

import gc

from fastapi.testclient import TestClient

from citeqa.answers import Answerer
from service.app import create_app
from service.settings import Settings


def in_a_collected_generation(target: object) -> bool:
    return any(any(o is target for o in gc.get_objects(generation)) for generation in range(3))


def test_the_loaded_index_is_skipped_by_collections_while_served(
    app_settings: Settings, answerer: Answerer
) -> None:
    index = answerer.searcher.index
    assert gc.is_tracked(index)
    with TestClient(create_app(app_settings, answerer=answerer)) as client:
        assert client.post("/query", json={"question": "what are milia?"}).status_code == 200
        assert gc.get_freeze_count() > 0
        assert not in_a_collected_generation(index)
    assert gc.get_freeze_count() == 0
    assert in_a_collected_generation(index)
