"""LocalSlack against the real slack_bolt AsyncApp: the bot's own stack must accept what we send."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from localslack import LocalSlack
from tests.localslack.test_delivery import BUTTONS, MODAL


@pytest.fixture
async def bolt(ls: LocalSlack) -> AsyncIterator[AsyncApp]:
    client = AsyncWebClient(token=ls.bot_token, base_url=ls.api_url)
    app = AsyncApp(client=client, signing_secret=ls.signing_secret)
    runner = web.AppRunner(app.web_app(path="/slack/events"), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    ls.app_url = f"http://127.0.0.1:{runner.addresses[0][1]}/slack/events"
    yield app
    await runner.cleanup()


async def test_bolt_command_ack_and_respond(ls: LocalSlack, bolt: AsyncApp) -> None:
    @bolt.command("/taskmaster")
    async def command(ack: AsyncAck, respond: AsyncRespond, command: dict[str, Any]) -> None:
        await ack("On it")
        await respond(text=f"in channel: {command['text']}", response_type="in_channel")

    result = await ls.slash_command("TASK-7")
    assert result.status == 200
    assert [e.text for e in ls.ephemerals] == ["On it"]
    # respond() runs after the ack (Bolt's default): wait for it rather than race it.
    posted = await ls.wait_for(lambda: ls.messages("C_GENERAL"))
    assert [m.text for m in posted] == ["in channel: TASK-7"]
    assert ls.calls_to("auth.test")  # Bolt checked the token against us


async def test_bolt_action_opens_modal_and_view_submission(
    ls: LocalSlack, bolt: AsyncApp, client: AsyncWebClient
) -> None:
    submitted: list[str] = []

    @bolt.action("taskmaster_revise")
    async def revise(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await client.views_open(trigger_id=body["trigger_id"], view=MODAL)

    @bolt.view("taskmaster_feedback")
    async def feedback(ack: AsyncAck, view: dict[str, Any]) -> None:
        submitted.append(view["state"]["values"]["feedback"]["text"]["value"])
        await ack()

    review = await client.chat_postMessage(channel="C_GENERAL", text="review", blocks=BUTTONS)
    assert (await ls.click("C_GENERAL", review["ts"], "taskmaster_revise")).status == 200
    # Bolt acks first and runs the rest in the background: wait for the effect, never sleep.
    [view_id] = await ls.wait_for(lambda: list(ls.open_views))
    assert (await ls.submit_view(view_id, {"feedback": {"text": "more tests"}})).status == 200
    assert submitted == ["more tests"]
    assert ls.open_views == {}


async def test_bolt_wait_for_times_out_when_nothing_happens(ls: LocalSlack) -> None:
    with pytest.raises(TimeoutError):
        await ls.wait_for(lambda: ls.messages("C_GENERAL"), seconds=0.05)
