"""LocalSlack refuses what Slack refuses, with Slack's error and its reasons.

Each case is a call Slack's reference says it refuses (method pages, Block Kit
limits); the answer must carry Slack's error code and, in
`response_metadata.messages`, where the problem is.
"""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from localslack import LocalSlack
from tests.localslack.conftest import RecordingApp

CHANNEL = "C_GENERAL"


def _modal(**changes: Any) -> dict[str, Any]:
    field = {"type": "plain_text_input", "action_id": "text", "multiline": True}
    field.update(changes.pop("element", {}))
    view = {
        "type": "modal",
        "callback_id": "feedback",
        "title": {"type": "plain_text", "text": "Request changes"},
        "submit": {"type": "plain_text", "text": "Send"},
        "blocks": [
            {
                "type": "input",
                "block_id": "feedback",
                "label": {"type": "plain_text", "text": "What should change?"},
                "element": field,
            }
        ],
    }
    view.update(changes)
    return view


def _section(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}, **extra}


def _button(**changes: Any) -> dict[str, Any]:
    button = {
        "type": "button",
        "action_id": "go",
        "text": {"type": "plain_text", "text": "Go"},
        "value": "v",
    }
    button.update(changes)
    return button


async def test_strict_views_open_refuses_max_length_4000(
    ls: LocalSlack, app: RecordingApp, client: AsyncWebClient
) -> None:
    await ls.slash_command("TASK-1")
    trigger = app.received[0]["trigger_id"]

    with pytest.raises(SlackApiError) as caught:
        await client.views_open(trigger_id=trigger, view=_modal(element={"max_length": 4000}))

    answer = caught.value.response
    assert answer["error"] == "invalid_arguments"
    assert answer["response_metadata"]["messages"] == [
        "[ERROR] must be less than 3001 [json-pointer:/view/blocks/0/element/max_length]"
    ]
    assert ls.open_views == {}
    assert ls.refusals == [
        "views.open: invalid_arguments: must be less than 3001 "
        "[json-pointer:/view/blocks/0/element/max_length]"
    ]
    opened = await client.views_open(trigger_id=trigger, view=_modal(element={"max_length": 3000}))
    assert opened["ok"] and len(ls.open_views) == 1


@pytest.mark.parametrize(
    ("view", "problem"),
    [
        (
            _modal(element={"max_length": 0}),
            "must be more than 0 [json-pointer:/view/blocks/0/element/max_length]",
        ),
        (
            _modal(element={"min_length": 3001}),
            "must be less than 3001 [json-pointer:/view/blocks/0/element/min_length]",
        ),
        (
            _modal(title={"type": "plain_text", "text": "A title longer than 24 chars"}),
            "must be less than 25 characters [json-pointer:/view/title/text]",
        ),
        (
            _modal(title={"type": "mrkdwn", "text": "Title"}),
            "must be one of: plain_text [json-pointer:/view/title/type]",
        ),
        (
            {k: v for k, v in _modal().items() if k != "submit"},
            "must define `submit` to use `input` block [json-pointer:/view/blocks]",
        ),
        (
            _modal(private_metadata="x" * 3001),
            "must be less than 3001 characters [json-pointer:/view/private_metadata]",
        ),
        (
            _modal(element={"placeholder": {"type": "plain_text", "text": "p" * 151}}),
            "must be less than 151 characters "
            "[json-pointer:/view/blocks/0/element/placeholder/text]",
        ),
        (
            _modal(element={"type": "button", "text": {"type": "plain_text", "text": "x"}}),
            "failed to match all allowed schemas [json-pointer:/view/blocks/0/element/type]",
        ),
    ],
    ids=[
        "max-0",
        "min-3001",
        "title-25",
        "title-mrkdwn",
        "input-without-submit",
        "metadata",
        "placeholder",
        "button-in-input",
    ],
)
async def test_strict_views_refuse_what_slack_refuses(
    ls: LocalSlack, app: RecordingApp, client: AsyncWebClient, view: dict[str, Any], problem: str
) -> None:
    await ls.slash_command("TASK-1")
    with pytest.raises(SlackApiError) as caught:
        await client.views_open(trigger_id=app.received[0]["trigger_id"], view=view)
    assert caught.value.response["error"] == "invalid_arguments"
    assert f"[ERROR] {problem}" in caught.value.response["response_metadata"]["messages"]


@pytest.mark.parametrize(
    ("blocks", "problem"),
    [
        (
            [_section("x" * 3001)],
            "must be less than 3001 characters [json-pointer:/blocks/0/text/text]",
        ),
        ([_section("")], "must be more than 0 characters [json-pointer:/blocks/0/text/text]"),
        ([{"type": "divider"}] * 51, "must have no more than 50 items [json-pointer:/blocks]"),
        (
            [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}],
            "must be less than 151 characters [json-pointer:/blocks/0/text/text]",
        ),
        (
            [{"type": "header", "text": {"type": "mrkdwn", "text": "h"}}],
            "must be one of: plain_text [json-pointer:/blocks/0/text/type]",
        ),
        (
            [_section("a", block_id="same"), _section("b", block_id="same")],
            "duplicate block_id: same [json-pointer:/blocks/1/block_id]",
        ),
        (
            [
                {
                    "type": "actions",
                    "elements": [_button(text={"type": "plain_text", "text": "b" * 76})],
                }
            ],
            "must be less than 76 characters [json-pointer:/blocks/0/elements/0/text/text]",
        ),
        (
            [{"type": "actions", "elements": [_button(value="v" * 2001)]}],
            "must be less than 2001 characters [json-pointer:/blocks/0/elements/0/value]",
        ),
        (
            [{"type": "actions", "elements": [_button(style="green")]}],
            "must be one of: primary, danger [json-pointer:/blocks/0/elements/0/style]",
        ),
        (
            [{"type": "actions", "elements": [_button(), _button()]}],
            "duplicate action_id: go [json-pointer:/blocks/0/elements/1/action_id]",
        ),
        (
            [{"type": "actions", "elements": [{"type": "plain_text_input", "action_id": "t"}]}],
            "failed to match all allowed schemas [json-pointer:/blocks/0/elements/0/type]",
        ),
        (
            [
                {
                    "type": "actions",
                    "elements": [_button(confirm={"title": {"type": "plain_text", "text": "t"}})],
                }
            ],
            "missing required field: text [json-pointer:/blocks/0/elements/0/confirm]",
        ),
        (
            [{"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 11}],
            "must have no more than 10 items [json-pointer:/blocks/0/elements]",
        ),
        ([{"type": "section"}], "missing required field: text [json-pointer:/blocks/0]"),
        (
            [{"type": "sparkle"}],
            "failed to match all allowed schemas [json-pointer:/blocks/0/type]",
        ),
        (
            [_section("a", colour="red")],
            "unknown field: colour [json-pointer:/blocks/0/colour]",
        ),
    ],
    ids=[
        "section-3001",
        "section-empty",
        "51-blocks",
        "header-151",
        "header-mrkdwn",
        "duplicate-block-id",
        "button-text-76",
        "button-value-2001",
        "button-style",
        "duplicate-action-id",
        "input-in-actions",
        "confirm-incomplete",
        "context-11",
        "section-without-text",
        "unknown-block",
        "unknown-field",
    ],
)
async def test_strict_messages_refuse_invalid_blocks(
    ls: LocalSlack, client: AsyncWebClient, blocks: list[dict[str, Any]], problem: str
) -> None:
    with pytest.raises(SlackApiError) as caught:
        await client.chat_postMessage(channel=CHANNEL, text="fallback", blocks=blocks)
    answer = caught.value.response
    assert answer["error"] == "invalid_blocks"
    assert problem in answer["errors"]
    assert f"[ERROR] {problem}" in answer["response_metadata"]["messages"]
    assert ls.messages(CHANNEL) == []
    assert ls.refusals and ls.refusals[0].startswith("chat.postMessage: invalid_blocks")


async def test_strict_update_and_ephemeral_check_blocks_too(
    ls: LocalSlack, client: AsyncWebClient
) -> None:
    posted = await client.chat_postMessage(channel=CHANNEL, text="x", blocks=[_section("ok")])
    too_long = [_section("y" * 3001)]
    for call in (
        client.chat_update(channel=CHANNEL, ts=posted["ts"], text="x", blocks=too_long),
        client.chat_postEphemeral(channel=CHANNEL, user="U_ANA", text="x", blocks=too_long),
    ):
        with pytest.raises(SlackApiError) as caught:
            await call
        assert caught.value.response["error"] == "invalid_blocks"
    assert ls.messages(CHANNEL)[0].blocks == [_section("ok")]
    assert ls.ephemerals == []


async def test_strict_missing_arguments_and_long_text(
    ls: LocalSlack, client: AsyncWebClient
) -> None:
    with pytest.raises(SlackApiError) as caught:
        await client.api_call("chat.postMessage", json={"text": "where?"})
    assert caught.value.response["error"] == "invalid_arguments"
    assert caught.value.response["response_metadata"]["messages"] == [
        "[ERROR] missing required field: channel"
    ]
    with pytest.raises(SlackApiError) as caught:
        await client.chat_postMessage(channel=CHANNEL, text="x" * 40_001)
    assert caught.value.response["error"] == "msg_too_long"
    with pytest.raises(SlackApiError) as caught:
        await client.chat_postMessage(channel=CHANNEL, text="x", thread_ts="yesterday")
    assert caught.value.response["error"] == "invalid_arguments"
    with pytest.raises(SlackApiError) as caught:
        await client.files_getUploadURLExternal(filename="empty.txt", length=0)
    assert caught.value.response["error"] == "invalid_arguments"
    assert len(ls.refusals) == 4


async def test_strict_submission_longer_than_max_length_is_never_sent(
    ls: LocalSlack, app: RecordingApp, client: AsyncWebClient
) -> None:
    await ls.slash_command("TASK-1")
    opened = await client.views_open(
        trigger_id=app.received[0]["trigger_id"], view=_modal(element={"max_length": 10})
    )
    view_id = opened["view"]["id"]

    await ls.submit_view(view_id, {"feedback": {"text": "x" * 11}})

    assert len(app.received) == 1  # only the slash command: Slack's client stops it
    assert ls.view(view_id).is_open
    assert ls.view(view_id).errors == {"feedback": "Must be at most 10 characters."}


async def test_strict_view_ack_errors_must_name_input_blocks(
    ls: LocalSlack, app: RecordingApp, client: AsyncWebClient
) -> None:
    from aiohttp import web

    await ls.slash_command("TASK-1")
    opened = await client.views_open(trigger_id=app.received[0]["trigger_id"], view=_modal())
    view_id = opened["view"]["id"]

    async def reply(form: dict[str, Any]) -> web.Response:
        return web.json_response({"response_action": "errors", "errors": {"nope": "bad"}})

    app.reply = reply
    await ls.submit_view(view_id, {"feedback": {"text": "hi"}})

    assert ls.view(view_id).is_open and ls.view(view_id).errors is None
    assert ls.refusals == [
        "view_submission ack: invalid_view_response: no input block 'nope' in the view "
        "[json-pointer:/errors/nope]"
    ]
