"""The composition root: everything a process needs to drive runs, opened together.

Every entry point assembles its runtime here and nowhere else: `taskmaster run` and
`resume`, `serve` (and so the demo), LangGraph Studio (`open_deps`, no checkpointer)
and the benches. Tests change what they need through the `adjust` seam, never by
copying this.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import replace
from typing import Any, Literal

import aiohttp

from agent.deps import Deps
from agent.graph import compile_graph
from agent.integrations import registry
from agent.redaction import install_log_redaction
from agent.runs.lease import LEASE_S
from agent.runs.manager import EventSink, RunManager
from agent.runs.queue import RunQueue, open_queue
from agent.settings import Settings

HTTP_TIMEOUT = aiohttp.ClientTimeout(total=60, connect=10)

Role = Literal["all", "web", "worker"]
"""What the process does with runs. `all` drives the runs it starts (the CLI; `serve`
on SQLite). On PostgreSQL, `web` (`serve`) enqueues them and `worker` drives them."""


@asynccontextmanager
async def open_deps(settings: Settings, environ: Mapping[str, str]) -> AsyncIterator[Deps]:
    """The graph's services over one HTTP session, chosen by settings.

    Settings are checked before anything is opened, so a missing one stops start-up
    with its one line; secrets are masked in every log record from here on.
    """
    async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as http:
        deps = registry.build_deps(settings, http, environ)
        install_log_redaction(deps.redact)
        yield deps


@asynccontextmanager
async def open_runtime(
    settings: Settings,
    environ: Mapping[str, str],
    sink: EventSink,
    *,
    adjust: Callable[[Deps], Deps] | None = None,
    role: Role = "all",
) -> AsyncIterator[RunManager]:
    """The run manager over the services, one checkpointer and one registry connection.

    The sandbox is checked too, so a host that cannot run one refuses to start rather
    than failing each run. On exit, runs still going are left `running` for
    `recover()`. `adjust` is the seam for tests (a slower model, say); the rest is
    always this.
    """
    async with open_deps(settings, environ) as deps:
        await deps.sandbox.check()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        # Only TaskMaster's user may enter: the database holds reviews' ids, and the
        # workspaces hold files the repository's code made.
        settings.data_dir.chmod(0o700)
        async with registry.run_registry(settings) as store:
            deps = replace(deps, inbox=store)  # replies in a thread reach the model through it
            if adjust is not None:
                deps = adjust(deps)
            async with registry.checkpoints(settings) as checkpoints, AsyncExitStack() as stack:
                graph = compile_graph(deps, checkpoints.saver)
                queue: RunQueue | None = None
                managers: list[RunManager] = []

                async def drive(run_id: str, initial: dict[str, Any] | None) -> None:
                    await managers[0].drive_queued(run_id, initial)

                if settings.database == "postgres" and role != "all":
                    url = settings.database_url_text
                    driver = drive if role == "worker" else None
                    queue = await stack.enter_async_context(open_queue(url, driver))
                manager = RunManager(
                    graph,
                    store,
                    checkpoints,
                    deps,
                    sink,
                    queue=queue,
                    drives_here=role != "web",
                    lease_s=settings.worker_timeout if queue is not None else LEASE_S,
                )
                managers.append(manager)
                try:
                    yield manager
                finally:
                    await manager.aclose()
