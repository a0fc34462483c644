"""What the fake model providers share: the model's turns, stalling, and token counting.

A fake answers request N with turn N, where N is the number of assistant messages
in the request: like the scripted model, a resumed run (or a retried request)
gets the same answer again, and a test states the turns inline (`say`, `call`,
`cut_off`) or plays a demo transcript (`from_script`).

The fakes count a request's tokens with TaskMaster's own estimate
(`agent.conversation.estimate_tokens`) over exactly what they received (contents,
tool names and arguments, tool schemas), and report that as the usage, so a test
can compare the largest request with TASKMASTER_CONTEXT_TOKENS and the usage
totals with what the fake reported.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from agent.conversation import MESSAGE_TOKENS, estimate_tokens
from agent.integrations.scripted_model import ScriptTurn, load_script
from tests.fakes import FakeServer

DEMO_SCRIPTS = Path(__file__).resolve().parents[2] / "examples" / "demo" / "scripts"


@dataclass(frozen=True)
class Call:
    """A tool call in a turn; `raw` is the arguments text exactly as sent, when not `args`."""

    name: str
    args: dict[str, Any] = field(default_factory=dict)
    raw: str | None = None


@dataclass(frozen=True)
class Turn:
    """One assistant reply: text, tool calls, and whether it hit the output limit."""

    text: str = ""
    calls: tuple[Call, ...] = ()
    cut_off: bool = False


def say(text: str) -> Turn:
    return Turn(text=text)


def call(name: str, text: str = "", **args: Any) -> Turn:
    return Turn(text=text, calls=(Call(name, args),))


def cut_off(name: str, raw: str, partial: dict[str, Any], text: str = "") -> Turn:
    """A reply stopped at the output limit inside a tool call: OpenAI sends the broken
    JSON text `raw`; Anthropic, which parses the input itself, the fields it finished."""
    return Turn(text=text, calls=(Call(name, partial, raw),), cut_off=True)


def from_script(turns: list[ScriptTurn]) -> list[Turn]:
    return [Turn(t.content, tuple(Call(c.name, dict(c.args)) for c in t.tool_calls)) for t in turns]


def demo_turns(key: str) -> list[Turn]:
    """The demo's transcript for `key`, as a provider's turns."""
    return from_script(list(load_script(DEMO_SCRIPTS, key).turns))


READ_FILES = (
    "src/tasktrack/service.py",
    "src/tasktrack/storage.py",
    "tests/test_service.py",
    "src/tasktrack/models.py",
    "tests/test_models.py",
)


def reading_run(tool_calls: int, per_turn: int = 1) -> list[Turn]:
    """A long run on the demo's TASK-101: the plan, then `tool_calls` calls, `per_turn` in
    each turn, that read the demo's files (and now and then write a page of notes), then
    `finish`."""
    calls = []
    for number in range(tool_calls):
        if number % 25 == 24:
            calls.append(Call("write_file", {"path": f"notes/n{number}.md", "content": "n" * 3000}))
        else:
            calls.append(Call("read_file", {"path": READ_FILES[number % len(READ_FILES)]}))
    turns = [demo_turns("TASK-101")[0]]
    for start in range(0, tool_calls, per_turn):
        turns.append(Turn(f"Reading, step {start}.", tuple(calls[start : start + per_turn])))
    turns.append(call("finish", summary="Read the code; wrote notes."))
    return turns


def json_tokens(value: Any) -> int:
    return estimate_tokens(json.dumps(value))


@dataclass(frozen=True)
class Usage:
    """What the fake reported for one reply, in LangChain's terms (input includes cached)."""

    input: int
    output: int
    cached: int = 0


class FakeChatServer(FakeServer):
    """The machinery of a fake provider; subclasses speak its API."""

    path = ""
    service = ""

    def __init__(self, key: str, turns: list[Turn] | None = None) -> None:
        super().__init__()
        self.key = key
        self.turns: list[Turn] = list(turns or [])
        self.window: int | None = None  # the model's context window, in estimated tokens
        self.sent_tokens: list[int] = []  # every accepted request's size, in order
        self.usages: list[Usage] = []
        self.handling_s = 0.0  # time spent answering, so a bench can subtract it
        self.refusals: list[dict[str, Any]] = []  # 400s for invalid requests, for debugging
        self._healthy = asyncio.Event()
        self._healthy.set()
        self._ids = 0

    def enqueue(self, *turns: Turn) -> None:
        self.turns.extend(turns)

    def stall(self) -> None:
        """Accept requests but answer none of them until `heal()`."""
        self._healthy.clear()

    def heal(self) -> None:
        """Answer again: no stall, no planned failures left."""
        self._healthy.set()
        self._failures.clear()

    def next_id(self, prefix: str) -> str:
        self._ids += 1
        return f"{prefix}{self._ids:06d}"

    async def __aexit__(self, *exc: Any) -> None:
        self._healthy.set()  # a stalled handler would keep the server from closing
        await super().__aexit__(*exc)

    async def _complete(self, request: web.Request) -> web.StreamResponse:
        await self._healthy.wait()
        started = time.perf_counter()
        try:
            return await self._answer_request(request)
        finally:
            self.handling_s += time.perf_counter() - started

    async def _answer_request(self, request: web.Request) -> web.StreamResponse:
        raise NotImplementedError

    def turn_for(self, assistant_messages: int) -> Turn | None:
        return self.turns[assistant_messages] if assistant_messages < len(self.turns) else None

    def refuse(self, status: int, body: dict[str, Any]) -> web.Response:
        self.refusals.append(body)
        return web.json_response(body, status=status)


def text_tokens(*parts: str) -> int:
    return MESSAGE_TOKENS + sum(estimate_tokens(part) for part in parts)
