"""`taskmaster demo` in a browser, end to end: the real bot, the demo repository and tickets,
the scripted model, LocalSlack's page; a person types, reads and clicks."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agent.settings import load_settings
from bot.demo import Demo, demo_running

pytest.importorskip("playwright", reason="playwright is not installed (pip install playwright)")
from playwright.async_api import Locator, Page, expect

RUN_TIMEOUT = 60_000  # ms for the agent to reach the next review: tests of the demo repo run


@pytest.fixture
async def demo(page: Page, tmp_path: Path) -> AsyncIterator[Demo]:
    """The demo on a free port, its data in tmp_path (`page` first: skip before starting)."""
    env = {"TASKMASTER_DATA_DIR": str(tmp_path / "data")}
    async with demo_running(load_settings(env, env_file=None), env, port=0) as running:
        yield running
    assert running.slack.refusals == [], "the bot sent what Slack would refuse"


async def start_run(page: Page, demo: Demo, ticket: str) -> tuple[Locator, Locator]:
    """Type the command; the run's thread opens by itself: (root message, thread pane)."""
    await page.goto(demo.url)
    composer = page.get_by_test_id("composer")
    await composer.fill(f"/taskmaster {ticket}")
    await composer.press("Enter")
    root = page.get_by_test_id("messages").locator(".msg").filter(has_text=f"{ticket}:")
    await expect(root).to_have_count(1)
    thread = page.get_by_test_id("thread")
    await expect(thread).to_be_visible()
    await expect(thread.locator(".msg").first).to_contain_text(f"{ticket}:")
    return root, thread


def review(thread: Locator, iteration: int) -> Locator:
    header = thread.page.locator("[data-block-type=header]", has_text=f"Review {iteration} of")
    return thread.locator(".msg").filter(has=header)


async def test_approve_in_the_browser_opens_a_pull_request(
    page: Page, demo: Demo, output_dir: Path
) -> None:
    root, thread = await start_run(page, demo, "TASK-101")
    first = review(thread, 1)
    buttons = first.locator(".b-actions button")
    await expect(buttons).to_have_text(
        ["Approve", "Request changes", "Reject"], timeout=RUN_TIMEOUT
    )
    await expect(first.locator(".diff .line.add").first).to_be_visible()
    await expect(first.locator(".diff .line.del").first).to_be_visible()
    await expect(first).to_contain_text("src/tasktrack/models.py")
    attached = thread.locator(".file").filter(has_text="review 1 diff")
    await expect(attached.locator(".diff .line.add").first).to_be_visible()
    await expect(root).to_contain_text("Awaiting review")
    await first.scroll_into_view_if_needed()
    await thread.screenshot(path=output_dir / "review.png")

    await buttons.get_by_text("Approve").click()
    await expect(first).to_contain_text("Approved by @ana")
    await expect(first.locator(".b-actions button")).to_have_count(0)
    pull_request = thread.get_by_role("link", name=re.compile(r"#1 \[TASK-101\]"))
    await expect(pull_request).to_be_visible(timeout=RUN_TIMEOUT)
    await expect(root).to_contain_text("Done", timeout=RUN_TIMEOUT)
    await expect(root.get_by_role("link", name=re.compile("pull request"))).to_be_visible()
    await expect(root.get_by_role("button", name="Cancel")).to_have_count(0)
    await pull_request.scroll_into_view_if_needed()
    await page.screenshot(path=output_dir / "done.png")


async def test_request_changes_through_the_modal_gives_a_second_review(
    page: Page, demo: Demo, output_dir: Path
) -> None:
    root, thread = await start_run(page, demo, "TASK-101")
    first = review(thread, 1)
    await first.get_by_role("button", name="Request changes").click(timeout=RUN_TIMEOUT)
    modal = page.get_by_test_id("modal")
    await expect(modal.get_by_role("dialog")).to_contain_text("What should change?")
    feedback = "Also cover a task due yesterday."
    await modal.get_by_label("What should change?").fill(feedback)
    await page.screenshot(path=output_dir / "modal.png")
    await modal.get_by_role("button", name="Send").click()
    await expect(modal).to_be_hidden()
    await expect(first).to_contain_text("Changes requested by @ana")

    second = review(thread, 2)
    await expect(second.locator("[data-block-type=header]")).to_have_text(
        re.compile("Review 2 of 4"), timeout=RUN_TIMEOUT
    )
    await expect(second.get_by_role("button", name="Approve")).to_be_visible()
    await expect(thread).to_contain_text(feedback)
    # The page redraws the thread on every change: wait until the run is at rest (its
    # diff attached, the root awaiting review) before scrolling to take the picture.
    await expect(thread.locator(".file").filter(has_text="review 2 diff")).to_be_visible()
    await expect(root).to_contain_text("Awaiting review")
    await second.scroll_into_view_if_needed()
    await thread.screenshot(path=output_dir / "second-review.png")
