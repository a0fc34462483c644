"""Where a demo run's time goes: graph and checkpoints, git, and the repository's tests.

Runs TASK-101 of the demo N times end to end (plan, implement, tests, review, approve,
push, pull request) with the scripted model: through the product (`open_runtime` and
the `RunManager`, as `taskmaster run` drives it), and as the bare graph on the SQLite
checkpointer the product uses and on LangGraph's InMemorySaver. It prints the median
wall time per run split three ways (the arms interleaved, a run of each in turn). Git
records, test time from the runs' `tests` events; the rest is graph, model stand-in
and checkpoints, and for the product its orchestration (registry, leases, events).
The last line is P2: the product's orchestration over the bare graph's on SQLite, by
wall time and by this process's CPU time (git and the tests run in child processes,
so it is the graph, the checkpoints and the orchestration; it holds up on a busy
machine, where wall times do not).

    .venv/bin/python bench/run_demo.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from agent.demo import prepare_demo
from agent.events import TestsRan, parse_event
from agent.graph import compile_graph
from agent.integrations import registry
from agent.models import ReviewDecision
from agent.runs.checkpoints import open_checkpointer
from agent.runs.runtime import open_runtime
from agent.runs.store import RunRecord
from agent.settings import Settings, load_settings


class GitTimer(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.total = 0.0

    def emit(self, record: logging.LogRecord) -> None:
        self.total += getattr(record, "duration", 0.0)


@asynccontextmanager
async def memory_saver(_: Path) -> Any:
    yield InMemorySaver()


async def demo_settings(data_dir: Path) -> tuple[Settings, GitTimer]:
    """A fresh demo in `data_dir`, its settings, and a timer of its git calls."""
    overrides = await prepare_demo(data_dir)
    settings = load_settings(
        {"TASKMASTER_DATA_DIR": str(data_dir)}, env_file=None, overrides=overrides
    )
    timer = GitTimer()
    logging.getLogger("agent.git").addHandler(timer)
    return settings, timer


async def one_run(
    data_dir: Path, saver_factory: Callable[[Path], AbstractAsyncContextManager[Any]], number: int
) -> tuple[float, float, float, float]:
    settings, timer = await demo_settings(data_dir)
    tests = 0.0
    async with aiohttp.ClientSession() as http:
        deps = registry.build_deps(settings, http, {})
        async with saver_factory(settings.db_path) as saver:
            saver_typed: BaseCheckpointSaver[str] = saver
            graph = compile_graph(deps, saver_typed)
            config: Any = {"configurable": {"thread_id": f"bench-{number}"}}
            payload: Any = {"run_id": f"bench{number}", "ticket_key": "TASK-101"}
            started, cpu = time.perf_counter(), time.process_time()
            for _ in range(2):  # to the review, then the approval to the pull request
                async for mode, chunk in graph.astream(
                    payload, config, stream_mode=["custom", "updates"], durability="sync"
                ):
                    if mode == "custom":
                        event = parse_event(chunk)
                        if isinstance(event, TestsRan):
                            tests += event.result.duration
                    elif "__interrupt__" in chunk:
                        pending = chunk["__interrupt__"][0]
                        payload = Command(resume={pending.id: {"action": "approve", "by": "bench"}})
            total, cpu = time.perf_counter() - started, time.process_time() - cpu
            state = await graph.aget_state(config)
            assert state.values.get("outcome") == "done", state.values.get("outcome")
    logging.getLogger("agent.git").removeHandler(timer)
    return total, timer.total, tests, cpu


async def product_run(data_dir: Path, number: int) -> tuple[float, float, float, float]:
    """One run through the runtime and the manager: to the review, approved, delivered."""
    settings, timer = await demo_settings(data_dir)
    tests = 0.0

    async def sink(run: RunRecord, event: Any) -> None:
        nonlocal tests
        if isinstance(event, TestsRan):
            tests += event.result.duration

    async with open_runtime(settings, {}, sink) as manager:
        started, cpu = time.perf_counter(), time.process_time()
        run = await manager.start("TASK-101", "bench")
        assert (await manager.wait(run.run_id)).status == "awaiting_review"
        await manager.decide(run.run_id, ReviewDecision(action="approve", by="bench"))
        record = await manager.wait(run.run_id)
        total, cpu = time.perf_counter() - started, time.process_time() - cpu
        assert record.status == "done", record.error
    logging.getLogger("agent.git").removeHandler(timer)
    return total, timer.total, tests, cpu


Row = tuple[float, float, float, float]  # total, git, tests, CPU (seconds)


async def one(arm: str, number: int) -> Row:
    with tempfile.TemporaryDirectory(prefix="taskmaster-bench-") as scratch:
        if arm == "product":
            return await product_run(Path(scratch), number)
        factory = open_checkpointer if arm == "SQLite" else memory_saver
        return await one_run(Path(scratch), factory, number)


def summary(name: str, rows: list[Row]) -> tuple[float, float]:
    total = statistics.median(r[0] for r in rows)
    git = statistics.median(r[1] for r in rows)
    tests = statistics.median(r[2] for r in rows)
    graph = statistics.median(r[0] - r[1] - r[2] for r in rows)
    cpu = statistics.median(r[3] for r in rows)
    print(
        f"{name:<14} median of {len(rows)}: total {total:6.3f}s | graph+checkpoints {graph:6.3f}s"
        f" | git {git:6.3f}s | tests {tests:6.3f}s | this process's CPU {cpu:6.3f}s"
    )
    return graph, cpu


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    logging.getLogger("agent.git").setLevel(logging.DEBUG)
    arms = ("product", "SQLite", "InMemorySaver")
    rows: dict[str, list[Row]] = {arm: [] for arm in arms}
    # Interleaved, one run of each arm in turn: a machine whose load drifts (other work
    # on its cores) weighs on every arm alike, not on whichever ran last.
    for number in range(args.runs):
        for arm in arms:
            rows[arm].append(await one(arm, number))
    product, bare, _ = (summary(arm, rows[arm]) for arm in arms)
    print(
        f"P2, orchestration over the bare graph on SQLite: {product[0] * 1000:.1f} ms"
        f" / {bare[0] * 1000:.1f} ms = {product[0] / bare[0]:.2f}x wall;"
        f" CPU {product[1] * 1000:.1f} ms / {bare[1] * 1000:.1f} ms = {product[1] / bare[1]:.2f}x"
    )


if __name__ == "__main__":
    asyncio.run(main())
