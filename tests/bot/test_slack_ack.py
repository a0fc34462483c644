"""Slack's three seconds: commands and clicks are acked at once while the model is slow."""

from __future__ import annotations

from localslack import LocalSlack
from tests.bot.conftest import StartBot
from tests.bot.gated import Gate, gated_runtime
from tests.bot.support import (
    assert_valid_block_kit,
    block_text,
    eventually,
    open_review,
    root_of,
    text_at,
    thread_of,
)

FAST = 1.0  # well inside Slack's 3 s


async def test_ack_is_immediate_while_model_is_slow(start_bot: StartBot, slack: LocalSlack) -> None:
    gate = Gate()
    async with start_bot(runtime=gated_runtime(gate)):
        first = await slack.slash_command("TASK-101")
        assert first.status == 200 and first.elapsed < FAST

        await eventually(gate.waiting.is_set, what="the model to be called")
        root = root_of(slack, "TASK-101")
        progress = await eventually(lambda: thread_of(slack, root)[0])
        await eventually(lambda: ":arrow_forward: *Plan*" in block_text(progress))

        # The model is still thinking: more commands are answered at once all the same.
        second = await slack.slash_command("TASK-102", user="U_BEN")
        status = await slack.slash_command("status", user="U_CHO")
        busy = await slack.slash_command("TASK-101", user="U_CHO")
        for result in (second, status, busy):
            assert result.status == 200 and result.elapsed < FAST
        await eventually(lambda: root_of(slack, "TASK-102"))
        await eventually(lambda: [e for e in slack.ephemerals if "already has" in e.text])
        assert not gate.opened.is_set()

        gate.open()
        await eventually(lambda: open_review(slack, root), within=30)
        await eventually(lambda: open_review(slack, root_of(slack, "TASK-102")), within=30)
        await eventually(lambda: "Awaiting review" in text_at(slack, root.ts))
        assert_valid_block_kit(slack)
