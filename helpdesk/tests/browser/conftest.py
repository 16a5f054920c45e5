"""Browser tests: Playwright drives Debian's Chromium (/usr/bin/chromium; `playwright
install` cannot download browsers here) against pytest-django's live server.

Every page a test opens is watched: a request to any other host, a console error
or an uncaught exception fails the test. Screenshots of the main screens go to
``artifacts/screenshots/`` (CI keeps them).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings

CHROMIUM = os.environ.get("HELPDESK_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(settings.BASE_DIR) / "artifacts" / "screenshots"
PASSWORD = "pass-Word-123"  # UserFactory's


def pytest_collection_modifyitems(items):
    for item in items:
        if "browser" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser() -> Iterator:
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        message = f"browser tests need Chromium at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    # Playwright's sync API runs an event loop in this thread; Django's ORM refuses
    # to run beside one unless told that the caller knows it is synchronous.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            yield browser
            browser.close()
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


class WatchedPage:
    """A Playwright page plus what it did wrong: outside requests, console errors, page errors."""

    def __init__(self, page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        self.host = urlsplit(base_url).netloc
        self.outside: list[str] = []
        self.errors: list[str] = []
        # A test that opens a page it expects to be refused (404) says so: the
        # browser logs the refused page's status as a console error.
        self.allow_http_errors = False
        page.on("request", self._request)
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        page.on("dialog", lambda dialog: (self.errors.append(f"dialog: {dialog.message}"), dialog.dismiss()))

    def _console(self, message) -> None:
        if message.type != "error":
            return
        if self.allow_http_errors and message.text.startswith("Failed to load resource: the server responded"):
            return
        self.errors.append(f"console: {message.text}")

    def _request(self, request) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in ("data", "blob", "about"):
            return
        if parts.netloc != self.host:
            self.outside.append(request.url)

    def goto(self, path: str):
        response = self.page.goto(self.base_url + path)
        return response

    def login(self, user, password: str = PASSWORD) -> None:
        self.goto("/login/")
        self.page.get_by_label("Username").fill(user.username)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_label("Password").press("Enter")
        self.page.wait_for_load_state("networkidle")

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def web(browser, live_server, request) -> Iterator[WatchedPage]:
    """A fresh browser context (no cookies) on the live server, checked after the test."""
    width = getattr(request, "param", 1280)
    context = browser.new_context(viewport={"width": width, "height": 900}, base_url=live_server.url)
    page = context.new_page()
    page.set_default_timeout(10_000)
    watched = WatchedPage(page, live_server.url)
    yield watched
    context.close()
    assert watched.outside == [], f"requests outside the server: {watched.outside}"
    assert watched.errors == [], f"browser errors: {watched.errors}"
