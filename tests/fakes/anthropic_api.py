"""A fake Anthropic Messages API (`POST /v1/messages`), strict as the real one.

Written from Anthropic's API reference ("Messages", "Errors", "Tool use"): it checks
the key (`x-api-key`, or a bearer token as newer SDKs send it), `anthropic-version`,
`model` and `max_tokens`; that roles are only "user" and "assistant" (the system
prompt is the top-level `system`, never a message); that the first message is the
user's, no message is empty and no text block blank; that every `tool_use` block is
answered by a `tool_result` block in the very next message and every `tool_result`
answers one in the message before; the tool schemas (`^[a-zA-Z0-9_-]{1,64}$` names,
`input_schema` of type "object") and `tool_choice`; and the context window. Each
refusal is a 400 in Anthropic's shape (`{"type": "error", "error": {"type",
"message"}, "request_id"}`). A reply carries `stop_reason` ("end_turn", "tool_use",
or "max_tokens" for one cut off at the output limit, whose tool input holds only the
fields it finished) and `usage` (`input_tokens`, `output_tokens`,
`cache_creation_input_tokens`, `cache_read_input_tokens`).
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from tests.fakes.chat import FakeChatServer, Turn, Usage, json_tokens, text_tokens

NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}$")  # "2023-06-01", or a later dated version


def error_body(message: str, type: str = "invalid_request_error") -> dict[str, Any]:
    return {"type": "error", "error": {"type": type, "message": message}, "request_id": "req_fake"}


class Invalid(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.body = error_body(message)


class FakeAnthropic(FakeChatServer):
    path = "/v1/messages"
    service = "Anthropic"

    def __init__(self, key: str = "sk-ant-fake", turns: list[Turn] | None = None) -> None:
        super().__init__(key, turns)
        self.app.add_routes([web.post(self.path, self._complete)])

    @property
    def base_url(self) -> str:
        return self.url

    def authorized(self, request: web.Request) -> bool:
        # The key as `x-api-key`, or as a bearer token (which newer SDKs send).
        return self.key in (
            request.headers.get("x-api-key"),
            request.headers.get("Authorization", "").removeprefix("Bearer "),
        )

    def unauthorized(self) -> web.StreamResponse:
        return web.json_response(
            error_body("invalid x-api-key", "authentication_error"), status=401
        )

    def fail_with(self, status: int, *, times: int = 1) -> None:
        """Answer the next `times` requests as Anthropic does when rate limited or broken."""
        if status == 429:
            message = (
                "This request would exceed the rate limit for your organization of 50 "
                "requests per minute. Please try again later."
            )
            body, headers = error_body(message, "rate_limit_error"), {"retry-after": "1"}
        elif status == 529:
            body, headers = error_body("Overloaded", "overloaded_error"), {}
        else:
            body, headers = error_body("Internal server error", "api_error"), {}
        self.fail("POST", self.path, status, times=times, headers=headers, body=body)

    async def _answer_request(self, request: web.Request) -> web.StreamResponse:
        if not VERSION.match(request.headers.get("anthropic-version", "")):
            return self.refuse(400, error_body("anthropic-version: header is required"))
        try:
            body = json.loads(await request.read())
        except ValueError:
            return self.refuse(400, error_body("There was an error parsing the body"))
        try:
            tokens, messages = self._check(body)
        except Invalid as invalid:
            return self.refuse(400, invalid.body)
        if self.window is not None and tokens > self.window:
            message = f"prompt is too long: {tokens} tokens > {self.window} maximum"
            return self.refuse(400, error_body(message))
        answered = sum(1 for m in messages if m["role"] == "assistant")
        turn = self.turn_for(answered)
        if turn is None:
            return self.refuse(400, error_body(f"fake Anthropic: no turn {answered + 1} scripted"))
        self.sent_tokens.append(tokens)
        return web.json_response(self._reply(body, turn, tokens))

    def _check(self, body: Any) -> tuple[int, list[dict[str, Any]]]:
        if not isinstance(body, dict) or not isinstance(body.get("model"), str):
            raise Invalid("model: Field required")
        max_tokens = body.get("max_tokens")
        if not isinstance(max_tokens, int) or max_tokens < 1:
            raise Invalid("max_tokens: Field required")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise Invalid("messages: at least one message is required")
        tokens = self._check_tools(body) + text_tokens(_system_text(body.get("system")))
        previous_uses: set[str] = set()
        for index, message in enumerate(messages):
            role = message.get("role") if isinstance(message, dict) else None
            if role not in ("user", "assistant"):
                raise Invalid(f"messages.{index}.role: Input should be 'user' or 'assistant'")
            if index == 0 and role != "user":
                raise Invalid('messages: first message must use the "user" role')
            blocks = _blocks(message.get("content"), index)
            last = index == len(messages) - 1
            if not blocks and not (last and role == "assistant"):
                raise Invalid(
                    f"messages.{index}: all messages must have non-empty content except for "
                    "the optional final assistant message"
                )
            parts: list[str] = []
            uses: set[str] = set()
            answered: set[str] = set()
            for number, block in enumerate(blocks):
                kind = block.get("type")
                if kind == "text":
                    if not str(block.get("text", "")).strip():
                        raise Invalid(
                            "messages: text content blocks must contain non-whitespace text"
                        )
                    parts.append(block["text"])
                elif kind == "tool_use" and role == "assistant":
                    if not NAME.match(str(block.get("name"))) or not isinstance(
                        block.get("input"), dict
                    ):
                        raise Invalid(f"messages.{index}.content.{number}.tool_use: invalid")
                    uses.add(block["id"])
                    parts += [block["name"], json.dumps(block["input"])]
                elif kind == "tool_result" and role == "user":
                    if block.get("tool_use_id") not in previous_uses:
                        raise Invalid(
                            f"messages.{index}.content.{number}: unexpected `tool_use_id` found "
                            f"in `tool_result` blocks: {block.get('tool_use_id')}. Each "
                            "`tool_result` block must have a corresponding `tool_use` block in "
                            "the previous message."
                        )
                    answered.add(block["tool_use_id"])
                    parts.append(_result_text(block.get("content")))
                else:
                    raise Invalid(
                        f"messages.{index}.content.{number}.type: Input tag '{kind}' found "
                        f"using 'type' does not match any of the expected tags for {role}"
                    )
            missing = previous_uses - answered
            if missing:
                raise Invalid(
                    f"messages.{index}: `tool_use` ids were found without `tool_result` blocks "
                    f"immediately after: {', '.join(sorted(missing))}. Each `tool_use` block "
                    "must have a corresponding `tool_result` block in the next message."
                )
            if last and role == "assistant" and parts and parts[-1] != parts[-1].rstrip():
                raise Invalid("final assistant content cannot end with trailing whitespace")
            previous_uses = uses
            tokens += text_tokens(*parts)
        if previous_uses:
            raise Invalid(
                f"messages.{len(messages)}: `tool_use` ids were found without `tool_result` "
                f"blocks immediately after: {', '.join(sorted(previous_uses))}. Each `tool_use` "
                "block must have a corresponding `tool_result` block in the next message."
            )
        return tokens, messages

    def _check_tools(self, body: dict[str, Any]) -> int:
        tools = body.get("tools") or []
        names = set()
        for index, tool in enumerate(tools):
            name = tool.get("name") if isinstance(tool, dict) else None
            if not isinstance(name, str) or not NAME.match(name):
                raise Invalid(
                    f"tools.{index}.custom.name: String should match pattern "
                    "'^[a-zA-Z0-9_-]{1,64}$'"
                )
            schema = tool.get("input_schema")
            if not isinstance(schema, dict) or schema.get("type") != "object":
                raise Invalid(f"tools.{index}.custom.input_schema.type: Input should be 'object'")
            names.add(name)
        choice = body.get("tool_choice")
        if choice is not None:
            kind = choice.get("type") if isinstance(choice, dict) else None
            if kind not in ("auto", "any", "tool", "none"):
                raise Invalid(
                    "tool_choice: Input tag found using 'type' does not match any of the "
                    "expected tags: 'auto', 'any', 'tool', 'none'"
                )
            if kind == "tool" and choice.get("name") not in names:
                raise Invalid(f"tool_choice.name: Tool '{choice.get('name')}' not found in tools")
        return json_tokens(tools) if tools else 0

    def _reply(self, body: dict[str, Any], turn: Turn, tokens: int) -> dict[str, Any]:
        content: list[dict[str, Any]] = []
        if turn.text:
            content.append({"type": "text", "text": turn.text})
        for call in turn.calls:
            content.append(
                {
                    "type": "tool_use",
                    "id": self.next_id("toolu_fake"),
                    "name": call.name,
                    "input": call.args,
                }
            )
        parts = [
            turn.text,
            *(c["name"] + json.dumps(c["input"]) for c in content if c["type"] == "tool_use"),
        ]
        output = text_tokens(*parts)
        self.usages.append(Usage(tokens, output))
        stop = "max_tokens" if turn.cut_off else "tool_use" if turn.calls else "end_turn"
        return {
            "id": self.next_id("msg_fake"),
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": {
                "input_tokens": tokens,
                "output_tokens": output,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "service_tier": "standard",
            },
        }


def _system_text(system: Any) -> str:
    if system is None or isinstance(system, str):
        return system or ""
    if isinstance(system, list) and all(
        isinstance(b, dict) and b.get("type") == "text" for b in system
    ):
        return "".join(str(b.get("text", "")) for b in system)
    raise Invalid("system: Input should be a valid string or a list of text blocks")


def _blocks(content: Any, index: int) -> list[dict[str, Any]]:
    if isinstance(content, str):
        if not content:
            return []
        return [{"type": "text", "text": content}]
    if isinstance(content, list) and all(isinstance(b, dict) for b in content):
        return list(content)
    raise Invalid(f"messages.{index}.content: Input should be a valid string or list")


def _result_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
    return ""
