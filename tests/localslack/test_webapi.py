from __future__ import annotations

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from localslack import LocalSlack


async def test_webapi_auth_test_names_the_bot(ls: LocalSlack, client: AsyncWebClient) -> None:
    response = await client.auth_test()
    assert response["ok"] is True
    assert response["team_id"] == "T0LOCAL"
    assert response["user_id"] and response["bot_id"] and response["user"]
    assert response["url"] == ls.base_url + "/"
    assert [(c.method, c.status, c.ok) for c in ls.calls] == [("auth.test", 200, True)]


async def test_webapi_bad_token_is_invalid_auth(ls: LocalSlack) -> None:
    bad = AsyncWebClient(token="xoxb-wrong", base_url=ls.api_url)
    with pytest.raises(SlackApiError) as caught:
        await bad.auth_test()
    assert caught.value.response["error"] == "invalid_auth"


async def test_webapi_missing_token_is_not_authed(ls: LocalSlack) -> None:
    anonymous = AsyncWebClient(base_url=ls.api_url)
    with pytest.raises(SlackApiError) as caught:
        await anonymous.chat_postMessage(channel="C_GENERAL", text="hi")
    assert caught.value.response["error"] == "not_authed"
    assert ls.messages("C_GENERAL") == []


async def test_webapi_unknown_method_answers_200_unknown_method(
    ls: LocalSlack, client: AsyncWebClient
) -> None:
    with pytest.raises(SlackApiError) as caught:
        await client.api_call("chat.doesNotExist", json={"channel": "C_GENERAL"})
    assert caught.value.response.status_code == 200
    assert caught.value.response["error"] == "unknown_method"
    assert ls.calls_to("chat.doesNotExist")[0].ok is False


async def test_webapi_post_update_and_thread_replies(
    ls: LocalSlack, client: AsyncWebClient
) -> None:
    blocks = [{"type": "section", "block_id": "s", "text": {"type": "mrkdwn", "text": "*hi*"}}]
    root = await client.chat_postMessage(channel="C_GENERAL", text="hi", blocks=blocks)
    first = await client.chat_postMessage(channel="C_GENERAL", thread_ts=root["ts"], text="one")
    second = await client.chat_postMessage(channel="C_GENERAL", thread_ts=root["ts"], text="two")
    await client.chat_update(channel="C_GENERAL", ts=first["ts"], text="one, edited")

    assert root["channel"] == "C_GENERAL"
    assert root["message"]["blocks"] == blocks
    assert root["ts"] < first["ts"] < second["ts"]
    seconds, micros = root["ts"].split(".")
    assert len(seconds) == 10 and len(micros) == 6
    [top] = ls.messages("C_GENERAL")
    assert top.blocks == blocks and top.reply_count == 2
    assert [m.text for m in ls.thread("C_GENERAL", root["ts"])] == ["one, edited", "two"]
    assert ls.thread("C_GENERAL", root["ts"])[0].edited is not None
    assert ls.calls_to("chat.postMessage")[0].params["blocks"] == blocks


async def test_webapi_update_keeps_blocks_unless_given(
    ls: LocalSlack, client: AsyncWebClient
) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "x"}}]
    posted = await client.chat_postMessage(channel="general", text="x", blocks=blocks)
    await client.chat_update(channel="C_GENERAL", ts=posted["ts"], text="y")
    assert ls.messages("C_GENERAL")[0].blocks == blocks
    await client.chat_update(channel="C_GENERAL", ts=posted["ts"], text="z", blocks=[])
    assert ls.messages("C_GENERAL")[0].blocks is None


async def test_webapi_update_of_unknown_message_fails(client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as caught:
        await client.chat_update(channel="C_GENERAL", ts="1.000100", text="x")
    assert caught.value.response["error"] == "message_not_found"


async def test_webapi_post_needs_text_and_a_known_channel(client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as caught:
        await client.chat_postMessage(channel="C_NOPE", text="x")
    assert caught.value.response["error"] == "channel_not_found"
    with pytest.raises(SlackApiError) as caught:
        await client.api_call("chat.postMessage", json={"channel": "C_GENERAL"})
    assert caught.value.response["error"] == "no_text"
    with pytest.raises(SlackApiError) as caught:
        await client.chat_postMessage(channel="C_GENERAL", text="x", thread_ts="1.000100")
    assert caught.value.response["error"] == "thread_not_found"


async def test_webapi_rejects_blocks_beyond_slack_limits(client: AsyncWebClient) -> None:
    too_many = [{"type": "divider"}] * 51
    with pytest.raises(SlackApiError) as caught:
        await client.chat_postMessage(channel="C_GENERAL", text="x", blocks=too_many)
    assert caught.value.response["error"] == "invalid_blocks"


async def test_webapi_form_encoded_calls_decode_json_fields(
    ls: LocalSlack, client: AsyncWebClient
) -> None:
    blocks = [{"type": "divider"}]
    await client.api_call(
        "chat.postMessage",
        data={"channel": "C_GENERAL", "text": "form", "blocks": '[{"type": "divider"}]'},
    )
    assert ls.messages("C_GENERAL")[0].blocks == blocks
    assert ls.calls[-1].params["blocks"] == blocks


async def test_webapi_ephemeral_and_permalink(ls: LocalSlack, client: AsyncWebClient) -> None:
    root = await client.chat_postMessage(channel="C_GENERAL", text="root")
    reply = await client.chat_postMessage(channel="C_GENERAL", text="r", thread_ts=root["ts"])
    eph = await client.chat_postEphemeral(channel="C_GENERAL", user="U_BEN", text="psst")
    assert eph["message_ts"]
    assert [(e.channel, e.user, e.text) for e in ls.ephemerals] == [("C_GENERAL", "U_BEN", "psst")]

    link = await client.chat_getPermalink(channel="C_GENERAL", message_ts=root["ts"])
    assert link["permalink"] == f"{ls.base_url}/archives/C_GENERAL/p{root['ts'].replace('.', '')}"
    link = await client.chat_getPermalink(channel="C_GENERAL", message_ts=reply["ts"])
    assert f"?thread_ts={root['ts']}" in link["permalink"]


async def test_webapi_conversations_and_users_info(client: AsyncWebClient) -> None:
    channel = await client.conversations_info(channel="C_GENERAL")
    assert channel["channel"]["name"] == "general"
    user = await client.users_info(user="U_ANA")
    assert user["user"]["name"] == "ana"
    with pytest.raises(SlackApiError) as caught:
        await client.users_info(user="U_NOBODY")
    assert caught.value.response["error"] == "user_not_found"


async def test_webapi_history_and_replies(client: AsyncWebClient) -> None:
    root = await client.chat_postMessage(channel="C_GENERAL", text="root")
    await client.chat_postMessage(channel="C_GENERAL", text="reply", thread_ts=root["ts"])
    history = await client.conversations_history(channel="C_GENERAL")
    assert [m["text"] for m in history["messages"]] == ["root"]
    replies = await client.conversations_replies(channel="C_GENERAL", ts=root["ts"])
    assert [m["text"] for m in replies["messages"]] == ["root", "reply"]


async def test_webapi_bad_json_body_is_an_error(ls: LocalSlack) -> None:
    headers = {"Authorization": f"Bearer {ls.bot_token}", "Content-Type": "application/json"}
    async with aiohttp.ClientSession() as session:
        url = ls.api_url + "chat.postMessage"
        async with session.post(url, data=b"{nope", headers=headers) as response:
            body = await response.json()
    assert body == {"ok": False, "error": "invalid_json"}
