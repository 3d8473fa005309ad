"""Fixtures of the browser tests: the system Chromium, one per test module, a fresh tab per test, and the
service over the session index on loopback, one per test module."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from browser_support import Tab, chromium

from citeqa.search import Searcher
from eval.bench import loopback_server
from service.app import create_app
from service.settings import Settings


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def tab(browser: Any) -> Iterator[Tab]:
    opened = Tab.open(browser)
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def live_url(app_settings: Settings, searcher: Searcher) -> Iterator[str]:
    with loopback_server(create_app(app_settings, searcher)) as url:
        yield url
