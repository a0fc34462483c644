"""Events API deliveries, reactions, token types and real timestamps."""

from __future__ import annotations

import time

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from localslack import LocalSlack
from tests.localslack.conftest import RecordingApp

CHANNEL = "C_GENERAL"


async def test_events_subscribed_messages_and_reactions_are_delivered_signed(
    ls: LocalSlack, app: RecordingApp, client: AsyncWebClient
) -> None:
    ls.events.subscribe(["message.channels", "reaction_added"])
    root = await client.chat_postMessage(channel=CHANNEL, text="root")
    reply = await ls.post_message("a <b> & c", user="U_BEN", thread_ts=root["ts"])
    await ls.react(CHANNEL, root["ts"], "x", user="U_ANA")
    await ls.events.drain()

    kinds = [(e["event"]["type"], e["event"].get("user")) for e in app.received]
    assert kinds == [("message", "U_TASKMASTER"), ("message", "U_BEN"), ("reaction_added", "U_ANA")]
    bot, person, reaction = (e["event"] for e in app.received)
    assert bot["bot_id"] and "thread_ts" not in bot  # the app must know its own messages
    assert person["thread_ts"] == root["ts"] and person["ts"] == reply.ts
    assert person["text"] == "a &lt;b&gt; &amp; c"  # escaped, as Slack sends what people type
    assert reaction["item"] == {"type": "message", "channel": CHANNEL, "ts": root["ts"]}
    assert all(e["type"] == "event_callback" and e["event_id"] for e in app.received)


async def test_events_are_not_sent_unless_subscribed(
    ls: LocalSlack, app: RecordingApp, client: AsyncWebClient
) -> None:
    await client.chat_postMessage(channel=CHANNEL, text="quiet")
    await ls.events.drain()
    assert app.received == []
    with pytest.raises(ValueError, match="no \\['app_mention'\\] events"):
        ls.events.subscribe(["app_mention"])


async def test_reactions_add_like_slack(ls: LocalSlack, client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel=CHANNEL, text="x")
    await client.reactions_add(channel=CHANNEL, timestamp=posted["ts"], name="eyes")
    [message] = ls.messages(CHANNEL)
    assert message.reactions == [{"name": "eyes", "users": ["U_TASKMASTER"], "count": 1}]
    for name, error in (("eyes", "already_reacted"), (":eyes:", "invalid_name")):
        with pytest.raises(SlackApiError) as caught:
            await client.reactions_add(channel=CHANNEL, timestamp=posted["ts"], name=name)
        assert caught.value.response["error"] == error
    ls.refusals.clear()  # invalid_name was this test's own doing


async def test_tokens_of_the_wrong_kind_are_refused() -> None:
    async with LocalSlack(app_token="xapp-1-local") as ls:
        bot = AsyncWebClient(token=ls.bot_token, base_url=ls.api_url)
        app = AsyncWebClient(token="xapp-1-local", base_url=ls.api_url)
        opened = await app.apps_connections_open(app_token="xapp-1-local")
        assert opened["url"].startswith("ws://127.0.0.1:")
        with pytest.raises(SlackApiError) as caught:
            await bot.apps_connections_open(app_token=ls.bot_token)
        assert caught.value.response["error"] == "not_allowed_token_type"
        with pytest.raises(SlackApiError) as caught:
            await app.chat_postMessage(channel=CHANNEL, text="x")
        assert caught.value.response["error"] == "not_allowed_token_type"


async def test_timestamps_are_the_time_now(client: AsyncWebClient) -> None:
    first = await client.chat_postMessage(channel=CHANNEL, text="a")
    second = await client.chat_postMessage(channel=CHANNEL, text="b")
    assert abs(float(first["ts"]) - time.time()) < 5
    assert second["ts"] > first["ts"]
