"""A restart between the review request and the click: the old buttons still work."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import aiohttp
import pytest

from bot.slack import ids
from localslack import LocalSlack
from tests.bot.conftest import StartBot
from tests.bot.gated import Gate, gated_runtime
from tests.bot.support import (
    CHANNEL,
    action_ids,
    assert_valid_block_kit,
    block_text,
    delete_message,
    eventually,
    open_review,
    pull_requests,
    remote_branches,
    root_of,
    text_at,
    thread_of,
)


async def test_restart_old_approve_button_delivers(
    start_bot: StartBot, slack: LocalSlack, data_dir: Path, remote: Path
) -> None:
    async with start_bot() as first:
        await slack.slash_command("TASK-101")
        root = await eventually(lambda: root_of(slack, "TASK-101"))
        review = await eventually(lambda: open_review(slack, root))
        await eventually(lambda: "Awaiting review" in text_at(slack, root.ts))
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientConnectionError):
            await http.get(first.health_url)  # the first bot is really gone

    async with start_bot() as second:
        assert second.url != first.url
        click = await slack.click(CHANNEL, review.ts, ids.APPROVE, user="U_BEN")
        assert click.acked_in_time

        await eventually(lambda: "*Done*" in text_at(slack, root.ts))
        final_root = text_at(slack, root.ts)
        assert "Tasks due today are reported as overdue" in final_root  # title kept
        assert action_ids(slack.message(CHANNEL, root.ts)) == []
        assert "Approved by <@U_BEN>" in text_at(slack, review.ts)
        assert len(pull_requests(data_dir)) == 1
        assert len(await remote_branches(remote)) == 1

        # Re-attached to the same thread: one progress message, edited to its final state.
        progress = thread_of(slack, root)[0]
        await eventually(lambda: "*Finished* (done)" in block_text(progress))
        assert sum("*Finished*" in block_text(m) for m in thread_of(slack, root)) == 1
        assert ":white_check_mark: Pull request" in block_text(progress)
        assert_valid_block_kit(slack)


async def test_restart_mid_step_continues_in_same_thread(
    start_bot: StartBot, slack: LocalSlack
) -> None:
    gate = Gate()
    async with start_bot(runtime=gated_runtime(gate)) as first:
        await slack.slash_command("TASK-101")
        await eventually(gate.waiting.is_set, what="the model to be called")
        root = root_of(slack, "TASK-101")
        run = (await first.bot.manager.store.recent())[0]
    # Stopped while the model was thinking: the run is left `running` for the next start.

    async with start_bot() as second:
        assert (await second.bot.manager.store.require(run.run_id)).status != "failed"
        review = await eventually(lambda: open_review(slack, root), within=30)
        await slack.click(CHANNEL, review.ts, ids.APPROVE)
        await eventually(lambda: "*Done*" in text_at(slack, root.ts))
        assert len(slack.messages(CHANNEL)) == 1  # no second root message
        progress = thread_of(slack, root)[0]  # the same progress message, re-attached
        await eventually(lambda: "*Finished* (done)" in block_text(progress))
        assert sum("*Finished*" in block_text(m) for m in thread_of(slack, root)) == 1
        assert_valid_block_kit(slack)


async def test_restart_posts_a_review_that_was_never_shown(
    start_bot: StartBot, slack: LocalSlack, data_dir: Path
) -> None:
    async with start_bot():
        await slack.slash_command("TASK-101")
        root = await eventually(lambda: root_of(slack, "TASK-101"))
        shown = await eventually(lambda: open_review(slack, root))
    # What a crash between recording the review and posting it leaves behind: the run
    # awaits a review that is in no message.
    with sqlite3.connect(data_dir / "taskmaster.db") as db:
        db.execute("UPDATE slack_threads SET review_ts = NULL")
    await delete_message(slack, shown)

    async with start_bot():
        review = await eventually(lambda: open_review(slack, root))
        assert review.ts != shown.ts
        await slack.click(CHANNEL, review.ts, ids.APPROVE, user="U_BEN")
        await eventually(lambda: "*Done*" in text_at(slack, root.ts))
        assert len(pull_requests(data_dir)) == 1


async def test_restart_does_not_start_a_run_whose_first_message_never_posted(
    start_bot: StartBot, slack: LocalSlack
) -> None:
    async with start_bot() as first:
        # What a stop leaves when Slack refused the root message until the end: a run
        # registered for a channel, with no message and no checkpoint.
        unshown = await first.bot.manager.create("TASK-101", "U_ANA")
        await first.bot.threads.save(unshown.run_id, CHANNEL)

    async with start_bot() as second:
        run = await second.bot.manager.store.require(unshown.run_id)
        assert run.status == "failed" and run.cancelled_by is None
        assert slack.messages(CHANNEL) == []
        await slack.slash_command("TASK-101")  # the ticket is free again
        root = await eventually(lambda: root_of(slack, "TASK-101"))
        await eventually(lambda: open_review(slack, root))
