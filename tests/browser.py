"""Shared Playwright fixtures for the browser tests (Debian's Chromium, headless).

``browser_page`` is registered in tests/conftest.py, so a test module only needs::

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's sync API loop
    from tests.browser import login, screenshot

    @pytest.mark.browser
    def test_something(browser_page, live_server): ...

``browser_page`` is a fresh 1280x800 page per test; console errors (CSP violations
included) are collected in ``page.console_errors`` so a test can assert there are none.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.factories import PASSWORD

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
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
VIEWPORT = {"width": 1280, "height": 800}
SCREENSHOTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"


@pytest.fixture
def browser_page(live_server_pg_cleanup) -> Iterator:
    """A fresh 1280x800 page in its own Chromium (self-contained: importing this one
    fixture is enough)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (run `make browser`)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        context = browser.new_context(viewport=VIEWPORT, locale="de-DE")
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.console_errors = []
        page.on(
            "console",
            lambda message: (
                message.type == "error" and page.console_errors.append(message.text)
            ),
        )
        page.on("pageerror", lambda error: page.console_errors.append(str(error)))
        yield page
        context.close()
        browser.close()


@pytest.fixture(scope="session")
def live_server_pg_cleanup(django_db_setup, django_db_blocker) -> Iterator[None]:
    """At the end of the session, end the PostgreSQL sessions the live server's
    request threads keep open (the browser's keep-alive sockets outlive the tests):
    otherwise PostgreSQL refuses to drop the test database ("being accessed by
    other users"). Torn down before ``django_db_setup``, which it depends on."""
    yield
    from django.db import connection

    with django_db_blocker.unblock():
        if connection.vendor != "postgresql":
            return
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )


def login(page, live_server, username: str, password: str = PASSWORD) -> None:
    """Log in through the real login form and wait for the work list."""
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


def logout(page) -> None:
    page.click("form[action$='/accounts/logout/'] button")
    page.wait_for_url("**/accounts/login/**")


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path
