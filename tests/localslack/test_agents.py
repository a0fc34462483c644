"""LocalSlack's agent surface, as strict as Slack's reference: streams, sessions, code channels."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.models.messages.chunk import PlanUpdateChunk, TaskUpdateChunk
from slack_sdk.web.async_client import AsyncWebClient

from localslack import LocalSlack

CHANNEL = "C_GENERAL"


async def _root(client: AsyncWebClient) -> str:
    posted = await client.chat_postMessage(channel=CHANNEL, text="TASK-1: a run")
    return str(posted["ts"])


async def _start(client: AsyncWebClient, root: str, **extra: Any) -> str:
    started = await client.chat_startStream(
        channel=CHANNEL,
        thread_ts=root,
        recipient_team_id="T0LOCAL",
        recipient_user_id="U_ANA",
        **extra,
    )
    return str(started["ts"])


async def _error(call: Any) -> str:
    with pytest.raises(SlackApiError) as caught:
        await call
    return str(caught.value.response["error"])


async def test_agents_stream_keeps_tasks_in_order_and_stops_with_blocks(
    ls: LocalSlack, client: AsyncWebClient
) -> None:
    root = await _root(client)
    ts = await _start(
        client,
        root,
        task_display_mode="timeline",
        chunks=[TaskUpdateChunk(id="a", title="First", status="pending")],
    )
    await client.chat_appendStream(
        channel=CHANNEL,
        ts=ts,
        chunks=[
            PlanUpdateChunk(title="The plan"),
            TaskUpdateChunk(id="b", title="Second", status="pending"),
            TaskUpdateChunk(id="a", title="First", status="complete", output="ok"),
        ],
    )
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "done"}}]
    await client.chat_stopStream(channel=CHANNEL, ts=ts, blocks=blocks, session_status="closed")

    stream = ls.stream(CHANNEL, ts)
    assert [t["id"] for t in stream.tasks.values()] == ["a", "b"]
    assert stream.tasks["a"] == {"id": "a", "title": "First", "status": "complete", "output": "ok"}
    assert stream.plan_title == "The plan" and not stream.streaming
    assert ls.message(CHANNEL, ts).blocks == blocks
    assert ls.message(CHANNEL, ts).thread_ts == root
    session = ls.session(CHANNEL, root)
    assert session is not None and session.status == "closed"
    # Stopped: Slack refuses any further append.
    more = client.chat_appendStream(channel=CHANNEL, ts=ts, markdown_text="more")
    assert await _error(more) == "message_not_in_streaming_state"


async def test_agents_stream_refuses_what_slack_refuses(
    ls: LocalSlack, client: AsyncWebClient
) -> None:
    root = await _root(client)
    long_title = TaskUpdateChunk(id="a", title="x" * 257, status="pending")
    assert await _error(_start(client, root, chunks=[long_title])) == "invalid_arguments"
    bad_status = {"type": "task_update", "id": "a", "title": "A", "status": "done"}
    assert await _error(_start(client, root, chunks=[bad_status])) == "invalid_arguments"
    no_recipient = client.chat_startStream(channel=CHANNEL, thread_ts=root)
    assert await _error(no_recipient) == "invalid_arguments"
    assert await _error(_start(client, root, task_display_mode="grid")) == "invalid_arguments"
    assert len(ls.refusals) == 4  # each one a call Slack would refuse
    ls.refusals.clear()
    ok = TaskUpdateChunk(id="a", title="x" * 256, status="in_progress")
    assert await _start(client, root, chunks=[ok])  # 256 characters is Slack's limit


async def test_agents_sealed_stream_answers_not_in_streaming_state(
    ls: LocalSlack, client: AsyncWebClient
) -> None:
    root = await _root(client)
    ts = await _start(client, root, markdown_text="hello")
    ls.seal_streams_after(1)
    await client.chat_appendStream(channel=CHANNEL, ts=ts, markdown_text=" world")
    again = client.chat_appendStream(channel=CHANNEL, ts=ts, markdown_text="!")
    assert await _error(again) == "message_not_in_streaming_state"
    assert ls.stream(CHANNEL, ts).markdown == "hello world"


async def test_agents_session_status_and_stop_event(ls: LocalSlack, client: AsyncWebClient) -> None:
    root = await _root(client)
    bad = client.agents_sessions_setStatus(channel_id=CHANNEL, thread_ts=root, status="busy")
    assert await _error(bad) == "invalid_arguments"
    ls.refusals.clear()
    with pytest.raises(LookupError):  # no Stop button before the session is processing
        await ls.stop_session(CHANNEL, root)
    await client.agents_sessions_setStatus(channel_id=CHANNEL, thread_ts=root, status="processing")
    ts = await _start(client, root, markdown_text="working")
    event = await ls.stop_session(CHANNEL, root, user="U_BEN")
    assert event["type"] == "agent_session_stopped"
    assert event["streaming_message_ts"] == [ts] and event["user"] == "U_BEN"
    assert not ls.stream(CHANNEL, ts).streaming
    session = ls.session(CHANNEL, root)
    assert session is not None and session.status == "processing"  # the app's to change


@pytest.mark.parametrize("error", ["not_allowed", "feature_not_enabled", "missing_scope"])
async def test_agents_workspace_refusal_after_n_calls(
    ls: LocalSlack, client: AsyncWebClient, error: str
) -> None:
    root = await _root(client)
    ls.refuse_agent_methods(error, after=1)
    await client.agents_sessions_setStatus(channel_id=CHANNEL, thread_ts=root, status="processing")
    with pytest.raises(SlackApiError) as caught:
        await _start(client, root, markdown_text="x")
    assert caught.value.response["error"] == error
    if error == "missing_scope":
        assert caught.value.response["needed"] == "chat:write"
    await client.chat_postMessage(channel=CHANNEL, text="other methods still work")


async def test_agents_code_channel_lifecycle(ls: LocalSlack, client: AsyncWebClient) -> None:
    root = await _root(client)
    made = await client.agents_conversations_create(
        name="TASK-1", session_id="run-1", origin_channel_id=CHANNEL, origin_message_ts=root
    )
    again = await client.agents_conversations_create(name="TASK-1", session_id="run-1")
    channel = str(made["channel_id"])
    assert again["channel_id"] == channel  # idempotent by session_id
    info = await client.conversations_info(channel=channel)
    assert info["channel"]["properties"]["agent_session"]["origin_link"] == {
        "channel_id": CHANNEL,
        "ts": root,
    }
    items = [{"text": f"item {n}"} for n in range(6)]
    too_many = client.agents_conversations_setProperties(
        channel_id=channel, code_channel={"context_bar_items": items}
    )
    assert await _error(too_many) == "invalid_arguments"
    no_content = client.agents_conversations_setView(channel_id=channel, type="diff")
    assert await _error(no_content) == "invalid_arguments"
    slash = client.agents_conversations_setCommands(channel_id=channel, commands=[{"name": "/x"}])
    assert await _error(slash) == "invalid_arguments"
    ls.refusals.clear()

    await client.agents_conversations_setProperties(
        channel_id=channel, code_channel={"context_bar_items": items[:5]}
    )
    await client.agents_conversations_setView(
        channel_id=channel, type="diff", view_key="review", content="diff --git a/x b/x\n"
    )
    await client.agents_conversations_setView(
        channel_id=channel, type="diff", view_key="review", content="diff --git a/y b/y\n"
    )
    await client.agents_conversations_setCommands(
        channel_id=channel, commands=[{"name": "approve", "description": "Approve"}]
    )
    [code] = ls.code_channels
    assert code.views["review"]["content"] == "diff --git a/y b/y\n"  # replaced, not added
    assert len(code.context_bar) == 5
    assert ls.agents.command_registered(channel, "/approve")
    summary = await client.chat_postMessage(channel=channel, text="Done")
    await client.agents_conversations_archive(channel_id=channel, summary_message_ts=summary["ts"])
    assert code.archived and code.summary_message_ts == summary["ts"]
    late = client.agents_conversations_setView(channel_id=channel, type="diff", content="x")
    assert await _error(late) == "is_archived"
    with pytest.raises(LookupError):
        await ls.agent_command(channel, "/approve")
