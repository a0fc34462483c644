"""What a run's checkpoints cost on disk: linear in its tool calls, and one row once it ends."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, ToolMessage
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from agent.demo import EXAMPLES
from agent.models import ReviewDecision
from agent.runs.checkpoints import SyncMode, open_checkpointer, thread_id
from agent.runs.runtime import open_runtime
from agent.runs.store import RunRecord
from agent.settings import load_settings

TOOL_CALLS = 300
# The bound the issue asks for: what a run writes grows with its work. Before the
# conversation was a delta channel a 300-call run wrote 200 MB (670 KB a call); with
# the ticket, plan and review written once and short versions it writes about 8 KB.
BYTES_PER_CALL = 10_000
READS = ("src/tasktrack/service.py", "src/tasktrack/storage.py", "tests/test_models.py")


def reading_script(calls: int) -> dict[str, Any]:
    """The demo's plan, `calls` turns of one tool call each, then finish."""
    plan = json.loads((EXAMPLES / "scripts" / "TASK-101.json").read_text())["turns"][0]
    turns = [plan]
    for number in range(calls):
        if number % 25 == 24:
            notes = {"path": f"notes/{number}.md", "content": "n" * 3000}
            call = {"name": "write_file", "args": notes}
        else:
            call = {"name": "read_file", "args": {"path": READS[number % len(READS)]}}
        turns.append({"content": f"Reading, step {number}.", "tool_calls": [call]})
    turns.append({"tool_calls": [{"name": "finish", "args": {"summary": "Read the code."}}]})
    return {"turns": turns}


def stored_bytes(db: Path, run_id: str) -> int:
    with sqlite3.connect(db) as conn:
        (checkpoints,) = conn.execute(
            "SELECT coalesce(sum(length(checkpoint) + length(metadata)), 0) FROM checkpoints "
            "WHERE thread_id = ?",
            (thread_id(run_id),),
        ).fetchone()
        (writes,) = conn.execute(
            "SELECT coalesce(sum(length(value)), 0) FROM writes WHERE thread_id = ?",
            (thread_id(run_id),),
        ).fetchone()
    return int(checkpoints) + int(writes)


async def ignore(run: RunRecord, event: object) -> None:
    return None


async def test_a_300_tool_call_run_writes_checkpoints_linear_in_its_calls(
    demo_env: dict[str, str], tmp_path: Path
) -> None:
    script = tmp_path / "long.json"
    script.write_text(json.dumps(reading_script(TOOL_CALLS)))
    env = {**demo_env, "TASKMASTER_MODEL": f"scripted:{script}", "TASKMASTER_MAX_STEPS": "400"}
    settings = load_settings(env, env_file=None)
    async with open_runtime(settings, {}, ignore) as manager:
        run = await manager.start("TASK-101", "U_ANA")
        review = await manager.wait(run.run_id)
        assert review.status == "awaiting_review", review.error
        # Nothing of a run is deleted or replaced before it ends: this is all it wrote.
        written = stored_bytes(settings.db_path, run.run_id)
        at_review = (await manager.snapshot(run.run_id)).values
        messages = at_review["messages"]

        await manager.decide(run.run_id, ReviewDecision(action="reject", by="ana"))
        assert (await manager.wait(run.run_id)).status == "rejected"
        pruned = await manager.snapshot(run.run_id)
    assert written < BYTES_PER_CALL * TOOL_CALLS, f"{written:,} bytes"

    # The conversation read back through the delta chain is the whole run, in order:
    # every call answered once, and the same after pruning made one checkpoint of it.
    calls = [c["id"] for m in messages if isinstance(m, AIMessage) for c in m.tool_calls]
    replies = [m.tool_call_id for m in messages if isinstance(m, ToolMessage)]
    assert len(calls) == TOOL_CALLS + 2  # submit_plan, the reads, finish
    assert replies == calls
    assert [m.id for m in pruned.values["messages"]] == [m.id for m in messages]
    # The values written once, early in the run, read back whole too.
    for once in ("ticket", "repo_guide", "plan", "review"):
        assert at_review[once] and pruned.values[once] == at_review[once], once
    with sqlite3.connect(settings.db_path) as conn:
        (rows,) = conn.execute(
            "SELECT count(*) FROM checkpoints WHERE thread_id = ?", (thread_id(run.run_id),)
        ).fetchone()
    assert rows == 1


async def test_pruning_gives_the_space_back(demo_env: dict[str, str], tmp_path: Path) -> None:
    script = tmp_path / "reads.json"
    script.write_text(json.dumps(reading_script(30)))
    env = {**demo_env, "TASKMASTER_MODEL": f"scripted:{script}"}
    settings = load_settings(env, env_file=None)
    async with open_runtime(settings, {}, ignore) as manager:
        for _ in range(4):
            run = await manager.start("TASK-101", "U_ANA")
            assert (await manager.wait(run.run_id)).status == "awaiting_review"
            await manager.decide(run.run_id, ReviewDecision(action="reject", by="ana"))
            assert (await manager.wait(run.run_id)).status == "rejected"
    with sqlite3.connect(settings.db_path) as conn:
        (pages,) = conn.execute("PRAGMA page_count").fetchone()
        (free,) = conn.execute("PRAGMA freelist_count").fetchone()
    # Each run freed most of what it wrote; VACUUM gave it back past a quarter.
    assert free / pages < 0.25
    wal = settings.db_path.with_name(settings.db_path.name + "-wal")
    on_disk = settings.db_path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
    assert on_disk < 4 * stored_total(settings.db_path)


def stored_total(db: Path) -> int:
    """Bytes of every row the database keeps (its live data)."""
    with sqlite3.connect(db) as conn:
        (pages,) = conn.execute("SELECT sum(pgsize - unused) FROM dbstat").fetchone()
    return int(pages)


async def test_commits_sync_fully_while_any_run_delivers(tmp_path: Path) -> None:
    async def synchronous(saver: AsyncSqliteSaver) -> int:
        [(mode,)] = list(await saver.conn.execute_fetchall("PRAGMA synchronous"))
        return int(mode)

    full, normal = 2, 1
    async with open_checkpointer(tmp_path / "db.sqlite") as saver:
        sync = SyncMode(saver)
        assert await synchronous(saver) == normal  # the agent's loop: WAL makes it safe
        async with sync.full():
            async with sync.full():  # two runs deliver at once
                assert await synchronous(saver) == full
            assert await synchronous(saver) == full  # the other one still does
        assert await synchronous(saver) == normal
