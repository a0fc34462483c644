"""Request signatures: a forged or replayed request is refused and starts nothing."""

from __future__ import annotations

import asyncio
import socket
import time
from urllib.parse import urlencode

import aiohttp
import pytest

from agent.settings import load_settings
from bot.slack.server import BotHandle, serve
from localslack import LocalSlack, sign_request
from tests.bot.conftest import SIGNING_SECRET
from tests.bot.support import eventually, open_review, root_of

COMMAND = urlencode(
    {
        "command": "/taskmaster",
        "text": "TASK-101",
        "user_id": "U_ANA",
        "user_name": "ana",
        "channel_id": "C_GENERAL",
        "team_id": "T0LOCAL",
        "response_url": "http://127.0.0.1:9/response",
        "trigger_id": "1.T0LOCAL.x",
    }
).encode()


async def _post(url: str, secret: str, timestamp: int) -> int:
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": sign_request(secret, str(timestamp), COMMAND),
    }
    async with aiohttp.ClientSession() as http, http.post(url, data=COMMAND, headers=headers) as r:
        return r.status


@pytest.mark.parametrize(
    ("secret", "age"),
    [("not-the-secret", 0), (SIGNING_SECRET, 301), (SIGNING_SECRET, 3600)],
    ids=["bad-signature", "just-over-5-minutes", "an-hour-old"],
)
async def test_signature_refuses_forged_or_stale_requests(
    bot: BotHandle, slack: LocalSlack, secret: str, age: int
) -> None:
    status = await _post(bot.url, secret, int(time.time()) - age)

    assert status == 401
    assert await bot.bot.manager.store.recent() == []
    assert slack.calls_to("chat.postMessage") == []


async def test_signature_accepts_a_correctly_signed_request(
    bot: BotHandle, slack: LocalSlack
) -> None:
    status = await _post(bot.url, SIGNING_SECRET, int(time.time()))

    assert status == 200
    root = await eventually(lambda: root_of(slack, "TASK-101"), what="the run to start")
    await eventually(lambda: open_review(slack, root))  # stop at rest, not inside a git call


async def test_server_health_path(bot: BotHandle) -> None:
    async with aiohttp.ClientSession() as http, http.get(bot.health_url) as response:
        assert response.status == 200
        assert (await response.json())["ok"] is True


async def test_server_serve_answers_on_port(bot_env: dict[str, str], slack: LocalSlack) -> None:
    with socket.socket() as probe:  # a free port for PORT
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**bot_env, "PORT": str(port)}
    serving = asyncio.create_task(serve(load_settings(env, env_file=None), env))

    async def healthy() -> bool:
        async with aiohttp.ClientSession() as http:
            for _ in range(200):
                try:
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                        return response.status == 200
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.05)
        return False

    try:
        assert await healthy()
    finally:
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)
    assert serving.cancelled()
