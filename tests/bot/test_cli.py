"""The `taskmaster` command, run as a person runs it: separate processes, no terminal."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import shlex
import signal
import socket
import sys
import time
import uuid
from pathlib import Path

import pytest

from agent.demo import prepare_demo
from agent.git import git
from tests.cli import Result, run_cli, spawn_cli
from tests.processes import all_gone, processes_with

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "demo"


class Cli:
    """Runs `python -m bot.cli` in a private data folder, with --demo where it applies."""

    def __init__(self, home: Path, extra_env: dict[str, str] | None = None) -> None:
        self.home = home
        self.data = home / ".taskmaster"
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("TASKMASTER_", "SLACK_", "JIRA_", "GITHUB_", "GITLAB_"))
        }
        self.env.update(extra_env or {})

    async def spawn(self, *args: str) -> asyncio.subprocess.Process:
        return await spawn_cli(self.home, self.env, *args)

    async def __call__(self, *args: str) -> Result:
        return await run_cli(self.home, self.env, *args)

    async def runs(self) -> list[dict[str, str]]:
        listed = await self("runs", "--json")
        assert listed.code == 0, listed.err
        runs: list[dict[str, str]] = json.loads(listed.out)
        return runs

    def pull_requests(self) -> list[dict[str, object]]:
        path = self.data / "pull_requests.jsonl"
        lines = path.read_text().splitlines() if path.exists() else []
        return [json.loads(line) for line in lines]

    async def remote_branches(self) -> list[str]:
        remote = self.data / "demo-remote"
        listed = await git("branch", "--list", "taskmaster/*", "--format=%(refname)", cwd=remote)
        return [ref.removeprefix("refs/heads/") for ref in listed.split()]


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


async def _awaiting_review(cli: Cli, key: str = "TASK-101") -> str:
    started = await cli("run", key, "--demo")
    assert started.code == 0, started.err
    [run] = await cli.runs()
    assert f"bot.cli resume {run['run_id']} approve --demo" in started.out
    assert run["status"] == "awaiting_review"
    return run["run_id"]


def printed_command(out: str) -> list[str]:
    """The command TaskMaster told the person to run, as the shell would split it."""
    line = next(line for line in out.splitlines() if "resume" in line)
    return shlex.split(line.split(": ", 1)[-1].strip())


async def test_cli_printed_command_works_when_pasted(cli: Cli) -> None:
    started = await cli("run", "TASK-101", "--demo")
    command = printed_command(started.out)

    proc = await asyncio.create_subprocess_exec(
        *command,
        cwd=cli.home,
        env=cli.env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), timeout=120)

    assert proc.returncode == 0, err.decode()
    [run] = await cli.runs()
    assert run["status"] == "done" and len(cli.pull_requests()) == 1


async def test_cli_demo_run_then_approve_from_another_process_delivers(cli: Cli) -> None:
    run_id = await _awaiting_review(cli)
    approved = await cli("resume", run_id, "approve", "--by", "ana", "--demo")
    assert approved.code == 0, approved.err
    [branch] = await cli.remote_branches()
    assert branch.startswith("taskmaster/TASK-101-")
    diff = await git("diff", "main", branch, cwd=cli.data / "demo-remote")
    assert "self.due < today" in diff
    [pull_request] = cli.pull_requests()
    assert pull_request["branch"] == branch
    assert pull_request["title"] == "[TASK-101] Tasks due today are reported as overdue"
    [run] = await cli.runs()
    assert run["status"] == "done" and run["run_id"] == run_id


async def test_cli_two_approvals_at_once_deliver_once(cli: Cli) -> None:
    run_id = await _awaiting_review(cli)
    first, second = await asyncio.gather(
        cli("resume", run_id, "approve", "--by", "ana", "--demo"),
        cli("resume", run_id, "approve", "--by", "ben", "--demo"),
    )
    assert (first.code, second.code) == (0, 0)
    refusals = [r.err for r in (first, second) if "Already approved by" in r.err]
    assert len(refusals) == 1
    assert len(cli.pull_requests()) == 1
    assert len(await cli.remote_branches()) == 1


async def test_cli_reject_pushes_nothing(cli: Cli) -> None:
    run_id = await _awaiting_review(cli)
    # `resume` with no answer, on a run that waits for its review: how to give one.
    again = await cli("resume", run_id, "--demo")
    assert again.code == 0, again.err
    assert f"bot.cli resume {run_id} approve --demo" in again.out
    rejected = await cli("resume", run_id, "reject", "--by", "ana", "--demo")
    assert rejected.code == 0
    assert await cli.remote_branches() == []
    assert [run["status"] for run in await cli.runs()] == ["rejected"]
    assert not (cli.data / "workspaces" / run_id).exists()
    listed = await cli("runs")
    header, row = listed.out.splitlines()
    assert header.split() == ["RUN", "TICKET", "STATUS", "UPDATED"]
    assert row.split()[:3] == [run_id, "TASK-101", "rejected"]


async def test_cli_decide_on_first_review_without_asking(cli: Cli) -> None:
    done = await cli("run", "TASK-102", "--demo", "--decide", "approve", "--by", "ana")
    assert done.code == 0, done.err
    assert [run["status"] for run in await cli.runs()] == ["done"]
    [pull_request] = cli.pull_requests()
    assert pull_request["ticket"] == "TASK-102"


async def test_cli_demo_never_reaches_a_configured_github(tmp_path: Path) -> None:
    cli = Cli(tmp_path, {"GITHUB_REPOSITORY": "acme/real", "GITHUB_API_URL": "http://127.0.0.1:9"})
    done = await cli("run", "TASK-101", "--demo", "--decide", "approve", "--by", "ana")
    assert done.code == 0, done.err  # port 9 would have refused: GitHub was never asked
    assert len(cli.pull_requests()) == 1 and len(await cli.remote_branches()) == 1


async def test_cli_demo_never_reaches_a_configured_gitlab(tmp_path: Path) -> None:
    gitlab = {
        "TASKMASTER_CODE_HOST": "gitlab",
        "TASKMASTER_TICKETS": "gitlab",
        "GITLAB_URL": "http://127.0.0.1:9",
        "GITLAB_PROJECT": "acme/real",
        "GITLAB_TOKEN": "unused",
    }
    cli = Cli(tmp_path, gitlab)
    done = await cli("run", "TASK-101", "--demo", "--decide", "approve", "--by", "ana")
    assert done.code == 0, done.err  # port 9 would have refused: GitLab was never asked
    assert len(cli.pull_requests()) == 1 and len(await cli.remote_branches()) == 1


async def test_cli_refuses_unknown_run_and_finished_run(cli: Cli) -> None:
    unknown = await cli("resume", "nope", "approve", "--demo")
    assert unknown.code == 2 and "There is no run nope" in unknown.err
    run_id = await _awaiting_review(cli)
    await cli("resume", run_id, "reject", "--by", "ana", "--demo")
    again = await cli("resume", run_id, "approve", "--by", "ben", "--demo")
    assert again.code == 0 and "Already rejected by ana" in again.err
    assert await cli.remote_branches() == []


# The test command's first run leaves a mark in the workspace (the only place it can
# write, ignored by git so it stays out of the diff) and hangs.
HANG_ONCE = """\
import pathlib, subprocess, sys, time
marker = pathlib.Path("hang_once.mark")
if not marker.exists():
    marker.write_text("hanging")
    time.sleep(3600)
sys.exit(subprocess.call([sys.executable, "-m", "pytest", "-q"]))
"""


async def _hang_first_test_run(cli: Cli, token: str) -> None:
    """Make the demo's test command hang the first time, so a kill lands mid-implement."""
    await prepare_demo(cli.data)
    remote = cli.data / "demo-remote"
    (remote / "hang_once.py").write_text(HANG_ONCE)
    with (remote / ".gitignore").open("a") as ignore:
        ignore.write("hang_once.mark\n")
    guide = remote / ".taskmaster.md"
    text = guide.read_text().replace("python -m pytest -q", f"python hang_once.py {token}")
    guide.write_text(text)
    await git("add", "--all", ".", cwd=remote)
    await git("commit", "-q", "-m", "Hang the first test run", cwd=remote)


async def _file_written(pattern: str, folder: Path) -> None:
    """Wait for another process to write a file matching `pattern` under `folder`: a file
    has no event to await, so poll it."""
    async with asyncio.timeout(60):
        while not any(path.read_text() for path in folder.glob(pattern)):  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def test_cli_run_killed_mid_implement_resumes_from_checkpoint(cli: Cli) -> None:
    token = f"hang-{uuid.uuid4().hex}"
    await _hang_first_test_run(cli, token)
    proc = await cli.spawn("run", "TASK-101", "--demo")
    # The agent is inside its implement loop, running tests.
    await _file_written("workspaces/*/hang_once.mark", cli.data)
    assert processes_with(token)
    os.killpg(proc.pid, signal.SIGKILL)
    await proc.wait()
    assert await all_gone(token)  # the sandbox died with the process that started it

    [run] = await cli.runs()
    assert run["status"] == "running"  # the process died; the registry still says so
    resumed = await cli("resume", run["run_id"], "--demo")
    assert resumed.code == 0, resumed.err
    assert "Plan" not in resumed.out  # continued from the checkpoint, not from the start
    assert "Waiting for review" in resumed.out
    [run] = await cli.runs()
    assert run["status"] == "awaiting_review"
    approved = await cli("resume", run["run_id"], "approve", "--by", "ana", "--demo")
    assert approved.code == 0, approved.err
    [run] = await cli.runs()
    assert run["status"] == "done" and len(cli.pull_requests()) == 1


async def test_cli_malformed_key_is_refused_before_anything_starts(cli: Cli) -> None:
    result = await cli("run", "not-a-key!", "--demo")
    assert result.code == 2
    assert result.err.strip().count("\n") == 0 and "Keys look like TASK-101" in result.err
    assert "Traceback" not in result.err
    assert await cli.runs() == []


async def test_cli_unknown_ticket_is_one_line_and_leaves_no_run(cli: Cli) -> None:
    result = await cli("run", "TASK-999", "--demo")
    assert result.code == 2
    assert result.err.strip().count("\n") == 0 and "No ticket TASK-999" in result.err
    assert "resume" not in result.out + result.err  # nothing to resume: no run was made
    assert "Traceback" not in result.out + result.err
    assert await cli.runs() == []
    listed = await cli("runs")
    assert listed.out.startswith("No runs yet: `") and "bot.cli run KEY` starts one." in listed.out


async def test_cli_unreachable_database_is_one_line_without_the_password(tmp_path: Path) -> None:
    with socket.socket() as listening:  # a port where nothing listens once it is closed
        listening.bind(("127.0.0.1", 0))
        port = listening.getsockname()[1]
    url = f"postgresql://postgres:not-this-secret@127.0.0.1:{port}/test"
    cli = Cli(tmp_path, {"TASKMASTER_DATABASE_URL": url})
    started = time.monotonic()
    result = await cli("runs")
    assert result.code == 75, result.err  # EX_TEMPFAIL: a supervisor tries again
    assert time.monotonic() - started < 25  # not the pool's 30 s of retries
    assert result.err.count("\n") == 1 and "Traceback" not in result.err
    assert f"127.0.0.1:{port}/test (TASKMASTER_DATABASE_URL)" in result.err
    assert "not-this-secret" not in result.out + result.err


async def test_cli_missing_setting_stops_with_one_line(cli: Cli) -> None:
    result = await cli("run", "TASK-101")
    assert result.code == 2
    assert result.err.strip() == (
        "taskmaster: TASKMASTER_TICKETS is not set: add it to .env (see .env.example)"
    )


async def test_cli_malformed_setting_stops_with_one_line(tmp_path: Path) -> None:
    cli = Cli(tmp_path, {"TASKMASTER_MAX_RUNS": "many"})
    result = await cli("runs")
    assert result.code == 2
    assert result.err.startswith("taskmaster: TASKMASTER_MAX_RUNS is invalid")
    assert "Traceback" not in result.err


async def test_agent_never_loads_slack() -> None:
    code = (
        "import sys, agent.runs.runtime, agent.graph, agent.integrations.registry, bot.cli, "
        "bot.terminal; "
        "leaked = [m for m in sys.modules if m.split('.')[0] in ('slack_bolt', 'slack_sdk')]; "
        "print(','.join(leaked))"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0
    assert out.decode().strip() == ""


async def _read_until(fd: int, wanted: str, seen: list[str]) -> None:
    """Read the terminal's output until `wanted` shows (a pty has no event to await)."""
    async with asyncio.timeout(120):
        while wanted not in "".join(seen):
            seen.append((await asyncio.to_thread(os.read, fd, 4096)).decode(errors="replace"))


async def _run_at_a_terminal(cli: Cli) -> tuple[asyncio.subprocess.Process, int]:
    """`run TASK-101 --demo` with a real terminal (a pty), so TaskMaster asks; the
    process and the terminal's end to read and type on."""
    terminal, its_end = pty.openpty()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "run",
        "TASK-101",
        "--demo",
        cwd=cli.home,
        env=cli.env,
        stdin=its_end,
        stdout=its_end,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    os.close(its_end)
    return proc, terminal


async def test_cli_ctrl_c_at_the_review_prompt_leaves_the_run_waiting(cli: Cli) -> None:
    proc, terminal = await _run_at_a_terminal(cli)
    try:
        await _read_until(terminal, "[a]pprove", [])
        loop = asyncio.get_running_loop()
        pressed = loop.time()
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        err = await asyncio.wait_for(proc.stderr.read(), timeout=10)  # type: ignore[union-attr]
        await proc.wait()
        took = loop.time() - pressed
    finally:
        os.close(terminal)

    assert proc.returncode == 130 and took < 5, err.decode()
    assert "Traceback" not in err.decode()
    [run] = await cli.runs()
    assert run["status"] == "awaiting_review"
    answer = await asyncio.create_subprocess_exec(
        *printed_command(err.decode()),
        cwd=cli.home,
        env=cli.env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, answer_err = await asyncio.wait_for(answer.communicate(), timeout=120)
    assert answer.returncode == 0, answer_err.decode()
    [run] = await cli.runs()
    assert run["status"] == "done"


async def test_cli_reads_dotenv_from_the_current_folder(cli: Cli) -> None:
    (cli.home / ".env").write_text("TASKMASTER_DATA_DIR=from-dotenv\n")

    listed = await cli("runs", "--json")

    assert listed.code == 0, listed.err
    assert (cli.home / "from-dotenv" / "taskmaster.db").is_file()


async def test_cli_resume_ends_the_test_processes_a_killed_run_left(tmp_path: Path) -> None:
    # Without the sandbox nothing ties the test command to TaskMaster: it outlives a kill.
    cli = Cli(tmp_path, {"TASKMASTER_SANDBOX": "off"})
    token = f"hang-{uuid.uuid4().hex}"
    await _hang_first_test_run(cli, token)
    proc = await cli.spawn("run", "TASK-101", "--demo")
    await _file_written("workspaces/*/hang_once.mark", cli.data)
    # TaskMaster notes the command's process group once it has started it: under load
    # the command can write its mark first.
    await _file_written("workspaces/.*.command", cli.data)
    proc.kill()  # TaskMaster alone, as the OOM killer would
    await proc.wait()
    assert processes_with(token)  # left behind, still running the old tests

    [run] = await cli.runs()
    resumed = await cli.spawn("resume", run["run_id"], "--demo")
    try:
        assert await all_gone(token, within=30)  # ended before the run goes on
    finally:
        out, err = await asyncio.wait_for(resumed.communicate(), timeout=120)
    assert resumed.returncode == 0, err.decode()
    assert "Waiting for review" in out.decode()


async def test_cli_empty_feedback_at_the_prompt_asks_again(cli: Cli) -> None:
    proc, terminal = await _run_at_a_terminal(cli)
    seen: list[str] = []
    try:
        await _read_until(terminal, "[a]pprove", seen)
        os.write(terminal, b"r\n")
        await _read_until(terminal, "What should change?", seen)
        seen.clear()
        os.write(terminal, b"\n")  # nothing said
        await _read_until(terminal, "[a]pprove", seen)
        assert "Say what should change" in "".join(seen)
        os.write(terminal, b"j\n")
        await asyncio.wait_for(proc.wait(), timeout=120)
    finally:
        os.close(terminal)
    assert proc.returncode == 0
    assert [run["status"] for run in await cli.runs()] == ["rejected"]
