"""Slack failing under the bot: rate limits, server errors, an edit that keeps failing."""

from __future__ import annotations

import pytest

from bot.slack import ids
from bot.slack.server import BotHandle
from localslack import LocalSlack
from tests.bot.support import (
    CHANNEL,
    action_ids,
    assert_valid_block_kit,
    block_text,
    eventually,
    open_review,
    root_of,
    text_at,
    thread_of,
)


async def _approve_and_finish(slack: LocalSlack) -> None:
    await slack.slash_command("TASK-101")
    root = await eventually(lambda: root_of(slack, "TASK-101"))
    review = await eventually(lambda: open_review(slack, root), within=40)
    await slack.click(CHANNEL, review.ts, ids.APPROVE)

    await eventually(lambda: "*Done*" in text_at(slack, root.ts), within=40)
    assert action_ids(slack.message(CHANNEL, root.ts)) == []
    progress = thread_of(slack, root)[0]
    await eventually(lambda: "*Finished* (done)" in block_text(progress), within=20)
    assert block_text(progress).count(":white_check_mark:") == 7  # every step done
    texts = [block_text(m) for m in thread_of(slack, root)]
    for milestone in (":memo: *Plan*", "Review 1 of 4", "Pull request opened"):
        assert sum(milestone in text for text in texts) == 1, milestone
    await eventually(lambda: "Approved by" in text_at(slack, review.ts))


@pytest.mark.parametrize(
    ("status", "every"), [(429, 3), (503, 5)], ids=["429-every-3rd", "503-every-5th"]
)
async def test_faults_run_finishes_despite_failing_calls(
    bot: BotHandle, slack: LocalSlack, status: int, every: int
) -> None:
    slack.fail_every(every, status=status, retry_after=0)

    await _approve_and_finish(slack)

    assert any(call.status == status for call in slack.calls)
    assert_valid_block_kit(slack)


async def test_faults_update_failing_past_client_retries_is_written_later(
    bot: BotHandle, slack: LocalSlack
) -> None:
    # 502 is not retried by the client, so the reporter's own retry must write these.
    slack.fail("chat.update", status=502, times=3)

    await _approve_and_finish(slack)

    assert len([c for c in slack.calls_to("chat.update") if c.status == 502]) == 3
