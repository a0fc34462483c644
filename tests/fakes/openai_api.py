"""A fake OpenAI Chat Completions API (`POST /v1/chat/completions`), strict as the real one.

Written from OpenAI's API reference ("Create chat completion", "Error codes"): it
checks the bearer key, the roles, that every assistant `tool_calls` entry is
answered by a `tool` message before anything else and that every `tool` message
answers one, that an assistant message without tool calls has content, the tool
schemas (`^[a-zA-Z0-9_-]{1,64}$` names, `type: object` parameters) and
`tool_choice`, and the model's context window; each refusal is a 400 in OpenAI's
error shape (`{"error": {"message", "type", "param", "code"}}`). A reply carries
`finish_reason` ("stop", "tool_calls", or "length" for a cut-off reply whose
arguments are the broken JSON the model got to) and `usage` with
`prompt_tokens_details.cached_tokens`: like OpenAI's automatic prompt caching, a
prompt of 1,024 tokens or more reuses the longest prefix of whole messages it shares
with the previous request, in steps of 128 tokens.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from aiohttp import web

from tests.fakes.chat import FakeChatServer, Turn, Usage, json_tokens, text_tokens

NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
ROLES = ("system", "developer", "user", "assistant", "tool", "function")
CACHE_MIN, CACHE_STEP = 1024, 128
RATE_LIMITED = (
    "Rate limit reached for gpt-4o in organization org-fake on requests per min (RPM): "
    "Limit 500, Used 500, Requested 1. Please try again in 120ms."
)
SERVER_ERROR = "The server had an error while processing your request. Sorry about that!"


def error_body(
    message: str, type: str = "invalid_request_error", param: str | None = None, code: Any = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


class Invalid(Exception):
    def __init__(self, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.body = error_body(message, param=param, code=code)


class FakeOpenAI(FakeChatServer):
    path = "/v1/chat/completions"
    service = "OpenAI"

    def __init__(self, key: str = "sk-fake-openai", turns: list[Turn] | None = None) -> None:
        super().__init__(key, turns)
        self._previous: list[str] = []  # the last accepted request's messages, as JSON
        self.app.add_routes([web.post(self.path, self._complete)])

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.key}"

    def unauthorized(self) -> web.StreamResponse:
        message = (
            "Incorrect API key provided: sk-fake***. You can find your API key at "
            "https://platform.openai.com/account/api-keys."
        )
        return web.json_response(error_body(message, code="invalid_api_key"), status=401)

    def fail_with(self, status: int, *, times: int = 1) -> None:
        """Answer the next `times` requests as OpenAI does when rate limited or broken."""
        if status == 429:
            body = error_body(RATE_LIMITED, "requests", code="rate_limit_exceeded")
            headers = {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "1s"}
        else:
            body, headers = error_body(SERVER_ERROR, "server_error"), {}
        self.fail("POST", self.path, status, times=times, headers=headers, body=body)

    async def _answer_request(self, request: web.Request) -> web.StreamResponse:
        try:
            body = json.loads(await request.read())
        except ValueError:
            return self.refuse(400, error_body("We could not parse the JSON body of your request."))
        try:
            tokens, messages = self._check(body)
        except Invalid as invalid:
            return self.refuse(400, invalid.body)
        if self.window is not None and tokens > self.window:
            message = (
                f"This model's maximum context length is {self.window} tokens. However, your "
                f"messages resulted in {tokens} tokens. Please reduce the length of the messages."
            )
            return self.refuse(
                400, error_body(message, param="messages", code="context_length_exceeded")
            )
        answered = sum(1 for m in messages if m.get("role") == "assistant")
        turn = self.turn_for(answered)
        if turn is None:
            return self.refuse(400, error_body(f"fake OpenAI: no turn {answered + 1} scripted"))
        cached = self._cached(messages, body.get("tools") or [], tokens)
        self.sent_tokens.append(tokens)
        return web.json_response(self._reply(body, turn, tokens, cached))

    def _check(self, body: Any) -> tuple[int, list[dict[str, Any]]]:
        if not isinstance(body, dict) or not isinstance(body.get("model"), str):
            raise Invalid("you must provide a model parameter", "model")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise Invalid(
                "Invalid 'messages': empty array. Expected an array with minimum "
                "length 1, but got an empty array instead.",
                "messages",
                "empty_array",
            )
        tools = self._check_tools(body)
        tokens = json_tokens(tools) if tools else 0
        waiting: dict[str, str] = {}  # tool_call_id -> the index of the assistant message
        for index, message in enumerate(messages):
            where = f"messages.[{index}]"
            role = message.get("role") if isinstance(message, dict) else None
            if role not in ROLES:
                raise Invalid(
                    f"Invalid value: '{role}'. Supported values are: 'system', 'assistant', "
                    "'user', 'function', 'tool', and 'developer'.",
                    f"{where}.role",
                    "invalid_value",
                )
            if role == "tool":
                call_id = message.get("tool_call_id")
                if call_id not in waiting:
                    raise Invalid(
                        "Invalid parameter: messages with role 'tool' must be a response to a "
                        "preceeding message with 'tool_calls'.",
                        f"{where}.role",
                    )
                del waiting[call_id]
                tokens += text_tokens(_text(message.get("content"), where))
                continue
            if waiting:
                raise Invalid(
                    "An assistant message with 'tool_calls' must be followed by tool messages "
                    "responding to each 'tool_call_id'. The following tool_call_ids did not "
                    f"have response messages: {', '.join(waiting)}",
                    f"{where}.role",
                )
            if role == "assistant":
                calls = message.get("tool_calls") or []
                content = message.get("content")
                if content is None and not calls:
                    raise Invalid(
                        "Invalid value for 'content': expected a string, got null.",
                        f"{where}.content",
                    )
                parts = [_text(content, where)] if content is not None else []
                for number, tool_call in enumerate(calls):
                    function = tool_call.get("function") or {}
                    arguments = function.get("arguments")
                    if not tool_call.get("id") or not isinstance(arguments, str):
                        raise Invalid(
                            "Missing required parameter: 'id' or 'function.arguments'.",
                            f"{where}.tool_calls.[{number}]",
                            "missing_required_parameter",
                        )
                    waiting[tool_call["id"]] = where
                    parts += [str(function.get("name")), arguments]
                tokens += text_tokens(*parts)
            else:
                tokens += text_tokens(_text(message.get("content"), where))
        if waiting:
            raise Invalid(
                "An assistant message with 'tool_calls' must be followed by tool messages "
                "responding to each 'tool_call_id'. The following tool_call_ids did not have "
                f"response messages: {', '.join(waiting)}",
                "messages",
            )
        return tokens, messages

    def _check_tools(self, body: dict[str, Any]) -> list[Any]:
        tools = body.get("tools") or []
        names = set()
        for index, tool in enumerate(tools):
            function = tool.get("function") if isinstance(tool, dict) else None
            if not isinstance(function, dict) or tool.get("type") != "function":
                raise Invalid(
                    "Missing required parameter: 'tools[0].function'.",
                    f"tools[{index}].function",
                    "missing_required_parameter",
                )
            name = function.get("name")
            if not isinstance(name, str) or not NAME.match(name):
                raise Invalid(
                    f"Invalid 'tools[{index}].function.name': string does not match pattern. "
                    "Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.",
                    f"tools[{index}].function.name",
                    "invalid_value",
                )
            parameters = function.get("parameters", {"type": "object", "properties": {}})
            if not isinstance(parameters, dict) or parameters.get("type") != "object":
                got = parameters.get("type") if isinstance(parameters, dict) else None
                raise Invalid(
                    f"Invalid schema for function '{name}': schema must be a JSON Schema of "
                    f"'type: \"object\"', got 'type: \"{got}\"'.",
                    f"tools[{index}].function.parameters",
                    "invalid_function_parameters",
                )
            names.add(name)
        choice = body.get("tool_choice")
        if choice is not None and not tools:
            raise Invalid(
                "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' "
                "are specified.",
                "tool_choice",
            )
        if isinstance(choice, dict):
            wanted = (choice.get("function") or {}).get("name")
            if wanted not in names:
                raise Invalid(
                    f"Invalid value for 'tool_choice': function '{wanted}' not found in 'tools'.",
                    "tool_choice",
                )
        elif choice not in (None, "none", "auto", "required"):
            raise Invalid(
                f"Invalid value: '{choice}'. Supported values are: 'none', 'auto', and 'required'.",
                "tool_choice",
                "invalid_value",
            )
        return list(tools)

    def _cached(self, messages: list[Any], tools: list[Any], tokens: int) -> int:
        # The prompt is the tools, then the messages: a prefix shared with the previous
        # request starts with the same tools.
        sent = [json.dumps(tools, sort_keys=True)] + [
            json.dumps(m, sort_keys=True) for m in messages
        ]
        previous, self._previous = self._previous, sent
        if tokens < CACHE_MIN or not previous or previous[0] != sent[0]:
            return 0
        shared = json_tokens(tools) if tools else 0
        sent, previous = sent[1:], previous[1:]
        for before, now, message in zip(previous, sent, messages, strict=False):
            if before != now:
                break
            shared += _message_tokens(message)
        shared = min(shared, tokens)
        return shared // CACHE_STEP * CACHE_STEP if shared >= CACHE_MIN else 0

    def _reply(self, body: dict[str, Any], turn: Turn, tokens: int, cached: int) -> dict[str, Any]:
        calls = [
            {
                "id": self.next_id("call_fake"),
                "type": "function",
                "function": {
                    "name": c.name,
                    "arguments": c.raw if c.raw is not None else json.dumps(c.args),
                },
            }
            for c in turn.calls
        ]
        parts = [turn.text, *(c["function"]["name"] + c["function"]["arguments"] for c in calls)]
        output = text_tokens(*parts)
        self.usages.append(Usage(tokens, output, cached))
        message: dict[str, Any] = {
            "role": "assistant",
            "content": turn.text or None,
            "refusal": None,
            "annotations": [],
        }
        if calls:
            message["tool_calls"] = calls
        finish = "length" if turn.cut_off else "tool_calls" if calls else "stop"
        return {
            "id": self.next_id("chatcmpl-fake"),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
            ],
            "usage": {
                "prompt_tokens": tokens,
                "completion_tokens": output,
                "total_tokens": tokens + output,
                "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
                "completion_tokens_details": {
                    "reasoning_tokens": 0,
                    "audio_tokens": 0,
                    "accepted_prediction_tokens": 0,
                    "rejected_prediction_tokens": 0,
                },
            },
            "service_tier": "default",
            "system_fingerprint": "fp_fake",
        }


def _text(content: Any, where: str) -> str:
    """A message's text: a string, or an array of text parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(
        isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
        for p in content
    ):
        return "".join(p["text"] for p in content)
    raise Invalid(
        f"Invalid type for '{where}.content': expected one of a string or array "
        "of objects, but got an object instead.",
        f"{where}.content",
        "invalid_type",
    )


def _message_tokens(message: dict[str, Any]) -> int:
    parts = [message["content"] if isinstance(message.get("content"), str) else ""]
    for tool_call in message.get("tool_calls") or []:
        function = tool_call.get("function") or {}
        parts += [str(function.get("name")), str(function.get("arguments"))]
    return text_tokens(*parts)
