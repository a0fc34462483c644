"""PostgreSQL going away under a run, made for real: the CLI's connections go through a
proxy the test cuts. The command says so in one line and exits 75 within a bound;
once the database is back, `resume` continues the run and it delivers once."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from agent.demo import prepare_demo
from agent.git import git
from tests.cli import run_cli, spawn_cli
from tests.kills import Home, clean_env
from tests.proxy import CuttableProxy

EXIT_STORAGE = 75

# The repository's test command waits, the first time, until the test says "go": the
# run is then inside its implement loop, between two checkpoints.
WAIT_FOR_GO = """\
import pathlib, subprocess, sys, time
go = pathlib.Path("go.mark")
if not go.exists():
    pathlib.Path("waiting.mark").write_text("waiting")
    while not go.exists():
        time.sleep(0.05)
sys.exit(subprocess.call([sys.executable, "-m", "pytest", "-q"]))
"""


async def _wait_at_first_test_run(data: Path) -> None:
    await prepare_demo(data)
    remote = data / "demo-remote"
    (remote / "wait_for_go.py").write_text(WAIT_FOR_GO)
    with (remote / ".gitignore").open("a") as ignore:
        ignore.write("waiting.mark\ngo.mark\n")
    guide = remote / ".taskmaster.md"
    guide.write_text(guide.read_text().replace("python -m pytest -q", "python wait_for_go.py"))
    await git("add", "--all", ".", cwd=remote)
    await git("commit", "-q", "-m", "Wait for the test's go", cwd=remote)


async def _waiting(data: Path) -> Path:
    """The workspace whose test command waits for its go (polled: a file has no event)."""
    async with asyncio.timeout(60):
        while not (found := list(data.glob("workspaces/*/waiting.mark"))):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    return found[0].parent


async def test_postgres_going_away_mid_run_is_one_line_and_the_run_goes_on_after(
    postgres_url: str, tmp_path: Path
) -> None:
    proxy = CuttableProxy("127.0.0.1", 5432)
    await proxy.start()
    url = postgres_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    home = Home(tmp_path / "home", {**clean_env(), "TASKMASTER_DATABASE_URL": url})
    await _wait_at_first_test_run(home.data)

    running = await spawn_cli(home.path, home.env, "run", "TASK-101", "--demo")
    workspace = await _waiting(home.data)
    await proxy.cut()
    cut = time.monotonic()
    (workspace / "go.mark").write_text("go")  # the tests end; the next checkpoint fails
    out, err = await asyncio.wait_for(running.communicate(), timeout=120)
    took = time.monotonic() - cut
    said = err.decode()
    assert running.returncode == EXIT_STORAGE, out.decode() + said
    assert took < 60, took
    assert "Traceback" not in said and said.count("\n") == 1, said
    assert "TASKMASTER_DATABASE_URL" in said and "taskmaster resume" in said, said
    assert "stopped answering" in said, said

    await proxy.restore()
    listed = await run_cli(home.path, home.env, "runs", "--json")
    [run] = json.loads(listed.out)
    assert run["status"] == "running"  # not failed: nothing was lost
    resumed = await home("resume", run["run_id"])
    assert resumed.code == 0 and "Waiting for review" in resumed.out, resumed.out + resumed.err
    approved = await home("resume", run["run_id"], "approve", "--by", "ana")
    assert approved.code == 0, approved.err
    assert await home.effects() == (1, 1, 1)
    await proxy.cut()
