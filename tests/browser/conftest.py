"""Browser tests: Debian's Chromium driven by Playwright against LocalSlack's page.

They skip (with the reason) only when Playwright or /usr/bin/chromium is missing; CI
installs both. Screenshots go to `test-output/browser/<test name>/` in the repository
root, made afresh for each test.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from localslack import LocalSlack
from tests.localslack.conftest import RecordingApp

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

CHROMIUM = Path("/usr/bin/chromium")
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
OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "browser"
VIEWPORT = {"width": 1400, "height": 900}


def _missing(why: str) -> None:
    """Skip on a developer's machine; fail in CI, where the browser tests must run."""
    if os.environ.get("CI"):
        pytest.fail(f"the browser tests cannot run in CI: {why}")
    pytest.skip(why)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        _missing("playwright is not installed (pip install playwright)")
    if not CHROMIUM.is_file():
        _missing(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    """A fresh page; any uncaught error in the page's scripts fails the test."""
    context = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    opened = await context.new_page()
    opened.set_default_timeout(10_000)
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield opened
    finally:
        await context.close()
    assert not errors, f"the page's scripts failed: {errors}"


@pytest.fixture
def output_dir(request: pytest.FixtureRequest) -> Path:
    """`test-output/browser/<test name>/`, emptied: where this test's screenshots go."""
    folder = OUTPUT / request.node.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


@pytest.fixture
async def ls() -> AsyncIterator[LocalSlack]:
    slack = LocalSlack()
    await slack.start()
    try:
        yield slack
    finally:
        await slack.stop()


@pytest.fixture
def client(ls: LocalSlack) -> AsyncWebClient:
    return AsyncWebClient(token=ls.bot_token, base_url=ls.api_url)


@pytest.fixture
async def app(ls: LocalSlack) -> AsyncIterator[RecordingApp]:
    recording = RecordingApp(ls.signing_secret)
    await recording.start()
    ls.app_url = recording.url
    try:
        yield recording
    finally:
        await recording.runner.cleanup()
