"""A long run killed mid-loop continues at its last finished turn, its conversation rebuilt
from the checkpoints' deltas: no turn is lost and none is done twice."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import uuid
from pathlib import Path

from langchain_core.messages import AIMessage, ToolMessage

from agent.demo import EXAMPLES, prepare_demo
from agent.git import git
from agent.runs.runtime import open_runtime
from agent.runs.store import RunRecord
from agent.settings import load_settings
from tests.cli import run_cli, spawn_cli
from tests.processes import all_gone

READS_BEFORE, READS_AFTER = 30, 5
HANG_ONCE = """\
import pathlib, subprocess, sys, time
marker = pathlib.Path("hang_once.mark")
if not marker.exists():
    marker.write_text("hanging")
    time.sleep(3600)
sys.exit(subprocess.call([sys.executable, "-m", "pytest", "-q"]))
"""


def script() -> dict[str, object]:
    plan = json.loads((EXAMPLES / "scripts" / "TASK-101.json").read_text())["turns"][0]
    read = {"name": "read_file", "args": {"path": "src/tasktrack/models.py"}}
    turns = [plan]
    turns += [{"content": f"Read {n}.", "tool_calls": [read]} for n in range(READS_BEFORE)]
    turns.append({"content": "Testing.", "tool_calls": [{"name": "run_tests", "args": {}}]})
    turns += [{"content": f"Again {n}.", "tool_calls": [read]} for n in range(READS_AFTER)]
    turns.append({"tool_calls": [{"name": "finish", "args": {"summary": "Read."}}]})
    return {"turns": turns}


async def prepare(home: Path, token: str) -> dict[str, str]:
    data = home / "data"
    settings = await prepare_demo(data)
    remote = data / "demo-remote"
    (remote / "hang_once.py").write_text(HANG_ONCE)
    with (remote / ".gitignore").open("a") as ignore:
        ignore.write("hang_once.mark\n")
    guide = remote / ".taskmaster.md"
    hanging = guide.read_text().replace("python -m pytest -q", f"python hang_once.py {token}")
    guide.write_text(hanging)
    await git("add", "--all", ".", cwd=remote)
    await git("commit", "-q", "-m", "Hang the first test run", cwd=remote)
    (home / "script.json").write_text(json.dumps(script()))
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TASKMASTER_", "SLACK_", "JIRA_", "GITHUB_", "GITLAB_"))
    }
    return {
        **env,
        **settings,
        "TASKMASTER_MODEL": f"scripted:{home / 'script.json'}",
        "TASKMASTER_DATA_DIR": str(data),
        "TASKMASTER_CODE_HOST": "local",
        "TASKMASTER_MAX_STEPS": "100",
    }


async def ignore(run: RunRecord, event: object) -> None:
    return None


async def test_a_long_run_killed_mid_loop_resumes_at_its_last_finished_turn(
    tmp_path: Path,
) -> None:
    token = f"hang-{uuid.uuid4().hex}"
    env = await prepare(tmp_path, token)
    proc = await spawn_cli(tmp_path, env, "run", "TASK-101")
    mark = tmp_path / "data" / "workspaces"
    async with asyncio.timeout(60):  # a file has no event to await: poll it
        while not any(mark.glob("*/hang_once.mark")):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    await proc.wait()
    assert await all_gone(token)

    settings = load_settings(env, env_file=None)
    async with open_runtime(settings, {}, ignore) as manager:
        [run] = await manager.store.recent()
        killed = (await manager.snapshot(run.run_id)).values["messages"]
    # The turn that called run_tests had finished (the model's answer is kept); its
    # tools had not: it continues by running them, not by asking the model again.
    answers = [m for m in killed if isinstance(m, AIMessage)]
    assert len(answers) == 1 + READS_BEFORE + 1
    assert answers[-1].tool_calls[0]["name"] == "run_tests"
    assert isinstance(killed[-1], AIMessage)

    resumed = await run_cli(tmp_path, env, "resume", run.run_id)
    assert resumed.code == 0, resumed.err
    assert "Waiting for review" in resumed.out
    async with open_runtime(settings, {}, ignore) as manager:
        messages = (await manager.snapshot(run.run_id)).values["messages"]
    calls = [c["id"] for m in messages if isinstance(m, AIMessage) for c in m.tool_calls]
    replies = [m.tool_call_id for m in messages if isinstance(m, ToolMessage)]
    assert replies == calls  # every call answered once, in order: no turn twice
    assert len(calls) == 1 + READS_BEFORE + 1 + READS_AFTER + 1
    assert [m.id for m in messages[: len(killed)]] == [m.id for m in killed]
