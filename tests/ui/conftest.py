"""Browser tests: Debian's chromium driven by Playwright against a live ``runyard server``.

Pages are exercised as a person uses them, by the names on screen; a test fails on any console
error or uncaught exception in the page.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, sync_playwright

from runyard.ui.mount import is_built
from tests.conftest import ServerPool
from tests.support.servers import LiveServer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Probes whose 4xx the UI reads as an answer: the identity endpoint ("auth off") and the traces search
# ("no traces" on a server without tracing). The browser logs every 4xx fetch as a console error, so
# these requests' load failures are not counted; anything else the page logs is.
EXPECTED_FAILURES = ("/api/v1/auth/me", "/api/3.0/mlflow/traces/search")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # One browser per xdist worker: keep all browser tests on one worker.
    for item in items:
        if "tests/ui/" in str(item.fspath):
            item.add_marker(pytest.mark.xdist_group("ui"))


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Playwright]:
    # While open, Playwright's sync API keeps an asyncio loop marked running on this worker's main
    # thread: a test sharing the worker must run its own event loop in another thread.
    if not shutil.which("chromium") and not shutil.which("/usr/bin/chromium"):
        pytest.fail("chromium is not installed (scripts/test installs Debian's package)")
    if not is_built():
        pytest.fail("the web UI bundle is not built: run scripts/build-ui")
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def ui_server(server_pool: ServerPool) -> LiveServer:
    return server_pool.get("sqlite")


@dataclass
class ConsoleLog:
    """Console errors of a page; a test that provokes an API error on purpose names its path in ``expected``."""

    errors: list[str] = field(default_factory=list)
    expected: list[str] = field(default_factory=lambda: list(EXPECTED_FAILURES))

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        where = message.location.get("url", "") if message.location else ""
        if "Failed to load resource" in message.text and any(path in where for path in self.expected):
            return
        self.errors.append(f"{message.text} ({where})")


@pytest.fixture
def console() -> ConsoleLog:
    return ConsoleLog()


@pytest.fixture
def page(browser: Browser, ui_server: LiveServer, console: ConsoleLog) -> Iterator[Page]:
    context = browser.new_context(base_url=ui_server.url, viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.on("console", console.on_console)
    page.on("pageerror", lambda error: console.errors.append(f"uncaught: {error}"))
    yield page
    context.close()
    assert console.errors == [], "console errors in the page"


@pytest.fixture
def tracking(ui_server: LiveServer, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The real mlflow client on the UI's server."""
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_URI", ui_server.url)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    return MlflowClient(tracking_uri=ui_server.url)
