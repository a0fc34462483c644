"""The fake providers refuse what the real APIs refuse, in the providers' own error shapes."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.agent.providers.conftest import SHARED_LOOP
from tests.fakes.anthropic_api import FakeAnthropic
from tests.fakes.chat import say
from tests.fakes.openai_api import FakeOpenAI

pytestmark = SHARED_LOOP

TOOL = {"type": "function", "function": {"name": "read_file", "parameters": {"type": "object"}}}
CALL = {"id": "call_1", "type": "function", "function": {"name": "read_file", "arguments": "{}"}}
USE = {"type": "tool_use", "id": "toolu_1", "name": "read_file", "input": {}}
RESULT = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}

OPENAI_REFUSED = {
    "tool call without its reply": [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": None, "tool_calls": [CALL]},
        {"role": "user", "content": "continue"},
    ],
    "reply to no call": [
        {"role": "user", "content": "go"},
        {"role": "tool", "tool_call_id": "call_9", "content": "late"},
    ],
    "assistant turn with nothing in it": [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": None},
        {"role": "user", "content": "continue"},
    ],
}
ANTHROPIC_REFUSED = {
    "tool call without its reply": [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": [USE]},
        {"role": "user", "content": "continue"},
    ],
    "reply to no call": [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": [RESULT]},
    ],
    "system message among the messages": [
        {"role": "user", "content": "go"},
        {"role": "system", "content": "be brief"},
    ],
    "empty turn": [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": ""},
        {"role": "user", "content": "continue"},
    ],
}


async def _post(url: str, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, json=body, headers=headers) as response,
    ):
        return response.status, await response.json()


@pytest.mark.parametrize("case", list(OPENAI_REFUSED))
async def test_fake_openai_refuses_what_openai_refuses(case: str) -> None:
    async with FakeOpenAI(turns=[say("hi")]) as fake:
        body = {"model": "gpt-4o", "messages": OPENAI_REFUSED[case], "tools": [TOOL]}
        status, data = await _post(
            f"{fake.base_url}/chat/completions", {"Authorization": f"Bearer {fake.key}"}, body
        )
    assert status == 400
    assert data["error"]["type"] == "invalid_request_error" and data["error"]["message"]


async def test_fake_openai_refuses_a_bad_tool_schema_and_a_wrong_key() -> None:
    async with FakeOpenAI(turns=[say("hi")]) as fake:
        url, auth = f"{fake.base_url}/chat/completions", {"Authorization": f"Bearer {fake.key}"}
        bad = {"type": "function", "function": {"name": "read file", "parameters": {}}}
        body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "go"}]}
        assert (await _post(url, auth, {**body, "tools": [bad]}))[0] == 400
        status, data = await _post(url, {"Authorization": "Bearer sk-wrong"}, body)
        assert status == 401 and data["error"]["code"] == "invalid_api_key"
        assert (await _post(url, auth, body))[0] == 200


@pytest.mark.parametrize("case", list(ANTHROPIC_REFUSED))
async def test_fake_anthropic_refuses_what_anthropic_refuses(case: str) -> None:
    async with FakeAnthropic(turns=[say("hi")]) as fake:
        headers = {"x-api-key": fake.key, "anthropic-version": "2023-06-01"}
        body = {
            "model": "claude-sonnet-4-5",
            "max_tokens": 100,
            "messages": ANTHROPIC_REFUSED[case],
        }
        status, data = await _post(f"{fake.url}/v1/messages", headers, body)
    assert status == 400
    assert data["type"] == "error" and data["error"]["type"] == "invalid_request_error"


async def test_fake_anthropic_refuses_a_bad_tool_schema_and_needs_the_version() -> None:
    async with FakeAnthropic(turns=[say("hi")]) as fake:
        url = f"{fake.url}/v1/messages"
        headers = {"x-api-key": fake.key, "anthropic-version": "2023-06-01"}
        body = {
            "model": "claude-sonnet-4-5",
            "max_tokens": 100,
            "messages": [{"role": "user", "content": "go"}],
        }
        bad = {"name": "read_file", "input_schema": {"type": "string"}}
        assert (await _post(url, headers, {**body, "tools": [bad]}))[0] == 400
        assert (await _post(url, {"x-api-key": fake.key}, body))[0] == 400
        assert (await _post(url, headers, {**body, "max_tokens": 0}))[0] == 400
        assert (await _post(url, headers, body))[0] == 200
