from __future__ import annotations

import time

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from localslack import LocalSlack


async def test_faults_429_then_retry_handler_succeeds(ls: LocalSlack) -> None:
    client = AsyncWebClient(
        token=ls.bot_token, base_url=ls.api_url, retry_handlers=[AsyncRateLimitErrorRetryHandler()]
    )
    ls.fail("chat.postMessage", status=429, retry_after=1)
    started = time.monotonic()
    response = await client.chat_postMessage(channel="C_GENERAL", text="after a wait")
    assert time.monotonic() - started >= 1  # the client honoured Retry-After
    assert response["ok"] is True
    calls = ls.calls_to("chat.postMessage")
    assert [(c.status, c.ok) for c in calls] == [(429, False), (200, True)]
    assert calls[0].response == {"ok": False, "error": "ratelimited"}
    assert [m.text for m in ls.messages("C_GENERAL")] == ["after a wait"]


async def test_faults_429_without_retry_handler_raises(
    ls: LocalSlack, client: AsyncWebClient
) -> None:
    ls.fail("chat.update", times=2, retry_after=7)
    posted = await client.chat_postMessage(channel="C_GENERAL", text="x")
    for _ in range(2):
        with pytest.raises(SlackApiError) as caught:
            await client.chat_update(channel="C_GENERAL", ts=posted["ts"], text="y")
        assert caught.value.response.status_code == 429
        assert caught.value.response.headers["Retry-After"] == "7"
    await client.chat_update(channel="C_GENERAL", ts=posted["ts"], text="y")
    assert ls.messages("C_GENERAL")[0].text == "y"


async def test_faults_500_is_retried_by_server_error_handler(ls: LocalSlack) -> None:
    client = AsyncWebClient(
        token=ls.bot_token, base_url=ls.api_url, retry_handlers=[AsyncServerErrorRetryHandler()]
    )
    ls.fail("auth.test", status=500)
    assert (await client.auth_test())["ok"] is True
    assert [c.status for c in ls.calls_to("auth.test")] == [500, 200]
    assert ls.calls[0].response["ok"] is False


async def test_faults_fail_every_nth_call_of_chosen_methods(
    ls: LocalSlack, client: AsyncWebClient
) -> None:
    ls.fail_every(2, methods={"chat.postMessage"})
    outcomes = []
    for n in range(4):
        await client.auth_test()  # not counted
        try:
            await client.chat_postMessage(channel="C_GENERAL", text=str(n))
            outcomes.append("ok")
        except SlackApiError as error:
            outcomes.append(error.response["error"])
    assert outcomes == ["ok", "ratelimited", "ok", "ratelimited"]
    ls.fail_every(0)
    await client.chat_postMessage(channel="C_GENERAL", text="again")
    assert ls.calls[-1].ok
