"""A slow model for tests: the scripted model, held at a gate the test opens.

The model is the one thing the tests cannot call for real, so a slow model is an
honest test double: the runtime is `open_runtime` itself, with this model put into
its `Deps` through the `adjust` seam. The gate also keeps what the model was shown
at each call, so a test can see what reached it.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from functools import partial
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatResult

from agent.deps import Deps
from agent.integrations.scripted_model import ScriptedChatModel
from agent.runs.runtime import open_runtime


class Gate:
    """Holds every model call until `open()`; `waiting` is set while a call is held.

    `calls` has the messages of every call the model answered, in order.
    """

    def __init__(self, *, opened: bool = False) -> None:
        self.opened = asyncio.Event()
        self.waiting = asyncio.Event()
        self.calls: list[list[BaseMessage]] = []
        if opened:
            self.opened.set()

    def open(self) -> None:
        self.opened.set()

    def close(self) -> None:
        self.opened.clear()
        self.waiting.clear()


def gated_runtime(gate: Gate) -> Any:
    """A `Runtime` for `running_bot` whose model waits at `gate` before each answer."""

    class GatedModel(ScriptedChatModel):
        async def _agenerate(
            self,
            messages: list[BaseMessage],
            stop: list[str] | None = None,
            run_manager: AsyncCallbackManagerForLLMRun | None = None,
            **kwargs: Any,
        ) -> ChatResult:
            gate.waiting.set()
            await gate.opened.wait()
            gate.waiting.clear()
            gate.calls.append(list(messages))
            return await super()._agenerate(messages, stop, run_manager, **kwargs)

    def adjust(deps: Deps) -> Deps:
        scripted = deps.model_for

        def model_for(key: str) -> BaseChatModel:
            model = scripted(key)
            assert isinstance(model, ScriptedChatModel)
            return GatedModel(turns=model.turns, then=model.then)

        return replace(deps, model_for=model_for)

    return partial(open_runtime, adjust=adjust)
