"""Browser tests: Playwright driving Debian's chromium against the real app."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.conftest import REPO

CHROMIUM = os.environ.get("SOCIALFEE_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = REPO / "artifacts"

# As root in a closed network chromium needs these (see the machine notes).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _wait_for_function(self: object, expression: str, *, arg: object = None, timeout: float | None = None,
                       polling: object = None) -> object:
    """Page.wait_for_function without eval: the pages' Content-Security-Policy has no
    'unsafe-eval', which Playwright's own polling needs; evaluate() goes through DevTools."""
    deadline = time.monotonic() + (30_000 if timeout is None else timeout) / 1000
    while True:
        try:
            value = self.evaluate(expression, arg)
        except PlaywrightError as exc:
            if "context was destroyed" not in str(exc):  # a navigation: ask the next page
                raise
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise PlaywrightTimeoutError(f"wait_for_function timed out: {expression}")
        self.wait_for_timeout(50)


Page.wait_for_function = _wait_for_function  # type: ignore[method-assign]


# Other folders import this fixture (tests/installer): each import registers it again, and a
# second sync_playwright inside the first one's loop is refused. One browser per run, shared.
_SHARED: dict[str, object] = {}


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if "browser" in _SHARED:
        yield _SHARED["browser"]
        return
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.fail(f"{CHROMIUM} is missing: ./dev.sh test installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        _SHARED["browser"] = browser
        try:
            yield browser
        finally:
            del _SHARED["browser"]
            browser.close()


class PageProblems:
    """Console errors, failed requests and 5xx answers seen by a page."""

    def __init__(self, page: object) -> None:
        self.items: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.items.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: self.items.append(f"page error: {e}"))
        page.on("requestfailed", self._failed)
        page.on(
            "response",
            lambda r: r.status >= 500 and self.items.append(f"HTTP {r.status} {r.url}"),
        )

    def unexpected(self, *allowed_statuses: int) -> list[str]:
        """Problems, less chromium's console line for a 4xx the test provoked on purpose."""
        allowed = [f"status of {code} " for code in allowed_statuses]
        return [p for p in self.items if not any(a in p for a in allowed)]

    def _failed(self, request: object) -> None:
        # Chromium reports requests cut short by leaving the page (and download navigations)
        # as aborted: the page went away, the request did not fail.
        if "net::ERR_ABORTED" in (request.failure or ""):
            return
        self.items.append(f"request failed: {request.url} {request.failure}")


@pytest.fixture
def app_page(browser: object, ui: object) -> Iterator[tuple[object, PageProblems]]:
    context = browser.new_context(accept_downloads=True, locale="zh-CN", viewport={"width": 1280, "height": 820})
    page = context.new_page()
    problems = PageProblems(page)
    page.goto(ui.launch_url)
    yield page, problems
    context.close()


def screenshot(page: object, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
