"""A started LocalSlack per test, a real slack_sdk client on it, and a tiny recording app."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

import pytest
from aiohttp import web
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from localslack import LocalSlack

Reply = Callable[[dict[str, Any]], Awaitable[web.Response]]


@pytest.fixture
async def ls() -> AsyncIterator[LocalSlack]:
    slack = LocalSlack()
    await slack.start()
    yield slack
    await slack.stop()


@pytest.fixture
def client(ls: LocalSlack) -> AsyncWebClient:
    return AsyncWebClient(token=ls.bot_token, base_url=ls.api_url)


class RecordingApp:
    """Stands in for the bot's /slack/events: verifies Slack's signature, keeps what arrived."""

    def __init__(self, secret: str) -> None:
        self.verifier = SignatureVerifier(secret)
        self.received: list[dict[str, Any]] = []
        self.reply: Reply | None = None
        self.app = web.Application()
        self.app.router.add_post("/slack/events", self.events)
        self.runner = web.AppRunner(self.app, access_log=None)
        self.url = ""

    async def start(self) -> None:
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}/slack/events"

    async def events(self, request: web.Request) -> web.Response:
        body = await request.read()
        if not self.verifier.is_valid_request(body, dict(request.headers)):
            return web.Response(status=401, text="invalid signature")
        if request.content_type == "application/json":  # Events API deliveries
            form = json.loads(body)
        else:
            form = dict(parse_qsl(body.decode(), keep_blank_values=True))
        self.received.append(form)
        if self.reply is not None:
            return await self.reply(form)
        return web.Response()


@pytest.fixture
async def app(ls: LocalSlack) -> AsyncIterator[RecordingApp]:
    recording = RecordingApp(ls.signing_secret)
    await recording.start()
    ls.app_url = recording.url
    yield recording
    await recording.runner.cleanup()
