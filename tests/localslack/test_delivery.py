from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from localslack import LocalSlack
from tests.localslack.conftest import RecordingApp

BUTTONS = [
    {"type": "section", "block_id": "summary", "text": {"type": "mrkdwn", "text": "Review"}},
    {
        "type": "actions",
        "block_id": "review",
        "elements": [
            {
                "type": "button",
                "action_id": "taskmaster_approve",
                "text": {"type": "plain_text", "text": "Approve"},
                "style": "primary",
                "value": "run-1:int-1",
            },
            {
                "type": "button",
                "action_id": "taskmaster_revise",
                "text": {"type": "plain_text", "text": "Request changes"},
                "value": "run-1:int-1",
            },
        ],
    },
]
MODAL = {
    "type": "modal",
    "callback_id": "taskmaster_feedback",
    "private_metadata": "run-1",
    "title": {"type": "plain_text", "text": "Request changes"},
    "submit": {"type": "plain_text", "text": "Send"},
    "blocks": [
        {
            "type": "input",
            "block_id": "feedback",
            "label": {"type": "plain_text", "text": "What should change?"},
            "element": {"type": "plain_text_input", "action_id": "text", "multiline": True},
        }
    ],
}


def payload(form: dict[str, Any]) -> Any:
    return json.loads(form["payload"])


async def post_json(url: str, body: dict[str, Any]) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.post(url, json=body) as response:
        return response.status, await response.text()


async def test_delivery_slash_command_is_signed_and_complete(
    ls: LocalSlack, app: RecordingApp
) -> None:
    result = await ls.slash_command("TASK-101", user="U_BEN")
    assert result.status == 200 and result.acked_in_time  # 401 would mean a bad signature
    [form] = app.received
    assert form["command"] == "/taskmaster" and form["text"] == "TASK-101"
    assert (form["user_id"], form["user_name"]) == ("U_BEN", "ben")
    assert (form["channel_id"], form["channel_name"], form["team_id"]) == (
        "C_GENERAL",
        "general",
        "T0LOCAL",
    )
    assert form["response_url"].startswith(ls.base_url + "/response/")
    assert form["trigger_id"] and form["api_app_id"] and form["token"]


async def test_delivery_slash_command_ack_text_shows_as_ephemeral(
    ls: LocalSlack, app: RecordingApp
) -> None:
    async def reply(form: dict[str, Any]) -> web.Response:
        return web.json_response({"text": "Usage: /taskmaster KEY"})

    app.reply = reply
    await ls.slash_command("help")
    assert [(e.user, e.text) for e in ls.ephemerals] == [("U_ANA", "Usage: /taskmaster KEY")]


async def test_delivery_response_url_ephemeral_and_in_channel(
    ls: LocalSlack, app: RecordingApp
) -> None:
    await ls.slash_command("status")
    url = app.received[0]["response_url"]
    assert await post_json(url, {"text": "only you"}) == (200, "ok")
    assert await post_json(url, {"text": "everyone", "response_type": "in_channel"}) == (200, "ok")
    assert [(e.channel, e.user, e.text) for e in ls.ephemerals] == [
        ("C_GENERAL", "U_ANA", "only you")
    ]
    assert [m.text for m in ls.messages("C_GENERAL")] == ["everyone"]
    assert [r["text"] for r in ls.responses] == ["only you", "everyone"]


async def test_delivery_click_sends_block_actions_and_trigger_opens_modal(
    ls: LocalSlack, app: RecordingApp, client: AsyncWebClient
) -> None:
    root = await client.chat_postMessage(channel="C_GENERAL", text="root")
    review = await client.chat_postMessage(
        channel="C_GENERAL", thread_ts=root["ts"], text="review", blocks=BUTTONS
    )
    opened: list[Any] = []

    async def reply(form: dict[str, Any]) -> web.Response:
        opened.append(await client.views_open(trigger_id=payload(form)["trigger_id"], view=MODAL))
        return web.Response()

    app.reply = reply
    result = await ls.click("C_GENERAL", review["ts"], "taskmaster_revise", user="U_CHO")
    assert result.status == 200
    body = payload(app.received[0])
    assert body["type"] == "block_actions"
    assert body["user"]["id"] == "U_CHO" and body["channel"]["id"] == "C_GENERAL"
    assert body["container"] == {
        "type": "message",
        "message_ts": review["ts"],
        "channel_id": "C_GENERAL",
        "is_ephemeral": False,
        "thread_ts": root["ts"],
    }
    assert body["message"]["blocks"] == BUTTONS
    [action] = body["actions"]
    assert (action["action_id"], action["block_id"], action["value"]) == (
        "taskmaster_revise",
        "review",
        "run-1:int-1",
    )
    view = opened[0]["view"]
    assert view["id"] and view["callback_id"] == "taskmaster_feedback"
    assert ls.view(view["id"]).user == "U_CHO"
    assert list(ls.open_views) == [view["id"]]


async def test_delivery_click_value_override_and_missing_action(
    ls: LocalSlack, app: RecordingApp, client: AsyncWebClient
) -> None:
    review = await client.chat_postMessage(channel="C_GENERAL", text="review", blocks=BUTTONS)
    await ls.click("C_GENERAL", review["ts"], "taskmaster_approve", value="run-1:stale")
    assert payload(app.received[0])["actions"][0]["value"] == "run-1:stale"
    with pytest.raises(LookupError, match="taskmaster_approve"):
        await ls.click("C_GENERAL", review["ts"], "taskmaster_reject")


async def test_delivery_click_response_url_replaces_then_deletes_original(
    ls: LocalSlack, app: RecordingApp, client: AsyncWebClient
) -> None:
    review = await client.chat_postMessage(channel="C_GENERAL", text="review", blocks=BUTTONS)
    await ls.click("C_GENERAL", review["ts"], "taskmaster_approve")
    url = payload(app.received[0])["response_url"]
    await post_json(url, {"replace_original": True, "text": "Approved by <@U_ANA>"})
    [message] = ls.messages("C_GENERAL")
    assert (message.text, message.blocks) == ("Approved by <@U_ANA>", None)
    await post_json(url, {"delete_original": True})
    assert ls.messages("C_GENERAL") == []


async def test_delivery_views_open_refuses_unknown_and_expired_triggers(
    ls: LocalSlack, app: RecordingApp, client: AsyncWebClient
) -> None:
    with pytest.raises(SlackApiError) as caught:
        await client.views_open(trigger_id="123.456.nope", view=MODAL)
    assert caught.value.response["error"] == "invalid_trigger_id"
    await ls.slash_command("TASK-1")
    ls.trigger_ttl = 0
    with pytest.raises(SlackApiError) as caught:
        await client.views_open(trigger_id=app.received[0]["trigger_id"], view=MODAL)
    assert caught.value.response["error"] == "expired_trigger_id"


async def test_delivery_submit_view_errors_then_closes(
    ls: LocalSlack, app: RecordingApp, client: AsyncWebClient
) -> None:
    await ls.slash_command("TASK-1")
    opened = await client.views_open(trigger_id=app.received[0]["trigger_id"], view=MODAL)
    view_id = opened["view"]["id"]
    answers = [{"response_action": "errors", "errors": {"feedback": "Say what to change"}}, None]

    async def reply(form: dict[str, Any]) -> web.Response:
        answer = answers.pop(0)
        return web.json_response(answer) if answer else web.Response()

    app.reply = reply
    await ls.submit_view(view_id, {"feedback": {"text": ""}})
    assert ls.view(view_id).is_open and ls.view(view_id).errors == {
        "feedback": "Say what to change"
    }
    await ls.submit_view(view_id, {"feedback": {"text": "add a test"}}, user="U_BEN")
    body = payload(app.received[-1])
    assert body["type"] == "view_submission" and body["user"]["id"] == "U_BEN"
    assert body["view"]["callback_id"] == "taskmaster_feedback"
    assert body["view"]["private_metadata"] == "run-1"
    assert body["view"]["state"]["values"] == {
        "feedback": {"text": {"type": "plain_text_input", "value": "add a test"}}
    }
    assert not ls.view(view_id).is_open and ls.open_views == {}


async def test_delivery_views_update_by_id_and_hash(
    ls: LocalSlack, app: RecordingApp, client: AsyncWebClient
) -> None:
    await ls.slash_command("TASK-1")
    opened = await client.views_open(trigger_id=app.received[0]["trigger_id"], view=MODAL)
    view = opened["view"]
    changed = {**MODAL, "private_metadata": "run-2"}
    updated = await client.views_update(view_id=view["id"], view=changed, hash=view["hash"])
    assert ls.view(view["id"]).view["private_metadata"] == "run-2"
    with pytest.raises(SlackApiError) as caught:
        await client.views_update(view_id=view["id"], view=MODAL, hash=view["hash"])
    assert caught.value.response["error"] == "hash_conflict"
    assert updated["view"]["id"] == view["id"]


async def test_delivery_needs_app_url(ls: LocalSlack) -> None:
    with pytest.raises(RuntimeError, match="app_url"):
        await ls.slash_command("TASK-1")
