"""Helpers for the browser tests: headless Chromium (Debian's ``chromium``) driven by Playwright, a
static file server for the cross-origin example, a watcher of what a page logs, and screenshots.

Playwright's own browser download (``playwright install``) is not used: the tests launch the system
``chromium``. Without it (or without the playwright package) the tests fail under CI=true and are
skipped with the reason elsewhere.
"""

from __future__ import annotations

import functools
import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Dialog, Page

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INSTALL_HINT = "as root: apt-get update && apt-get install -y chromium (or `make browser-deps`)"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
REPO = Path(__file__).resolve().parents[1]


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def missing_browser() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is missing; install the test extra: pip install -e '.[test]'"
    if shutil.which("chromium") is None:
        return f"the chromium browser is not installed; {INSTALL_HINT}"
    return None


@contextmanager
def chromium() -> Iterator[Browser]:
    """The system Chromium, headless; fails under CI and skips elsewhere when it cannot run."""
    problem = missing_browser()
    if problem:
        if in_ci():
            pytest.fail(f"browser tests cannot run: {problem}", pytrace=False)
        pytest.skip(problem)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Tab:
    """A page and what it reported: console errors, uncaught exceptions and dialogs (alert & co)."""

    page: Page
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    @classmethod
    def open(cls, browser: Browser, viewport: dict[str, int] = DESKTOP) -> Tab:
        context = browser.new_context(viewport=viewport, service_workers="block")
        context.set_default_timeout(60_000)
        tab = cls(context.new_page())
        tab.page.on("console", tab._on_console)
        tab.page.on("pageerror", lambda error: tab.errors.append(f"uncaught: {error}"))
        tab.page.on("dialog", tab._on_dialog)
        return tab

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def _on_dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def unexpected_errors(self, *allowed: str) -> list[str]:
        """Console errors other than those containing one of ``allowed``."""
        return [e for e in self.errors if not any(a in e for a in allowed)]

    def close(self) -> None:
        self.page.context.close()


def screenshot(page: Page, name: str, viewport: dict[str, int] | None = None) -> Path:
    """Save test-artifacts/NAME.png (the viewport), after resizing to ``viewport`` if given."""
    if viewport is not None:
        page.set_viewport_size(viewport)
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def static_server(folder: Path) -> Iterator[str]:
    """Serve ``folder`` (as `python -m http.server` does) on 127.0.0.1, a free port, in a thread."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, name="static-test-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
