"""The runner with real subprocesses in the real sandbox: environment, timeouts, leftover
processes, output caps, exit codes."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from agent.integrations import registry
from agent.sandbox.base import Sandbox
from agent.settings import load_settings
from agent.tools.test_runner import pytest_counts, run_command
from tests.processes import all_gone

CANARIES = {
    "SLACK_BOT_TOKEN": "canary-slack-123",
    "JIRA_API_TOKEN": "canary-jira-123",
    "GITHUB_TOKEN": "canary-github-123",
    "GITLAB_PROJECT": "canary-gitlab-123",
    "OPENAI_API_KEY": "canary-openai-123",
    "DATABASE_URL": "postgresql://app:canary-dbpass-123@db/app",
    "REDIS_DSN": "canary-dsn-123",
    "GH_PAT": "canary-pat-123",
    "TASKMASTER_X": "canary-taskmaster-123",
    "db_password": "canary-password-123",
    "SSH_AUTH_SOCK": "canary-ssh-123",
    "INNOCENT_LOOKING": "canary-innocent-123",
}


def _sleeper(marker: str, seconds: int = 60) -> str:
    return f"python -c 'import time; time.sleep({seconds})' {marker}"


async def test_the_command_gets_an_allowlisted_environment(tmp_path: Path) -> None:
    environ = {**os.environ, **CANARIES}
    settings = load_settings({"TASKMASTER_DATA_DIR": str(tmp_path / "data")})
    sandbox = registry.sandbox(settings, environ)
    result = await run_command(
        "env; python -c 'import sys; print(\"python:\", sys.executable)'",
        tmp_path,
        sandbox=sandbox,
        env={"REPO_VARIABLE": "from .taskmaster.md"},
        timeout=30,
    )
    assert result.ok, result.output_tail
    for value in CANARIES.values():
        assert value not in result.output_tail
    seen = dict(line.split("=", 1) for line in result.output_tail.splitlines() if "=" in line)
    assert seen["REPO_VARIABLE"] == "from .taskmaster.md"
    assert seen["HOME"] == "/tmp/home"
    assert seen["PYTHONDONTWRITEBYTECODE"] == "1"
    assert seen["PATH"].split(os.pathsep)[0] == os.path.dirname(os.sys.executable)
    assert f"python: {os.sys.executable}" in result.output_tail


async def test_a_hanging_command_is_killed_with_everything_it_started(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    marker = f"hang-{uuid.uuid4().hex}"
    command = f"{_sleeper(marker)} & {_sleeper(marker)}"
    result = await run_command(command, tmp_path, sandbox=sandbox, timeout=2)
    assert result.timed_out
    assert not result.ok
    assert result.exit_code is None
    assert result.duration < 10
    assert "timed out after 2s" in result.output_tail
    assert result.headline == "timed out after 2s"
    assert await all_gone(marker)


async def test_processes_left_behind_after_exit_are_killed(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    # The child keeps the output pipe open; without the kill this would wait a minute.
    marker = f"leave-{uuid.uuid4().hex}"
    result = await run_command(
        f"{_sleeper(marker)} & echo started", tmp_path, sandbox=sandbox, timeout=30
    )
    assert result.ok
    assert not result.timed_out
    assert result.duration < 10
    assert await all_gone(marker)


async def test_output_is_capped(tmp_path: Path, sandbox: Sandbox) -> None:
    command = "python -c \"print('x' * 1_000_000)\""
    result = await run_command(command, tmp_path, sandbox=sandbox, timeout=30, output_limit=10_000)
    assert result.ok
    # 1,000,000 x's and a newline, of which the last 10,000 characters are kept.
    assert result.output_tail == "[... 990001 characters cut ...]\n" + "x" * 9_999 + "\n"


async def test_a_real_pytest_run_is_parsed_and_leaves_no_caches(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_sample.py").write_text(
        "def test_passes():\n    assert 1 + 1 == 2\n\n\ndef test_fails():\n    assert 1 + 1 == 3\n"
    )
    result = await run_command("python -m pytest -q", project, sandbox=sandbox, timeout=60)
    assert (result.passed, result.failed, result.errors) == (1, 1, 0), result.output_tail
    assert not result.ok
    assert result.exit_code == 1
    assert "test_fails" in result.output_tail
    # No caches left in the workspace to show up in the diff.
    assert sorted(p.name for p in project.iterdir()) == ["test_sample.py"]


async def test_the_exit_code_is_reported(tmp_path: Path, sandbox: Sandbox) -> None:
    result = await run_command("echo oops; exit 3", tmp_path, sandbox=sandbox, timeout=30)
    assert not result.ok
    assert result.exit_code == 3
    assert result.output_tail == "oops\n"


async def test_a_command_that_cannot_start_is_a_result(tmp_path: Path, sandbox: Sandbox) -> None:
    result = await run_command("true", tmp_path / "missing", sandbox=sandbox, timeout=30)
    assert not result.ok
    assert result.exit_code is None
    assert result.output_tail.startswith("The command could not be started:")


async def test_output_passes_the_redactor(tmp_path: Path, sandbox: Sandbox) -> None:
    result = await run_command(
        "echo token=s3cret-value-1",
        tmp_path,
        sandbox=sandbox,
        timeout=30,
        redact=lambda text: text.replace("s3cret-value-1", "***"),
    )
    assert result.output_tail == "token=***\n"


@pytest.mark.parametrize(
    ("output", "counts"),
    [
        ("..F\n1 failed, 2 passed in 0.12s\n", (2, 1, 0)),
        ("=== 2 failed, 5 passed, 1 error in 0.31s ===", (5, 2, 1)),
        ("3 errors in 1.20s", (0, 0, 3)),
        ("4 passed, 1 xfailed, 2 warnings in 65.43s (0:01:05)", (4, 0, 0)),
        ("no tests ran in 0.01s", (0, 0, 0)),
        ("1 passed in 0.01 seconds", (1, 0, 0)),
        ("ok  example.com/pkg  0.005s", None),
        ("3 passed the threshold", None),
    ],
)
def test_pytest_counts_reads_the_summary_line(
    output: str, counts: tuple[int, int, int] | None
) -> None:
    assert pytest_counts(output) == counts
