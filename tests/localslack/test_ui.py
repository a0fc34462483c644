"""The page's HTTP side: the files, what each person sees, the actions, the live stream."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from aiohttp import web
from slack_sdk.web.async_client import AsyncWebClient

from localslack import LocalSlack
from tests.localslack.conftest import RecordingApp
from tests.localslack.test_delivery import BUTTONS, MODAL, payload


async def get(url: str) -> tuple[int, dict[str, str], str]:
    async with aiohttp.ClientSession() as session, session.get(url, allow_redirects=False) as r:
        return r.status, dict(r.headers), await r.text()


async def act(ls: LocalSlack, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{ls.base_url}/ui/{path}", json=body) as response,
    ):
        return response.status, await response.json()


async def state(ls: LocalSlack, user: str = "U_ANA") -> Any:
    status, _, text = await get(f"{ls.base_url}/ui/state?user={user}")
    assert status == 200
    return json.loads(text)


async def test_page_and_its_files_are_served(ls: LocalSlack) -> None:
    status, headers, html = await get(ls.base_url + "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert '<script type="module" src="/static/app.js">' in html
    for name, kind in [("app.js", "javascript"), ("style.css", "css"), ("blocks.js", "javascript")]:
        status, headers, _ = await get(f"{ls.base_url}/static/{name}")
        assert status == 200 and kind in headers["Content-Type"], name


async def test_static_serves_only_its_own_files(ls: LocalSlack) -> None:
    for name in ["..%2Fserver.py", "..%2F..%2Fpyproject.toml", "nothing.js", ".hidden.js", "x.py"]:
        status, _, _ = await get(f"{ls.base_url}/static/{name}")
        assert status == 404, name


async def test_state_is_what_one_person_sees(ls: LocalSlack, client: AsyncWebClient) -> None:
    root = await client.chat_postMessage(channel="C_GENERAL", text="root", blocks=BUTTONS)
    await client.chat_postMessage(channel="C_GENERAL", text="reply", thread_ts=root["ts"])
    await client.chat_postEphemeral(channel="C_GENERAL", user="U_BEN", text="for ben only")
    ls.workspace.open_view(MODAL, "U_BEN")

    ana = await state(ls, "U_ANA")
    assert [m["text"] for m in ana["messages"]] == ["root"]
    assert ana["messages"][0]["reply_count"] == 1
    assert [m["text"] for m in ana["replies"][root["ts"]]] == ["reply"]
    assert ana["ephemerals"] == [] and ana["view"] is None
    assert {u["name"] for u in ana["users"]} >= {"ana", "ben", "cho"}

    ben = await state(ls, "ben")  # by name works too
    assert ben["me"] == "U_BEN"
    assert [e["text"] for e in ben["ephemerals"]] == ["for ben only"]
    assert ben["view"]["view"]["callback_id"] == "taskmaster_feedback"


async def test_state_carries_file_text(ls: LocalSlack, client: AsyncWebClient) -> None:
    root = await client.chat_postMessage(channel="C_GENERAL", text="root")
    diff = "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-old\n+new\n"
    await client.files_upload_v2(
        channel="C_GENERAL", thread_ts=root["ts"], content=diff, filename="x.diff",
        title="The diff", snippet_type="diff",
    )  # fmt: skip
    reply = (await state(ls))["replies"][root["ts"]][0]
    assert reply["files"][0]["preview"] == diff
    assert reply["files"][0]["lines"] == 5 and reply["files"][0]["filetype"] == "diff"


async def test_command_is_delivered_as_slack_would(ls: LocalSlack, app: RecordingApp) -> None:
    status, answer = await act(
        ls, "command", {"user": "U_CHO", "channel": "C_GENERAL", "text": "/taskmaster  TASK-7 "}
    )
    assert status == 200 and answer == {"ok": True}
    assert app.received[0]["text"] == "TASK-7"
    assert app.received[0]["user_id"] == "U_CHO"
    assert app.received[0]["command"] == "/taskmaster"


async def test_unknown_command_is_answered_like_slack(ls: LocalSlack, app: RecordingApp) -> None:
    status, answer = await act(ls, "command", {"user": "U_ANA", "text": "/deploy prod"})
    assert status == 200 and answer["error"] == "unknown_command" and answer["shown"]
    assert app.received == []
    assert "`/deploy` is not a valid command" in ls.ephemerals[0].text


async def test_command_to_a_dead_app_says_it_failed(ls: LocalSlack) -> None:
    ls.app_url = "http://127.0.0.1:9/slack/events"  # discard port: nothing listens
    status, answer = await act(ls, "command", {"user": "U_ANA", "text": "/taskmaster help"})
    assert status == 200 and answer["error"] == "dispatch_failed"
    assert ls.ephemerals[0].user == "U_ANA"
    assert 'failed with the error "dispatch_failed"' in ls.ephemerals[0].text


async def test_click_and_submit_go_through_delivery(
    ls: LocalSlack, app: RecordingApp, client: AsyncWebClient
) -> None:
    posted = await client.chat_postMessage(channel="C_GENERAL", text="review", blocks=BUTTONS)

    async def open_modal(form: dict[str, Any]) -> web.Response:
        data = payload(form)
        if data["type"] == "block_actions":
            await client.views_open(trigger_id=data["trigger_id"], view=MODAL)
        return web.Response()

    app.reply = open_modal
    click = {"user": "U_BEN", "ts": posted["ts"], "action_id": "taskmaster_revise"}
    status, answer = await act(ls, "click", click)
    assert status == 200 and answer["ok"]
    assert payload(app.received[0])["actions"][0]["value"] == "run-1:int-1"
    view = (await state(ls, "U_BEN"))["view"]
    assert view is not None and (await state(ls, "U_ANA"))["view"] is None

    values = {"feedback": {"text": "More tests"}}
    status, answer = await act(
        ls, "submit", {"user": "U_BEN", "view_id": view["id"], "values": values}
    )
    assert status == 200 and answer == {"ok": True, "error": None, "errors": None}
    submitted = payload(app.received[1])
    assert submitted["view"]["state"]["values"]["feedback"]["text"]["value"] == "More tests"
    assert (await state(ls, "U_BEN"))["view"] is None


async def test_submit_answered_with_errors_keeps_the_modal(
    ls: LocalSlack, app: RecordingApp
) -> None:
    view = ls.workspace.open_view(MODAL, "U_ANA")

    async def refuse(_: dict[str, Any]) -> web.Response:
        return web.json_response({"response_action": "errors", "errors": {"feedback": "Say more"}})

    app.reply = refuse
    body = {"user": "U_ANA", "view_id": view.id, "values": {"feedback": {"text": "x"}}}
    _, answer = await act(ls, "submit", body)
    assert answer["errors"] == {"feedback": "Say more"}
    assert (await state(ls))["view"]["errors"] == {"feedback": "Say more"}


async def test_stale_click_is_refused_not_crashed(ls: LocalSlack, app: RecordingApp) -> None:
    status, answer = await act(
        ls, "click", {"user": "U_ANA", "ts": "1.000001", "action_id": "taskmaster_approve"}
    )
    assert status == 200 and answer == {"ok": False, "error": "not_found"}
    assert app.received == []


async def test_closing_a_modal_closes_only_ones_own(ls: LocalSlack) -> None:
    view = ls.workspace.open_view(MODAL, "U_ANA")
    await act(ls, "close", {"user": "U_BEN", "view_id": view.id})
    assert view.is_open
    await act(ls, "close", {"user": "U_ANA", "view_id": view.id})
    assert not view.is_open


async def test_person_message_is_escaped_like_slack(ls: LocalSlack) -> None:
    _, answer = await act(ls, "message", {"user": "U_ANA", "text": "a <b> & c"})
    message = ls.messages("C_GENERAL")[0]
    assert answer["ts"] == message.ts
    assert message.text == "a &lt;b&gt; &amp; c" and message.user == "U_ANA"
    assert message.bot_id is None


async def test_actions_take_json_only_and_known_people(ls: LocalSlack) -> None:
    async with aiohttp.ClientSession() as session:
        form = {"user": "U_ANA", "text": "/taskmaster help"}
        async with session.post(f"{ls.base_url}/ui/command", data=form) as response:
            assert response.status == 415  # a cross-site form cannot post here
    status, answer = await act(ls, "command", {"user": "U_TASKMASTER", "text": "/taskmaster"})
    assert status == 400 and answer["error"] == "user_not_found"
    status, answer = await act(ls, "click", {"user": "U_ANA"})
    assert status == 400 and answer["error"] == "ts is required"


async def test_permalink_opens_the_thread(ls: LocalSlack) -> None:
    status, headers, _ = await get(f"{ls.base_url}/archives/C_GENERAL/p1700000000000100")
    assert status == 302 and headers["Location"] == "/?thread=1700000000.000100"
    link = "/archives/C_GENERAL/p1700000000000200?thread_ts=1700000000.000100&cid=C_GENERAL"
    status, headers, _ = await get(ls.base_url + link)
    assert headers["Location"] == "/?thread=1700000000.000100"
    status, headers, _ = await get(f"{ls.base_url}/archives/C_GENERAL/pnonsense")
    assert headers["Location"] == "/"


async def test_events_push_each_change_and_end_on_stop() -> None:
    ls = LocalSlack()
    await ls.start()
    client = AsyncWebClient(token=ls.bot_token, base_url=ls.api_url)
    session = aiohttp.ClientSession()
    try:
        response = await session.get(f"{ls.base_url}/ui/events?user=U_ANA")
        assert response.headers["Content-Type"] == "text/event-stream"
        first = await read_event(response)
        assert first["messages"] == []
        await client.chat_postMessage(channel="C_GENERAL", text="hello")
        second = await read_event(response)
        assert [m["text"] for m in second["messages"]] == ["hello"]
        async with asyncio.timeout(5):
            await ls.stop()  # does not wait for the open stream
        async with asyncio.timeout(5):
            assert (await response.content.read()).strip() == b""  # then the end
        response.release()
    finally:
        await session.close()
        await ls.stop()


async def read_event(response: aiohttp.ClientResponse) -> Any:
    """The data of the next `state` event on a Server-Sent Events stream."""
    async with asyncio.timeout(5):
        event = ""
        while True:
            line = (await response.content.readline()).decode()
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:") and event == "state":
                return json.loads(line[5:])
