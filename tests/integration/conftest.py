"""Fixtures of the browser tests: the system Chromium, one per test module, and a fresh tab per test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from browser_support import Tab, chromium


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def tab(browser: Any) -> Iterator[Tab]:
    opened = Tab.open(browser)
    yield opened
    opened.close()
