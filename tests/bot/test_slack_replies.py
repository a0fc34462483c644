"""Replies in a run's thread steer it; `:x:` on its root stops it; strangers change nothing.

Everything arrives the way Slack sends it: a person's message and reaction in LocalSlack
become Events API deliveries to the bot's endpoint (the app subscribes to the events
manifest.yml lists).
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from langchain_core.messages import HumanMessage

from bot.slack import ids
from bot.slack.conversation import BOT_EVENTS, HEARD
from bot.slack.server import BotHandle
from localslack import LocalSlack, Message
from tests.bot.conftest import StartBot
from tests.bot.gated import Gate, gated_runtime
from tests.bot.support import (
    CHANNEL,
    action_ids,
    assert_valid_block_kit,
    block_text,
    eventually,
    open_review,
    reviews_in,
    root_of,
    text_at,
    thread_text,
)

MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yml"


def _reacted(slack: LocalSlack, message: Message, name: str) -> list[str]:
    now = slack.message(CHANNEL, message.ts)
    return next((r["users"] for r in now.reactions if r["name"] == name), [])


def test_replies_manifest_subscribes_to_the_events_and_scopes_they_need() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    events = manifest["settings"]["event_subscriptions"]["bot_events"]
    scopes = manifest["oauth_config"]["scopes"]["bot"]
    assert tuple(events) == BOT_EVENTS
    assert {"channels:history", "reactions:read", "reactions:write", "users:read"} <= set(scopes)


async def test_replies_during_work_reach_the_model_at_its_next_turn(
    start_bot: StartBot, slack: LocalSlack
) -> None:
    gate = Gate()  # holds the run at its plan call, so the reply lands mid-run
    async with start_bot(runtime=gated_runtime(gate)):
        await slack.slash_command("TASK-101", user="U_ANA")
        root = await eventually(lambda: root_of(slack, "TASK-101"))
        await eventually(gate.waiting.is_set, what="the plan call")

        reply = await slack.post_message(
            "Keep the docstring to one line.", user="U_ANA", thread_ts=root.ts
        )
        await eventually(lambda: _reacted(slack, reply, HEARD), what="the acknowledgement")
        gate.open()
        await eventually(lambda: open_review(slack, root), within=40)

    said = [
        m
        for call in gate.calls
        for m in call
        if isinstance(m, HumanMessage) and "docstring to one line" in m.text
    ]
    first = next(n for n, call in enumerate(gate.calls) if any(m in said for m in call))
    assert first == 1  # the next model call after the reply, not a later one
    assert said[0].text.startswith("ana wrote to you while you work")
    assert _reacted(slack, reply, HEARD) == ["U_TASKMASTER"]
    assert_valid_block_kit(slack)


async def test_replies_during_review_ask_for_changes(bot: BotHandle, slack: LocalSlack) -> None:
    await slack.slash_command("TASK-101", user="U_ANA")
    root = await eventually(lambda: root_of(slack, "TASK-101"))
    first = await eventually(lambda: open_review(slack, root))

    reply = await slack.post_message(
        "Also cover TaskService.overdue() with a test.", user="U_BEN", thread_ts=root.ts
    )

    second = await eventually(lambda: open_review(slack, root, iteration=2), within=40)
    assert "Changes requested by <@U_BEN> in a reply" in text_at(slack, first.ts)
    assert action_ids(slack.message(CHANNEL, first.ts)) == []
    assert "*Changes since review 1*" in block_text(second)
    assert "test_overdue_leaves_out_tasks_due_today" in block_text(second)
    assert ">Also cover TaskService.overdue() with a test." in thread_text(slack, root)
    assert _reacted(slack, reply, HEARD) == ["U_TASKMASTER"]
    run = (await bot.bot.manager.store.recent())[0]
    assert run.decision is not None and run.decision.by_name == "ben"


async def test_replies_by_strangers_and_by_the_bot_change_nothing(
    start_bot: StartBot, slack: LocalSlack
) -> None:
    async with start_bot(TASKMASTER_APPROVERS="U_BEN") as handle:
        await slack.slash_command("TASK-101", user="U_ANA")
        root = await eventually(lambda: root_of(slack, "TASK-101"))
        review = await eventually(lambda: open_review(slack, root))
        manager = handle.bot.manager
        [run] = await manager.store.recent()

        stranger = await slack.post_message("Ship it already", user="U_CHO", thread_ts=root.ts)
        await slack.react(CHANNEL, root.ts, "x", user="U_CHO")
        await slack.events.drain()
        await slack.post_message("unrelated chatter", user="U_ANA")  # not in the thread
        await slack.events.drain()

        assert (await manager.store.require(run.run_id)).status == "awaiting_review"
        assert len(reviews_in(slack, root)) == 1
        assert _reacted(slack, stranger, HEARD) == []
        assert ids.APPROVE in action_ids(slack.message(CHANNEL, review.ts))
        assert await manager.notes(run.run_id) == []
        # The bot heard its own messages as events too, and took none of them as words.
        own = [e for e in slack.events.delivered if e["event"].get("bot_id")]
        assert len(own) >= 3


async def test_replies_x_on_the_root_cancels_the_run(
    start_bot: StartBot, slack: LocalSlack
) -> None:
    gate = Gate()  # the run is working (held at a model call) when the :x: comes
    async with start_bot(runtime=gated_runtime(gate)) as handle:
        await slack.slash_command("TASK-101", user="U_ANA")
        root = await eventually(lambda: root_of(slack, "TASK-101"))
        await eventually(gate.waiting.is_set)

        await slack.react(CHANNEL, root.ts, "thumbsup", user="U_ANA")  # not a stop
        await slack.react(CHANNEL, root.ts, "x", user="U_ANA")

        await eventually(lambda: "*Cancelled* by <@U_ANA>" in text_at(slack, root.ts))
        [run] = await handle.bot.manager.store.recent()
        assert run.status == "cancelled" and run.cancelled_by == "U_ANA"
        assert re.search(r"Cancelled by <@U_ANA>\. Nothing was pushed", thread_text(slack, root))
        assert action_ids(slack.message(CHANNEL, root.ts)) == []
