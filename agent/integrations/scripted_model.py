"""The scripted chat model: a list of assistant turns played back (architecture: Integrations).

It is the only stand-in in the system; tools, git and tests still run for real. The
turn to answer is the number of `AIMessage`s it is called with: a run is one growing
conversation kept in the checkpointed graph state, so the count survives a restart
without any counter of its own. When the script ends the call fails at once with
`model_output`; it never wraps around and never waits. A script may instead name a
`then` turn, answered to every call past its end: the demo's scripts use it to
finish further review rounds, saying in its text that it is a scripted model.

A script file is a JSON list of turns, or `{"turns": [...], "then": {...}}`, with
optionally `"seconds_per_turn"`: how long each answer takes, so benches and tests in
other processes have a model as slow as a real one.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, ToolCall
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from agent.errors import ErrorKind, TaskmasterError
from agent.integrations.keys import key_slug


class ScriptToolCall(BaseModel):
    """A tool call as a script writes it: no id, the model adds one."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    args: dict[str, Any] = Field(default_factory=dict)


class ScriptTurn(BaseModel):
    """One assistant turn: some text and any tool calls."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    content: str = ""
    tool_calls: tuple[ScriptToolCall, ...] = ()


class ScriptFile(BaseModel):
    """A script with its turns and, optionally, the turn that answers every call after them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    turns: tuple[ScriptTurn, ...]
    then: ScriptTurn | None = None
    seconds_per_turn: float = Field(0.0, ge=0)


Script = TypeAdapter(list[ScriptTurn] | ScriptFile)


class ScriptedChatModel(BaseChatModel):
    """A chat model that answers call N with turn N of its script (or `then` past its end)."""

    turns: tuple[ScriptTurn, ...]
    then: ScriptTurn | None = None
    seconds_per_turn: float = 0.0

    def __init__(
        self,
        turns: Sequence[ScriptTurn | dict[str, Any]],
        then: ScriptTurn | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(turns=tuple(turns), then=then, **kwargs)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._answer(messages))])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        # No executor hop: playing back a turn does no I/O.
        if self.seconds_per_turn:
            await asyncio.sleep(self.seconds_per_turn)
        return ChatResult(generations=[ChatGeneration(message=self._answer(messages))])

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """The model itself: the script already says which tools are called."""
        return self

    def _answer(self, messages: list[BaseMessage]) -> AIMessage:
        index = sum(isinstance(message, AIMessage) for message in messages)
        if index < len(self.turns):
            turn = self.turns[index]
        elif self.then is not None:
            turn = self.then
        else:
            raise TaskmasterError(
                ErrorKind.MODEL_OUTPUT,
                f"The scripted model has no turn {index + 1}: "
                f"its script ended after {len(self.turns)} turns.",
            )
        calls = [
            ToolCall(
                name=call.name,
                args=copy.deepcopy(call.args),  # callers may mutate; the script must not change
                id=f"call_{index + 1}_{number}",
                type="tool_call",
            )
            for number, call in enumerate(turn.tool_calls)
        ]
        return AIMessage(content=turn.content, tool_calls=calls)


def load_script(path: Path, key: str) -> ScriptFile:
    """The script for ticket `key`: PATH is one JSON file for every ticket, or a folder
    holding `<KEY>.json` (the key as `key_slug` writes it: `#12` is `12.json`)."""
    if path.is_dir():
        file = path / f"{key_slug(key)}.json"
        if not file.is_file():
            raise TaskmasterError(ErrorKind.INVALID_INPUT, f"No script for {key} in {path}")
    elif path.is_file():
        file = path
    else:
        raise TaskmasterError(ErrorKind.INVALID_INPUT, f"The script {path} does not exist.")
    try:
        script = Script.validate_python(json.loads(file.read_text(encoding="utf-8")))
        return script if isinstance(script, ScriptFile) else ScriptFile(turns=tuple(script))
    except json.JSONDecodeError as exc:
        reason = f"not JSON (line {exc.lineno})"
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        reason = f"{where}: {error['msg']}"
    except UnicodeDecodeError:
        reason = "not UTF-8 text"
    raise TaskmasterError(ErrorKind.INVALID_INPUT, f"The script {file} is not valid: {reason}")
