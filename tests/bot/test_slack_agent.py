"""Slack's agent surface (TASKMASTER_SLACK_SURFACE=agent): a session with Stop, one
streamed task timeline, the review's buttons at its end, and the fall back to a thread."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
import yaml

from agent.events import STEP_LABELS, STEPS
from bot.slack import ids
from bot.slack.conversation import BOT_EVENTS
from bot.slack.sessions import AGENT_EVENTS
from localslack import LocalSlack, Message
from tests.bot.conftest import StartBot
from tests.bot.gated import Gate, gated_runtime
from tests.bot.support import (
    CHANNEL,
    action_ids,
    block_text,
    eventually,
    open_review,
    pull_requests,
    root_of,
    text_at,
    thread_of,
    thread_text,
)

AGENT = {"TASKMASTER_SLACK_SURFACE": "agent"}
CHECKLIST = [STEP_LABELS[step] for step in STEPS]


@pytest.fixture(autouse=True)
def _agent_events(slack: LocalSlack) -> None:
    slack.events.subscribe([*BOT_EVENTS, *AGENT_EVENTS])  # as manifest.agent.yml does


def streams_of(slack: LocalSlack, root: Message) -> list[Message]:
    """The streamed messages of the run's thread, oldest first."""
    return [m for m in thread_of(slack, root) if m.stream is not None]


def statuses(slack: LocalSlack, root: Message, step: str) -> list[str]:
    """Every status sent for one step's task, across the thread's streams, in order."""
    seen = []
    for message in streams_of(slack, root):
        for update in slack.stream(CHANNEL, message.ts).updates:
            if update["id"] == step and (not seen or seen[-1] != update["status"]):
                seen.append(update["status"])
    return seen


def session_history(slack: LocalSlack, root: Message) -> list[str]:
    session = slack.session(CHANNEL, root.ts)
    return session.history if session else []


async def test_agent_one_stream_of_tasks_in_order_then_review_approve_delivers_once(
    start_bot: StartBot, slack: LocalSlack, data_dir: Path
) -> None:
    async with start_bot(**AGENT):
        await slack.slash_command("TASK-101", user="U_ANA")
        root = await eventually(lambda: root_of(slack, "TASK-101"))
        review = await eventually(lambda: open_review(slack, root), what="the review")

        [stream] = streams_of(slack, root)  # one stream, ended by the review's blocks
        assert stream.ts == review.ts
        state = slack.stream(CHANNEL, stream.ts)
        assert not state.streaming
        assert [t["title"] for t in state.tasks.values()] == CHECKLIST
        for step in STEPS[: STEPS.index("review")]:
            assert statuses(slack, root, step) == ["pending", "in_progress", "complete"], step
        # The steps completed in the checklist's order.
        completed = [u["id"] for u in state.updates if u["status"] == "complete"]
        assert completed == [s for s in STEPS if s in completed]
        assert state.plan_title  # the plan as a plan_update
        assert "Tests: 17 passed" not in str(state.tasks["ticket"])
        assert "17 passed" in state.tasks["test"].get("output", "")
        assert action_ids(review) == [ids.APPROVE, ids.REVISE, ids.REJECT]
        assert session_history(slack, root)[-1] == "suspended"
        assert "processing" in session_history(slack, root)

        # Two people click Approve at once: one delivery.
        await asyncio.gather(
            slack.click(CHANNEL, review.ts, ids.APPROVE, user="U_BEN"),
            slack.click(CHANNEL, review.ts, ids.APPROVE, user="U_CHO"),
        )
        await eventually(lambda: "*Done*" in text_at(slack, root.ts), what="done")
        await eventually(lambda: session_history(slack, root)[-1:] == ["closed"])
        assert len(pull_requests(data_dir)) == 1
        assert "Approved by" in text_at(slack, review.ts)
        assert ids.APPROVE not in action_ids(slack.message(CHANNEL, review.ts))
        assert len([e for e in slack.ephemerals if "already" in e.text.lower()]) == 1
        history = session_history(slack, root)
        assert history.index("processing") < history.index("suspended") < len(history) - 1
        assert not any(s.streaming for s in slack.agents.streams.values())


async def test_agent_stop_cancels_a_running_run_and_closes_the_session(
    start_bot: StartBot, slack: LocalSlack
) -> None:
    gate = Gate()
    async with start_bot(runtime=gated_runtime(gate), **AGENT) as handle:
        await slack.slash_command("TASK-101", user="U_ANA")
        root = await eventually(lambda: root_of(slack, "TASK-101"))
        await eventually(gate.waiting.is_set)
        await eventually(lambda: session_history(slack, root)[-1:] == ["processing"])

        event = await slack.stop_session(CHANNEL, root.ts, user="U_ANA")

        assert event["streaming_message_ts"]  # Slack stopped the stream itself
        await eventually(lambda: "*Cancelled* by <@U_ANA>" in text_at(slack, root.ts))
        assert (await handle.bot.manager.store.recent())[0].status == "cancelled"
        await eventually(lambda: session_history(slack, root)[-1:] == ["closed"])
        last = streams_of(slack, root)[-1]
        tasks = slack.stream(CHANNEL, last.ts).tasks
        assert tasks["workspace"]["status"] == "complete"
        assert all(t["status"] != "in_progress" for t in tasks.values())
        assert tasks["implement"]["details"] == "Not run: the run was cancelled"
        # The last states come before the reply that says how the run ended.
        note = await eventually(
            lambda: next(
                (m for m in thread_of(slack, root) if "Nothing was pushed" in m.text), None
            )
        )
        thread = [m.ts for m in thread_of(slack, root)]
        assert thread.index(last.ts) < thread.index(note.ts)


async def test_agent_stop_by_someone_else_is_refused_and_the_run_goes_on(
    start_bot: StartBot, slack: LocalSlack
) -> None:
    gate = Gate()
    async with start_bot(runtime=gated_runtime(gate), TASKMASTER_APPROVERS="U_BEN", **AGENT):
        await slack.slash_command("TASK-101", user="U_ANA")
        root = await eventually(lambda: root_of(slack, "TASK-101"))
        await eventually(lambda: session_history(slack, root)[-1:] == ["processing"])
        await eventually(lambda: streams_of(slack, root), what="the stream")

        stopped = await slack.stop_session(CHANNEL, root.ts, user="U_CHO")
        assert stopped["streaming_message_ts"] == [streams_of(slack, root)[0].ts]

        await eventually(lambda: any("may cancel" in e.text for e in slack.ephemerals))
        gate.open()
        review = await eventually(lambda: open_review(slack, root), what="the review")
        assert len(streams_of(slack, root)) == 2  # the stopped stream, then a new one
        assert review.ts == streams_of(slack, root)[-1].ts


async def test_agent_sealed_stream_is_reopened_and_no_task_update_is_lost(
    start_bot: StartBot, slack: LocalSlack
) -> None:
    gate = Gate()
    async with start_bot(runtime=gated_runtime(gate), **AGENT):
        await slack.slash_command("TASK-101", user="U_ANA")
        root = await eventually(lambda: root_of(slack, "TASK-101"))
        await eventually(gate.waiting.is_set)  # the model is asked for the plan
        await eventually(lambda: streams_of(slack, root), what="the stream")
        assert slack.seal_streams()  # a long turn: Slack seals the stream
        slack.seal_streams_after(2)  # and every later one after two appends
        gate.open()
        review = await eventually(lambda: open_review(slack, root), what="the review")

        sealed = [
            c
            for c in slack.calls
            if c.method in ("chat.appendStream", "chat.stopStream")
            and c.response.get("error") == "message_not_in_streaming_state"
        ]
        assert sealed, "no stream was sealed"
        streams = streams_of(slack, root)
        assert len(streams) > 1 and review.ts == streams[-1].ts
        for step in STEPS[: STEPS.index("review")]:
            seen = statuses(slack, root, step)
            assert seen[-1] == "complete", step
            assert "in_progress" in seen, step
        last = slack.stream(CHANNEL, review.ts)
        assert [t["title"] for t in last.tasks.values()] == CHECKLIST
        assert last.tasks["test"]["status"] == "complete"
        assert last.plan_title  # a new stream starts with the plan too


@pytest.mark.parametrize(
    ("error", "after"), [("not_allowed", 0), ("feature_not_enabled", 2), ("missing_scope", 2)]
)
async def test_agent_refused_by_the_workspace_falls_back_to_the_thread(
    start_bot: StartBot,
    slack: LocalSlack,
    data_dir: Path,
    caplog: pytest.LogCaptureFixture,
    error: str,
    after: int,
) -> None:
    slack.refuse_agent_methods(error, after=after)
    caplog.set_level(logging.WARNING, logger="bot.slack.reporter")
    async with start_bot(**AGENT):
        await slack.slash_command("TASK-101", user="U_ANA")
        root = await eventually(lambda: root_of(slack, "TASK-101"))
        review = await eventually(lambda: open_review(slack, root), what="the review")

        [card, *_] = [m for m in thread_of(slack, root) if m.stream is None]
        assert len(streams_of(slack, root)) == (1 if after else 0)
        await eventually(lambda: "*Waiting for a review*" in text_at(slack, card.ts))
        text = block_text(slack.message(CHANNEL, card.ts))
        assert ":white_check_mark: Test" in text and ":arrow_forward: *Review*" in text
        assert "*Plan*" in thread_text(slack, root)  # the plan reached the thread
        assert review.stream is None

        await slack.click(CHANNEL, review.ts, ids.APPROVE, user="U_BEN")
        await eventually(lambda: "*Done*" in text_at(slack, root.ts), what="done")
        assert len(pull_requests(data_dir)) == 1
        fallbacks = [r for r in caplog.records if "refused the agent surface" in r.getMessage()]
        assert len(fallbacks) == 1 and error in fallbacks[0].getMessage()


def test_agent_manifest_asks_for_what_the_agent_surface_uses() -> None:
    root = Path(__file__).resolve().parents[2]
    manifest = yaml.safe_load((root / "manifest.agent.yml").read_text())
    thread = yaml.safe_load((root / "manifest.yml").read_text())
    events = manifest["settings"]["event_subscriptions"]["bot_events"]
    assert tuple(events) == (*BOT_EVENTS, *AGENT_EVENTS)
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert set(thread["oauth_config"]["scopes"]["bot"]) < scopes
    assert {"chat:write", "assistant:write", "code_channels:manage"} <= scopes
    assert manifest["features"]["code_channels"]["enabled"] is True
    assert manifest["features"]["slash_commands"] == thread["features"]["slash_commands"]


async def test_agent_refused_mid_stream_shows_the_run_as_a_thread_with_its_plan(
    start_bot: StartBot, slack: LocalSlack, caplog: pytest.LogCaptureFixture
) -> None:
    gate = Gate()
    caplog.set_level(logging.WARNING, logger="bot.slack.reporter")
    async with start_bot(runtime=gated_runtime(gate), **AGENT):
        await slack.slash_command("TASK-101", user="U_ANA")
        root = await eventually(lambda: root_of(slack, "TASK-101"))
        await eventually(gate.waiting.is_set)  # the model is asked for the plan
        [stream] = await eventually(lambda: streams_of(slack, root), what="the stream")
        slack.refuse_agent_methods("feature_not_enabled")  # from the next call on
        gate.open()

        review = await eventually(lambda: open_review(slack, root), what="the review")
        refused = [c for c in slack.calls if c.response.get("error") == "feature_not_enabled"]
        # Refused at the next write of the open stream: an append, or the review's stop.
        assert refused[0].method in ("chat.appendStream", "chat.stopStream")
        assert review.stream is None and streams_of(slack, root) == [stream]
        assert "*Plan*" in thread_text(slack, root)  # the plan the stream never showed
        [card, *_] = [m for m in thread_of(slack, root) if m.stream is None]
        await eventually(lambda: ":white_check_mark: Test" in text_at(slack, card.ts))
        fallbacks = [r for r in caplog.records if "refused the agent surface" in r.getMessage()]
        assert len(fallbacks) == 1
