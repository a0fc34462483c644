"""`taskmaster demo --surface agent` in a browser: the streamed task timeline, the
review's buttons at its end, the code channel with its context bar and diff tab, an
agent command typed there, and Slack's Stop button on a session."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from agent.settings import load_settings
from bot.demo import Demo, demo_running, on_surface
from tests.browser.test_demo import RUN_TIMEOUT, review, start_run

pytest.importorskip("playwright", reason="playwright is not installed (pip install playwright)")
from playwright.async_api import Page, expect


@pytest.fixture
async def agent_demo(page: Page, tmp_path: Path) -> AsyncIterator[Demo]:
    """The demo as `taskmaster demo --surface agent` starts it."""
    env = {"TASKMASTER_DATA_DIR": str(tmp_path / "data")}
    settings = on_surface(load_settings(env, env_file=None), "agent")
    async with demo_running(settings, env, port=0) as running:
        yield running
    assert running.slack.refusals == [], "the bot sent what Slack would refuse"


async def test_agent_surface_timeline_code_channel_diff_and_approve_command(
    page: Page, agent_demo: Demo, output_dir: Path
) -> None:
    root, thread = await start_run(page, agent_demo, "TASK-101")
    first = review(thread, 1)
    await expect(first.get_by_role("button", name="Approve")).to_be_visible(timeout=RUN_TIMEOUT)
    stream = first.get_by_test_id("stream")  # the review ends the streamed timeline
    tasks = stream.get_by_test_id("task")
    await expect(tasks).to_have_count(7)
    await expect(tasks.first).to_have_attribute("data-status", "complete")
    await expect(stream.locator(".task[data-status=complete]")).to_have_count(5)
    await expect(stream.locator(".task-output")).to_contain_text("17 passed")
    await expect(page.get_by_test_id("stop")).to_be_hidden()  # suspended: no Stop
    await expect(page.locator("#thread-sub")).to_contain_text("suspended")
    await stream.scroll_into_view_if_needed()
    await thread.screenshot(path=output_dir / "timeline.png")

    code = page.get_by_test_id("code-channel")
    await expect(code).to_have_count(1)
    await code.click()
    await expect(page.get_by_test_id("code-bar")).to_contain_text("TASK-101")
    await expect(page.get_by_test_id("code-bar")).to_contain_text("Review 1")
    await page.get_by_test_id("tab-diff").click()
    diff_tab = page.get_by_test_id("diff-tab")
    await expect(diff_tab.locator(".diff .line.add").first).to_be_visible()
    await expect(diff_tab).to_contain_text("src/tasktrack/models.py")
    await page.screenshot(path=output_dir / "diff-tab.png")

    await page.get_by_test_id("tab-messages").click()
    composer = page.get_by_test_id("composer")
    await composer.fill("/approve")
    await composer.press("Enter")
    await expect(page.get_by_test_id("code-bar")).to_contain_text(
        re.compile("PR #1"), timeout=RUN_TIMEOUT
    )
    await expect(page.get_by_test_id("code-bar")).to_contain_text("archived")
    await expect(page.get_by_test_id("messages")).to_contain_text("Pull request")
    await page.get_by_test_id("channel").click()
    await expect(root).to_contain_text("Done", timeout=RUN_TIMEOUT)
    await page.screenshot(path=output_dir / "done.png")


async def test_agent_surface_stop_button_cancels_the_run(
    page: Page, agent_demo: Demo, output_dir: Path
) -> None:
    root, thread = await start_run(page, agent_demo, "TASK-101")
    await expect(review(thread, 1).get_by_role("button", name="Approve")).to_be_visible(
        timeout=RUN_TIMEOUT
    )
    # The scripted model reaches the review in a moment, so the session is put back to
    # `processing` here, as the bot does while its agent works: Slack then shows Stop.
    slack = agent_demo.slack
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
    thread_ts = await root.get_attribute("data-ts")
    assert thread_ts is not None
    await client.agents_sessions_setStatus(
        channel_id="C_GENERAL", thread_ts=thread_ts, status="processing"
    )
    stop = page.get_by_test_id("stop")
    await expect(stop).to_be_visible()
    await thread.screenshot(path=output_dir / "stop.png")
    await stop.click()
    await expect(root).to_contain_text("Cancelled", timeout=RUN_TIMEOUT)
    await expect(page.locator("#thread-sub")).to_contain_text("closed")
    await expect(stop).to_be_hidden()
