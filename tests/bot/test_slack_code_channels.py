"""A code channel per run (TASKMASTER_SLACK_CODE_CHANNELS=on): its diff tab holds the
exact diff a review's buttons approve, its agent commands go through the same claims."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest

from bot.slack import ids
from bot.slack.code_channels import COMMANDS, DIFF_VIEW
from bot.slack.conversation import BOT_EVENTS
from bot.slack.sessions import AGENT_EVENTS
from localslack import LocalSlack, Message, UploadedFile
from tests.bot.conftest import StartBot
from tests.bot.gated import Gate, gated_runtime
from tests.bot.support import (
    CHANNEL,
    action_ids,
    eventually,
    open_review,
    pull_requests,
    root_of,
    text_at,
    thread_of,
)

CODE = {"TASKMASTER_SLACK_SURFACE": "agent", "TASKMASTER_SLACK_CODE_CHANNELS": "on"}


@pytest.fixture(autouse=True)
def _agent_events(slack: LocalSlack) -> None:
    slack.events.subscribe([*BOT_EVENTS, *AGENT_EVENTS])


def review_file(slack: LocalSlack, root: Message, iteration: int) -> UploadedFile:
    """The diff attached to review `iteration`: what the review's buttons approve."""
    files = [f for f in slack.files if f.thread_ts == root.ts]
    assert len(files) >= iteration, f"review {iteration}'s diff not attached yet"
    return files[iteration - 1]


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def test_code_channel_diff_view_is_the_approved_diff_and_approve_races_a_click(
    start_bot: StartBot, slack: LocalSlack, data_dir: Path
) -> None:
    async with start_bot(**CODE):
        await slack.slash_command("TASK-101", user="U_ANA")
        root = await eventually(lambda: root_of(slack, "TASK-101"))
        first = await eventually(lambda: open_review(slack, root), what="review 1")
        [code] = await eventually(lambda: slack.code_channels, what="the code channel")
        assert code.origin == {"channel_id": CHANNEL, "ts": root.ts}
        assert [c["name"] for c in code.commands] == [c["name"] for c in COMMANDS]
        assert "TASK-101" in code.context_bar[0]["text"]
        diff_1 = await eventually(lambda: review_file(slack, root, 1).text)
        await eventually(lambda: DIFF_VIEW in code.views, what="the diff tab")
        assert sha(code.views[DIFF_VIEW]["content"]) == sha(diff_1)
        assert code.views[DIFF_VIEW]["type"] == "diff"

        # Changes asked for in the code channel: review 2 replaces the diff tab.
        asked = await slack.agent_command(code.id, "/request-changes", "Cover the digest too.")
        assert asked.acked_in_time
        await eventually(lambda: "Changes requested by <@U_ANA>" in text_at(slack, first.ts))
        second = await eventually(lambda: open_review(slack, root, 2), within=30)
        diff_2 = await eventually(lambda: review_file(slack, root, 2).text)
        await eventually(lambda: code.views[DIFF_VIEW]["name"] == "Review 2")
        assert sha(code.views[DIFF_VIEW]["content"]) == sha(diff_2) != sha(diff_1)
        assert len(code.views) == 1

        # /approve in the channel and Approve on the message, at once: one delivery.
        await asyncio.gather(
            slack.agent_command(code.id, "/approve", user="U_BEN"),
            slack.click(CHANNEL, second.ts, ids.APPROVE, user="U_CHO"),
        )
        await eventually(lambda: "*Done*" in text_at(slack, root.ts), what="done")
        assert len(pull_requests(data_dir)) == 1
        assert len([e for e in slack.ephemerals if "already" in e.text.lower()]) == 1
        assert ids.APPROVE not in action_ids(slack.message(CHANNEL, second.ts))
        await eventually(lambda: code.archived, what="the archive")
        summary = slack.message(code.id, str(code.summary_message_ts))
        assert pull_requests(data_dir)[0]["url"] in summary.text
        assert any("PR #" in item["text"] for item in code.context_bar)


async def test_code_channel_commands_refuse_what_buttons_refuse(
    start_bot: StartBot, slack: LocalSlack
) -> None:
    async with start_bot(TASKMASTER_APPROVERS="U_BEN", **CODE) as handle:
        await slack.slash_command("TASK-101", user="U_ANA")
        root = await eventually(lambda: root_of(slack, "TASK-101"))
        await eventually(lambda: open_review(slack, root), what="the review")
        [code] = await eventually(lambda: slack.code_channels)

        await slack.agent_command(code.id, "/approve", user="U_CHO")
        await slack.agent_command(code.id, "/request-changes", "", user="U_BEN")
        await eventually(lambda: len(slack.ephemerals) >= 2)
        told = [e.text for e in slack.ephemerals]
        assert any("may review" in t for t in told) and any("Say what to change" in t for t in told)
        assert (await handle.bot.manager.store.recent())[0].status == "awaiting_review"

        await slack.agent_command(code.id, "/cancel", user="U_ANA")
        await eventually(lambda: "*Cancelled* by <@U_ANA>" in text_at(slack, root.ts))
        await eventually(lambda: code.archived, what="the archive")
        session = slack.session(CHANNEL, root.ts)
        await eventually(lambda: session is not None and session.status == "closed")


async def test_code_channel_restart_mid_step_keeps_one_channel_and_one_session(
    start_bot: StartBot, slack: LocalSlack, data_dir: Path
) -> None:
    gate = Gate()
    async with start_bot(runtime=gated_runtime(gate), **CODE):
        await slack.slash_command("TASK-101", user="U_ANA")
        root = await eventually(lambda: root_of(slack, "TASK-101"))
        await eventually(gate.waiting.is_set, what="the model to be called")
        await eventually(lambda: slack.code_channels, what="the code channel")
    # Stopped while the model was thinking: the next start continues the run.

    async with start_bot(**CODE):
        review = await eventually(lambda: open_review(slack, root), within=30)
        [code] = slack.code_channels  # made once per run: the same channel after a restart
        await eventually(lambda: DIFF_VIEW in code.views, what="the diff tab")
        await slack.agent_command(code.id, "/approve", user="U_BEN")
        await eventually(lambda: "*Done*" in text_at(slack, root.ts), what="done")
        assert "Approved by <@U_BEN>" in text_at(slack, review.ts)
        assert len(pull_requests(data_dir)) == 1
        await eventually(lambda: code.archived, what="the archive")
        session = slack.session(CHANNEL, root.ts)
        await eventually(lambda: session is not None and session.status == "closed")
        assert len(slack.messages(CHANNEL)) == 1  # no second root message
        streams = [m for m in thread_of(slack, root) if m.stream is not None]
        last = slack.stream(CHANNEL, streams[-1].ts)
        assert all(t["status"] == "complete" for t in last.tasks.values())
