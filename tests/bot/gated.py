"""A slow model for tests: the scripted model, held at a gate the test opens.

The model is the one thing the tests cannot call for real, so a slow model is an
honest test double: the run manager is built exactly as `open_runtime` builds it,
with this model factory in its `Deps`, and passed to the bot as its runtime.
The rest mirrors `agent.runs.runtime.open_runtime`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import aiohttp
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatResult

from agent.graph import compile_graph
from agent.integrations import registry
from agent.integrations.scripted_model import ScriptedChatModel
from agent.runs.checkpoints import open_checkpointer
from agent.runs.manager import EventSink, RunManager
from agent.runs.store import RunStore
from agent.settings import Settings


class Gate:
    """Holds every model call until `open()`; `waiting` is set while a call is held."""

    def __init__(self) -> None:
        self.opened = asyncio.Event()
        self.waiting = asyncio.Event()

    def open(self) -> None:
        self.opened.set()


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
            return await super()._agenerate(messages, stop, run_manager, **kwargs)

    @asynccontextmanager
    async def runtime(
        settings: Settings, environ: Mapping[str, str], sink: EventSink
    ) -> AsyncIterator[RunManager]:
        scripted = registry.chat_model(settings)

        def model_for(key: str) -> BaseChatModel:
            model = scripted(key)
            assert isinstance(model, ScriptedChatModel)
            return GatedModel(turns=model.turns)

        async with aiohttp.ClientSession() as http:
            deps = replace(registry.build_deps(settings, http, environ), model_for=model_for)
            store = await RunStore.open(settings.db_path)
            try:
                async with open_checkpointer(settings.db_path) as checkpointer:
                    graph = compile_graph(deps, checkpointer)
                    manager = RunManager(graph, store, checkpointer, deps, sink)
                    try:
                        yield manager
                    finally:
                        await manager.aclose()
            finally:
                await store.close()

    return runtime
