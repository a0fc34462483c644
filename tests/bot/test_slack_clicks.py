"""Review clicks: exactly once under a burst of clicks, and only by approvers."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.slack import ids
from bot.slack.server import BotHandle
from localslack import Ephemeral, LocalSlack
from tests.bot.conftest import StartBot
from tests.bot.support import (
    CHANNEL,
    action_ids,
    assert_valid_block_kit,
    eventually,
    open_review,
    pull_requests,
    root_of,
    text_at,
)

USERS = ("U_ANA", "U_BEN", "U_CHO")


async def test_clicks_twenty_approvals_deliver_once(
    bot: BotHandle, slack: LocalSlack, data_dir: Path
) -> None:
    await slack.slash_command("TASK-101")
    root = await eventually(lambda: root_of(slack, "TASK-101"))
    review = await eventually(lambda: open_review(slack, root))

    clicks = await asyncio.gather(
        *(
            slack.click(CHANNEL, review.ts, ids.APPROVE, user=USERS[n % len(USERS)])
            for n in range(20)
        )
    )

    assert all(click.acked_in_time for click in clicks)
    await eventually(lambda: "*Done*" in text_at(slack, root.ts))

    def nineteen_refusals() -> list[Ephemeral]:
        refused = [e for e in slack.ephemerals if e.text.startswith("Already approved by <@U_")]
        assert len(refused) == 19
        return refused

    await eventually(nineteen_refusals)
    assert len(slack.ephemerals) == 19  # and nothing else was said to anyone
    assert len(pull_requests(data_dir)) == 1
    closed = text_at(slack, review.ts)
    assert closed.count("Approved by") == 1
    assert_valid_block_kit(slack)


async def test_clicks_from_non_approver_are_refused(start_bot: StartBot, slack: LocalSlack) -> None:
    async with start_bot(TASKMASTER_APPROVERS="U_BEN") as handle:
        await slack.slash_command("TASK-101", user="U_ANA")
        root = await eventually(lambda: root_of(slack, "TASK-101"))
        review = await eventually(lambda: open_review(slack, root))
        run = (await handle.bot.manager.store.recent())[0]

        for action in (ids.APPROVE, ids.REVISE, ids.REJECT):
            click = await slack.click(CHANNEL, review.ts, action, user="U_CHO")
            assert click.acked_in_time

        def three_refusals() -> list[Ephemeral]:
            assert len(slack.ephemerals) == 3
            return slack.ephemerals

        refusals = await eventually(three_refusals)
        assert all(e.user == "U_CHO" and "Only <@U_BEN> may review" in e.text for e in refusals)
        assert slack.open_views == {}
        assert action_ids(slack.message(CHANNEL, review.ts)) == [
            ids.APPROVE,
            ids.REVISE,
            ids.REJECT,
        ]
        assert (await handle.bot.manager.store.require(run.run_id)).status == "awaiting_review"

        await slack.click(CHANNEL, review.ts, ids.APPROVE, user="U_BEN")
        await eventually(lambda: "*Done*" in text_at(slack, root.ts))
        assert_valid_block_kit(slack)
