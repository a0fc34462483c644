"""Everything a process needs to drive runs, opened together and closed together."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace

import aiohttp

from agent.deps import Deps
from agent.graph import compile_graph
from agent.integrations import registry
from agent.redaction import install_log_redaction
from agent.runs.checkpoints import open_checkpointer
from agent.runs.manager import EventSink, RunManager
from agent.runs.store import RunStore
from agent.settings import Settings

HTTP_TIMEOUT = aiohttp.ClientTimeout(total=60, connect=10)


@asynccontextmanager
async def open_runtime(
    settings: Settings,
    environ: Mapping[str, str],
    sink: EventSink,
    *,
    adjust: Callable[[Deps], Deps] | None = None,
) -> AsyncIterator[RunManager]:
    """The run manager over one HTTP session, one checkpointer and one registry connection.

    Settings are checked before anything is opened, so a missing one stops start-up
    with its one line; so is the sandbox, so a host that cannot run one refuses to
    start rather than failing each run. On exit, runs still going are left `running`
    for `recover()`. `adjust` is the seam for tests (a slower model, say); the rest is
    always this.
    """
    async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as http:
        deps = registry.build_deps(settings, http, environ)
        install_log_redaction(deps.redact)
        await deps.sandbox.check()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        # Only TaskMaster's user may enter: the database holds reviews' ids, and the
        # workspaces hold files the repository's code made.
        settings.data_dir.chmod(0o700)
        store = await RunStore.open(settings.db_path)
        deps = replace(deps, inbox=store)  # replies in a thread reach the model through it
        if adjust is not None:
            deps = adjust(deps)
        try:
            async with open_checkpointer(settings.db_path) as checkpointer:
                manager = RunManager(
                    compile_graph(deps, checkpointer), store, checkpointer, deps, sink
                )
                try:
                    yield manager
                finally:
                    await manager.aclose()
        finally:
            await store.close()
