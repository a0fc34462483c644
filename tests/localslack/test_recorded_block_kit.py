"""Every Block Kit message of a recorded demo run parses with slack_sdk's Block Kit models.

The run goes through `bot.demo.demo_running` (the bot, the demo data, LocalSlack) and
covers what the bot ever shows: root, progress, plan, tests, two reviews (one with its
modal), the decisions, the pull request, a rejection, help, status and cancel answers.
The check is `tests.bot.support.assert_valid_block_kit` over every call LocalSlack
recorded, and the same parse over the messages as they stand at the end.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import pytest

from agent.settings import load_settings
from bot.demo import Demo, demo_running
from bot.slack import ids
from localslack import LocalSlack
from tests.bot.support import (
    CHANNEL,
    assert_valid_block_kit,
    block_text,
    check_blocks,
    eventually,
    open_review,
    root_of,
)


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[Demo]:
    env = {"TASKMASTER_DATA_DIR": str(tmp_path / "data")}
    async with demo_running(load_settings(env, env_file=None), env, port=0) as running:
        yield running
    assert running.slack.refusals == [], "the bot sent what Slack would refuse"


async def test_every_block_kit_message_of_a_recorded_run_parses(demo: Demo) -> None:
    slack = demo.slack
    await slack.slash_command("help")
    await slack.slash_command("TASK-101", user="U_BEN")
    root = await eventually(lambda: root_of(slack, "TASK-101"))
    first = await eventually(lambda: open_review(slack, root))
    await slack.click(CHANNEL, first.ts, ids.REVISE, user="U_CHO")
    modal = (await eventually(lambda: list(slack.open_views.values())))[0]
    feedback = {ids.FEEDBACK_BLOCK: {ids.FEEDBACK_INPUT: "Also cover yesterday."}}
    await slack.submit_view(modal.id, feedback, user="U_CHO")
    second = await eventually(lambda: open_review(slack, root, 2), within=60)
    await slack.slash_command("status")
    await slack.click(CHANNEL, second.ts, ids.APPROVE, user="U_ANA")
    await eventually(lambda: "*Done*" in block_text(slack.message(CHANNEL, root.ts)), within=60)

    await slack.slash_command("TASK-102")
    other = await eventually(lambda: root_of(slack, "TASK-102"))
    review = await eventually(lambda: open_review(slack, other), within=60)
    await slack.click(CHANNEL, review.ts, ids.REJECT, user="U_ANA")
    reject = (await eventually(lambda: list(slack.open_views.values())))[0]
    reason = {ids.REASON_BLOCK: {ids.REASON_INPUT: "Not now."}}
    await slack.submit_view(reject.id, reason, user="U_ANA")
    await eventually(lambda: "*Rejected*" in block_text(slack.message(CHANNEL, other.ts)))
    await slack.slash_command("cancel TASK-102")

    assert_valid_block_kit(slack)
    checked = check_blocks(blocks_on_screen(slack))
    assert checked > 30, f"only {checked} blocks on screen: the run did not get far"


def blocks_on_screen(slack: LocalSlack) -> Iterable[dict[str, Any]]:
    """The blocks of every message as it stands, replies and ephemerals included."""
    for message in slack.messages(CHANNEL):
        yield from message.blocks or []
        for reply in slack.thread(CHANNEL, message.ts):
            yield from reply.blocks or []
    for ephemeral in slack.ephemerals:
        yield from ephemeral.blocks or []
