"""The conversation as it is sent to the model: one every provider accepts, within budget.

The graph state keeps the run's conversation; before each call it goes through
`repair` and `fit`:

- `repair` makes it valid for every provider's API. OpenAI and Anthropic refuse a
  tool call without its tool reply, a reply to no call, an empty assistant turn.
  `act` answers every call (the invalid ones too), so a new run never needs this;
  a run that failed before it did (or was stopped between `implement` and `act`)
  is repaired here, so it resumes.
- `fit` keeps the request under TASKMASTER_CONTEXT_TOKENS. Old tool outputs are
  shortened first, oldest first, each replaced by a note that says what it was and
  that the tool can be called again; then the long arguments of old tool calls
  (a whole file in `write_file`), and last those of the latest call (the tool has
  run; what it wrote can be read). The latest tool outputs, the system prompt, the
  ticket and every message from people (reviewer feedback) stay whole. The
  shortened messages replace the originals in the state (same ids), so the stored
  conversation stays bounded too. Once over `HEADROOM` of the budget it shortens
  down to `LOW_WATER`, not just under the line: the requests after it then only add
  to a beginning that does not change, which providers serve from their prompt
  cache, where shortening one old message per request would change it every time.

Tokens are estimated, not counted: one token per `CHARS_PER_TOKEN` characters of
the text a provider receives (contents, tool names and JSON arguments, tool
schemas). Real tokenizers make about 4 characters of English or 3.5 of code a
token, so the estimate errs high; `fit` also aims at `HEADROOM` of the budget.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolCall,
    ToolMessage,
)
from langchain_core.utils.function_calling import convert_to_openai_tool

from agent.errors import Budget, BudgetExhausted

CHARS_PER_TOKEN = 3
MESSAGE_TOKENS = 4  # a message's role and separators
HEADROOM = 0.9
LOW_WATER = 0.6  # once it must shorten, `fit` shortens down to this share of the budget
KEEP_WHOLE = 4  # the latest tool outputs (and assistant turns) are never shortened first
SHORT_ARG = 200  # tool-call arguments longer than this are shortened in old turns
SHORT_TEXT = 600  # assistant text longer than this is shortened in old turns
EMPTY_REPLY = "(no reply)"
NO_RESULT = (
    "Error: this call got no result (the reply that made it was cut off or the run "
    "stopped); call it again if you still need it."
)
SHORTENED = "[Shortened by TaskMaster to save context"


def estimate_tokens(text: str) -> int:
    """Tokens in `text`, estimated from its length (see the module docstring)."""
    return -(-len(text) // CHARS_PER_TOKEN)


def text_of(content: str | list[Any]) -> str:
    """The text a provider receives for a message's content (tool-use blocks aside)."""
    if isinstance(content, str):
        return content
    parts = []
    for block in content:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, dict) and block.get("type") == "text":
            parts.append(str(block.get("text", "")))
        elif isinstance(block, dict) and block.get("type") == "tool_use":
            continue  # counted with the message's tool calls
        else:
            parts.append(json.dumps(block, default=str))
    return "".join(parts)


def message_tokens(message: BaseMessage) -> int:
    parts = [text_of(message.content)]
    if isinstance(message, AIMessage):
        for call in message.tool_calls:
            parts += [call["name"], json.dumps(call["args"])]
        for invalid in message.invalid_tool_calls:
            parts += [invalid.get("name") or "", invalid.get("args") or ""]
    return MESSAGE_TOKENS + sum(estimate_tokens(part) for part in parts)


def tools_tokens(tools: Sequence[Any]) -> int:
    """The tool schemas a request carries, as OpenAI's format spells them."""
    return _tools_tokens(tuple(tools)) if tools else 0


@lru_cache(maxsize=32)
def _tools_tokens(tools: tuple[Any, ...]) -> int:
    # The same few tool lists on every call; their schemas are slow to build.
    return estimate_tokens(json.dumps([convert_to_openai_tool(tool) for tool in tools]))


def request_tokens(messages: Sequence[BaseMessage], tools: Sequence[Any]) -> int:
    return tools_tokens(tools) + sum(message_tokens(message) for message in messages)


# -- repair -------------------------------------------------------------------------


def repair(messages: Sequence[BaseMessage]) -> list[BaseMessage]:
    """The conversation with every tool call answered right after it, and nothing empty.

    Invalid calls (broken JSON) go out as calls with empty arguments, since their
    text may not be JSON at all; `act` has told the model what was wrong with them.
    A call with no reply gets `NO_RESULT`; a reply to no call is dropped.
    """
    out: list[BaseMessage] = []
    index = 0
    while index < len(messages):
        message = messages[index]
        index += 1
        if isinstance(message, ToolMessage):
            continue  # a reply with no call before it
        if isinstance(message, SystemMessage) and out:
            message = HumanMessage(text_of(message.content), id=message.id)
        if not isinstance(message, AIMessage):
            out.append(_not_empty(message))
            continue
        answer = _valid_calls(message)
        calls = {call["id"]: call for call in answer.tool_calls}
        replies: dict[str, ToolMessage] = {}
        others: list[BaseMessage] = []
        while index < len(messages) and not isinstance(messages[index], AIMessage):
            follower = messages[index]
            index += 1
            if isinstance(follower, ToolMessage):
                if follower.tool_call_id in calls and follower.tool_call_id not in replies:
                    replies[follower.tool_call_id] = follower
            else:
                others.append(follower)
        out.append(answer)
        for call_id, call in calls.items():
            assert call_id is not None
            reply = replies.get(call_id) or ToolMessage(
                NO_RESULT, tool_call_id=call_id, name=call["name"], status="error"
            )
            out.append(_not_empty(reply))
        for other in others:
            if isinstance(other, SystemMessage):
                other = HumanMessage(text_of(other.content), id=other.id)
            out.append(_not_empty(other))
    return out


def _valid_calls(message: AIMessage) -> AIMessage:
    """`message` with invalid calls as calls with empty arguments, and some content."""
    invalid = [c for c in message.invalid_tool_calls if c.get("id") and c.get("name")]
    calls = [call for call in message.tool_calls if call.get("id")]
    if not invalid and len(calls) == len(message.tool_calls) and _has_content(message, calls):
        return message
    merged = calls + [
        ToolCall(name=str(c["name"]), args={}, id=c["id"], type="tool_call") for c in invalid
    ]
    update: dict[str, Any] = {"tool_calls": merged, "invalid_tool_calls": []}
    if not _has_content(message, merged):
        update["content"] = EMPTY_REPLY
    return message.model_copy(update=update)


def _has_content(message: AIMessage, calls: Sequence[ToolCall]) -> bool:
    return bool(calls) or bool(text_of(message.content).strip())


def _not_empty(message: BaseMessage) -> BaseMessage:
    if text_of(message.content).strip() or isinstance(message, AIMessage):
        return message
    return message.model_copy(update={"content": "(empty)"})


# -- fit ----------------------------------------------------------------------------


def fit(
    messages: Sequence[BaseMessage],
    tools: Sequence[Any],
    budget: int,
    *,
    scale: float = 1.0,
) -> tuple[list[BaseMessage], int]:
    """`messages` shortened until the request is estimated under `budget`.

    Returns the messages and the request's estimated tokens. `scale` corrects the
    estimate when the provider counted more than it (never below 1). Raises
    `BudgetExhausted` (context) when even the shortened conversation is too big.
    """
    out = list(messages)
    sizes = [message_tokens(message) for message in out]
    fixed = tools_tokens(tools)
    limit = budget * HEADROOM

    def total() -> int:
        return round((fixed + sum(sizes)) * max(scale, 1.0))

    if total() <= limit:
        return out, total()
    target = budget * LOW_WATER
    last_ai = max((i for i, m in enumerate(out) if isinstance(m, AIMessage)), default=-1)
    tool_indexes = [i for i, m in enumerate(out) if isinstance(m, ToolMessage)]
    ai_indexes = [i for i, m in enumerate(out) if isinstance(m, AIMessage)]
    recent_tools = set(tool_indexes[-KEEP_WHOLE:])
    recent_ais = set(ai_indexes[-KEEP_WHOLE:])
    # In order: old tool outputs; old calls' arguments and text; then the recent
    # ones, except the latest turn's outputs, which the model has not read yet; last,
    # the latest call's own arguments (the tool has run: a file it wrote can be read).
    passes = [
        [i for i in tool_indexes if i not in recent_tools],
        [i for i in ai_indexes if i not in recent_ais],
        [i for i in tool_indexes if i in recent_tools and i < last_ai],
        [i for i in ai_indexes if i in recent_ais and i < last_ai],
        [last_ai] if last_ai >= 0 else [],
    ]
    for indexes in passes:
        for i in indexes:
            if total() <= target:
                return out, total()
            shorter = _shorten(out[i])
            if shorter is not out[i]:
                out[i] = shorter
                sizes[i] = message_tokens(shorter)
    if total() <= limit:
        return out, total()
    raise BudgetExhausted(Budget.CONTEXT, budget, used=total())


def _shorten(message: BaseMessage) -> BaseMessage:
    if isinstance(message, ToolMessage):
        return _shorten_reply(message)
    if isinstance(message, AIMessage):
        return _shorten_turn(message)
    return message


def _shorten_reply(reply: ToolMessage) -> ToolMessage:
    text = text_of(reply.content)
    if text.startswith(SHORTENED) or len(text) <= SHORT_ARG:
        return reply
    # The call just before says what was asked (the path, the pattern); the note says
    # what became of the answer, in as few tokens as a long run can afford for each.
    name = reply.name or "tool"
    note = (
        f"{SHORTENED}: this {name} result had {len(text):,} characters. "
        f"Call {name} again if you need it.]"
    )
    return reply.model_copy(update={"content": note})


def _shorten_turn(turn: AIMessage) -> AIMessage:
    calls = [
        ToolCall(name=call["name"], args=_short_args(call["args"]), id=call["id"], type="tool_call")
        for call in turn.tool_calls
    ]
    content: str | list[Any] = turn.content
    if isinstance(content, str):
        content = _short_text(content)
    else:
        by_id = {call["id"]: call["args"] for call in calls}
        content = [_short_block(block, by_id) for block in content]
    if calls == turn.tool_calls and content == turn.content:
        return turn
    return turn.model_copy(update={"tool_calls": calls, "content": content})


def _short_block(block: Any, args: dict[str | None, dict[str, Any]]) -> Any:
    if not isinstance(block, dict):
        return _short_text(block) if isinstance(block, str) else block
    if block.get("type") == "tool_use" and block.get("id") in args:
        return {**block, "input": args[block["id"]]}
    if block.get("type") == "text":
        return {**block, "text": _short_text(str(block.get("text", "")))}
    return block


def _short_args(args: dict[str, Any]) -> dict[str, Any]:
    return {
        key: f"[{len(value):,} characters, shortened by TaskMaster to save context]"
        if isinstance(value, str) and len(value) > SHORT_ARG
        else value
        for key, value in args.items()
    }


def _short_text(text: str) -> str:
    if len(text) <= SHORT_TEXT:
        return text
    return text[:SHORT_ARG] + " [... shortened by TaskMaster to save context]"
