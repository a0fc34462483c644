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
    attached = thread.locator(".file").filter(has_text="review 1, the whole change")
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
    await expect(
        thread.locator(".file").filter(has_text="review 2, the whole change")
    ).to_be_visible()
    await expect(root).to_contain_text("Awaiting review")
    await second.scroll_into_view_if_needed()
    await thread.screenshot(path=output_dir / "second-review.png")


@pytest.fixture
async def demo_with_approvers(page: Page, tmp_path: Path) -> AsyncIterator[Demo]:
    """The demo where ana and ben approve (TASKMASTER_APPROVERS)."""
    env = {"TASKMASTER_DATA_DIR": str(tmp_path / "data"), "TASKMASTER_APPROVERS": "U_ANA,U_BEN"}
    async with demo_running(load_settings(env, env_file=None), env, port=0) as running:
        yield running
    assert running.slack.refusals == [], "the bot sent what Slack would refuse"


async def request_changes(page: Page, review: Locator, feedback: str) -> None:
    await review.get_by_role("button", name="Request changes").click(timeout=RUN_TIMEOUT)
    modal = page.get_by_test_id("modal")
    await modal.get_by_label("What should change?").fill(feedback)
    await modal.get_by_role("button", name="Send").click()
    await expect(modal).to_be_hidden()


async def test_changes_twice_on_task_102_then_approve_ticks_every_step(
    page: Page, demo_with_approvers: Demo, output_dir: Path
) -> None:
    demo = demo_with_approvers
    root, thread = await start_run(page, demo, "TASK-102")
    await expect(page.get_by_test_id("notice")).to_contain_text("scripted")

    first = review(thread, 1)
    await expect(first.locator("[data-block-type=header]")).to_have_text(
        re.compile("Review 1 of 4"), timeout=RUN_TIMEOUT
    )
    await expect(first).to_contain_text("@ana @ben: the change for TASK-102 is ready for review")
    await expect(first).to_contain_text("@ana, @ben may approve")
    await request_changes(page, first, "Also check that snoozing keeps the task's id.")

    second = review(thread, 2)
    await expect(second.get_by_role("button", name="Approve")).to_be_visible(timeout=RUN_TIMEOUT)
    await expect(second).to_contain_text("Changes since review 1")
    await request_changes(page, second, "And cover snoozing a task that is already late.")

    third = review(thread, 3)
    await expect(third.get_by_role("button", name="Approve")).to_be_visible(timeout=RUN_TIMEOUT)
    await expect(third).to_contain_text("No changes since review 2")
    await expect(third).to_contain_text("scripted model")  # it says why nothing changed
    await third.get_by_role("button", name="Approve").click()

    await expect(root).to_contain_text("Done", timeout=RUN_TIMEOUT)
    card = thread.locator(".msg").nth(1)  # the progress card: the thread's first reply
    await expect(card).to_contain_text("Finished (done)", timeout=RUN_TIMEOUT)
    checklist = await card.locator("[data-block-type=section]").nth(1).inner_text()
    assert [line.strip() for line in checklist.splitlines() if line.strip()] == [
        "✅ Ticket",
        "✅ Workspace",
        "✅ Plan",
        "✅ Implement",
        "✅ Test",
        "✅ Review",
        "✅ Pull request",
    ]
    await expect(card).to_contain_text("working")
    await card.scroll_into_view_if_needed()
    await page.screenshot(path=output_dir / "done.png")


async def test_the_page_works_on_a_phone_and_a_reply_asks_for_changes(
    page: Page, demo: Demo, output_dir: Path
) -> None:
    await page.set_viewport_size({"width": 360, "height": 740})
    _, thread = await start_run(page, demo, "TASK-101")
    channel = await page.get_by_test_id("messages").bounding_box()
    assert channel is not None and channel["width"] >= 340  # the channel is the screen
    await expect(page.get_by_test_id("user-picker")).to_be_visible()
    pane = await thread.bounding_box()
    assert pane is not None and pane["width"] >= 350  # the thread opens over it

    first = review(thread, 1)
    await expect(first.get_by_role("button", name="Approve")).to_be_visible(timeout=RUN_TIMEOUT)
    reply = page.get_by_test_id("thread-composer")
    await reply.fill("Please also cover TaskService.overdue().")
    await reply.press("Enter")

    second = review(thread, 2)
    await expect(second.get_by_role("button", name="Approve")).to_be_visible(timeout=RUN_TIMEOUT)
    await expect(first).to_contain_text("Changes requested by @ana in a reply")
    mine = thread.locator(".msg").filter(has_text="Please also cover TaskService.overdue()")
    await expect(mine.locator(".reaction[data-reaction=eyes]")).to_be_visible()
    await page.screenshot(path=output_dir / "phone.png", full_page=False)
    box = await second.get_by_role("button", name="Approve").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 360
