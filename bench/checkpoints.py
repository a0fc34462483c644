"""Checkpoint cost of long runs: bytes written and kept, and time per step, by tool calls.

For each length (10, 30, 100, 300 tool calls by default) it runs TASK-101 of the demo
with the scripted model through the product's runtime (`open_runtime`, the SQLite
checkpointer, `durability="sync"`): the plan, one read_file (every 25th a 3,000
character write_file) per turn, then `finish`, up to the review; then rejects it, so the
run ends and its checkpoints are pruned. It prints, per run:

- written: the bytes of the run's checkpoints and writes in the database at the review
  (nothing of a running run is deleted or replaced, so that is what was written);
- messages: the bytes of every message the run added, each once as written (the
  `messages` channel's writes), which bytes written are compared with;
- kept: the run's bytes left after it ended and was pruned;
- ms per step at the start (median of turns 2-11) and the end (the last 10 turns),
  from the run's progress events, a turn being two graph steps.

With `--finished N` it then runs N runs of 30 calls one after another in one data
folder, each to its review and rejected (so each is pruned), and prints the database's
size on disk (the file and its WAL) beside its live data (the bytes of the rows it
keeps, from SQLite's `dbstat`).

With `--baseline REF` it first runs the same measurement on the code of git ref REF
(a temporary `git worktree`, in a subprocess with that code first on `sys.path`), so
the two tables come from one run on one machine.

    .venv/bin/python bench/checkpoints.py [--calls 10 30 100 300] [--finished 50]
        [--baseline main]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
READ_FILES = (
    "src/tasktrack/service.py",
    "src/tasktrack/storage.py",
    "tests/test_service.py",
    "src/tasktrack/models.py",
    "tests/test_models.py",
)


def script(calls: int, plan_turn: dict[str, Any]) -> dict[str, Any]:
    """The scripted model's turns: the plan, `calls` one-call turns, then finish."""
    turns = [plan_turn]
    for number in range(calls):
        if number % 25 == 24:
            call = {
                "name": "write_file",
                "args": {"path": f"notes/n{number}.md", "content": "n" * 3000},
            }
        else:
            call = {"name": "read_file", "args": {"path": READ_FILES[number % len(READ_FILES)]}}
        turns.append({"content": f"Reading, step {number}.", "tool_calls": [call]})
    turns.append({"content": "", "tool_calls": [{"name": "finish", "args": {"summary": "Read."}}]})
    return {"turns": turns}


def thread_bytes(db: Path, thread: str) -> tuple[int, int]:
    """(all checkpoint and write bytes of the thread, bytes of its `messages` writes)."""
    with sqlite3.connect(db) as conn:
        (checkpoints,) = conn.execute(
            "SELECT coalesce(sum(length(checkpoint) + length(metadata)), 0) FROM checkpoints"
            " WHERE thread_id = ?",
            (thread,),
        ).fetchone()
        (writes,) = conn.execute(
            "SELECT coalesce(sum(length(value)), 0) FROM writes WHERE thread_id = ?", (thread,)
        ).fetchone()
        (messages,) = conn.execute(
            "SELECT coalesce(sum(length(value)), 0) FROM writes"
            " WHERE thread_id = ? AND channel = 'messages'",
            (thread,),
        ).fetchone()
    return int(checkpoints) + int(writes), int(messages)


async def settings_for(scratch: Path, calls: int) -> Any:
    from agent.demo import EXAMPLES, prepare_demo
    from agent.settings import load_settings

    plan_turn = json.loads((EXAMPLES / "scripts" / "TASK-101.json").read_text())["turns"][0]
    data = scratch / "data"
    script_file = scratch / "script.json"
    script_file.write_text(json.dumps(script(calls, plan_turn)))
    env = {
        **await prepare_demo(data),
        "TASKMASTER_DATA_DIR": str(data),
        "TASKMASTER_MODEL": f"scripted:{script_file}",
        "TASKMASTER_MAX_STEPS": str(calls + 10),
        "TASKMASTER_MAX_TOKENS": "1000000000",
    }
    return load_settings(env, env_file=None)


async def ignore(run: Any, event: Any) -> None:
    return None


async def finished_runs(runs: int, calls: int) -> None:
    """`runs` runs of `calls` calls, each rejected at its review: the file against its data."""
    from agent.models import ReviewDecision
    from agent.runs.runtime import open_runtime

    with tempfile.TemporaryDirectory(prefix="taskmaster-bench-") as scratch:
        settings = await settings_for(Path(scratch), calls)
        async with open_runtime(settings, {}, ignore) as manager:
            for _ in range(runs):
                run = await manager.start("TASK-101", "bench")
                assert (await manager.wait(run.run_id)).status == "awaiting_review"
                await manager.decide(run.run_id, ReviewDecision(action="reject", by="bench"))
                assert (await manager.wait(run.run_id)).status == "rejected"
        db = settings.db_path
        wal = db.with_name(db.name + "-wal")
        on_disk = db.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
        with sqlite3.connect(db) as conn:
            (live,) = conn.execute("SELECT sum(pgsize - unused) FROM dbstat").fetchone()
    print(
        f"{runs} finished runs of {calls} calls: database on disk {on_disk / 1e6:.1f} MB, "
        f"live data {live / 1e6:.1f} MB ({on_disk / live:.1f}x)",
        flush=True,
    )


async def one_run(calls: int) -> dict[str, float]:
    from agent.events import ToolUsed
    from agent.models import ReviewDecision
    from agent.runs.checkpoints import thread_id
    from agent.runs.runtime import open_runtime

    with tempfile.TemporaryDirectory(prefix="taskmaster-bench-") as scratch:
        settings = await settings_for(Path(scratch), calls)
        tool_lines: list[float] = []

        async def sink(run: Any, event: Any) -> None:
            if isinstance(event, ToolUsed) and not event.line.startswith("Reading"):
                tool_lines.append(time.perf_counter())

        async with open_runtime(settings, {}, sink) as manager:
            run = await manager.start("TASK-101", "bench")
            record = await manager.wait(run.run_id)
            assert record.status == "awaiting_review", record.error
            written, messages = thread_bytes(settings.db_path, thread_id(run.run_id))
            await manager.decide(run.run_id, ReviewDecision(action="reject", by="bench"))
            record = await manager.wait(run.run_id)
            assert record.status == "rejected", record.error
            kept, _ = thread_bytes(settings.db_path, thread_id(run.run_id))
    turns = [b - a for a, b in itertools.pairwise(tool_lines)][1:]
    return {
        "written": written,
        "messages": messages,
        "kept": kept,
        "start_ms": statistics.median(turns[:10]) / 2 * 1000,
        "end_ms": statistics.median(turns[-10:]) / 2 * 1000,
    }


async def measure(calls_list: list[int], finished: int) -> None:
    print(
        "| tool calls | written | messages | written / messages | kept after the run "
        "| ms/step start | ms/step end |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for calls in calls_list:
        row = await one_run(calls)
        print(
            f"| {calls} | {row['written'] / 1e6:.2f} MB | {row['messages'] / 1e6:.2f} MB "
            f"| {row['written'] / row['messages']:.1f}x | {row['kept'] / 1e3:.0f} KB "
            f"| {row['start_ms']:.1f} | {row['end_ms']:.1f} |",
            flush=True,
        )
    if finished:
        await finished_runs(finished, 30)


def run_baseline(ref: str, calls: list[int], finished: int) -> None:
    """This measurement on the code of `ref`, in a subprocess, from a temporary worktree."""
    repo = HERE.parent.parent
    with tempfile.TemporaryDirectory(prefix="taskmaster-baseline-") as scratch:
        tree = Path(scratch) / "tree"
        subprocess.run(
            ["git", "-C", str(repo), "worktree", "add", "--detach", "-q", str(tree), ref],
            check=True,
        )
        try:
            env = {**os.environ, "PYTHONPATH": str(tree)}
            argv = [sys.executable, str(HERE), "--finished", str(finished), "--calls"]
            argv += map(str, calls)
            print(f"baseline: {ref}", flush=True)
            subprocess.run(argv, env=env, check=True, cwd=scratch)
        finally:
            subprocess.run(
                ["git", "-C", str(repo), "worktree", "remove", "--force", str(tree)], check=True
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, nargs="+", default=[10, 30, 100, 300])
    parser.add_argument("--finished", type=int, default=0, metavar="N")
    parser.add_argument("--baseline", metavar="REF", help="measure git ref REF first")
    args = parser.parse_args()
    if args.baseline:
        run_baseline(args.baseline, args.calls, args.finished)
        print("this tree:")
    import agent

    print(f"(code: {Path(agent.__file__).parent.parent})", flush=True)
    asyncio.run(measure(args.calls, args.finished))


if __name__ == "__main__":
    main()
