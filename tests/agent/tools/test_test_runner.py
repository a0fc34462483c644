"""The test runner with real subprocesses: secrets, timeouts, process groups, output caps."""

from __future__ import annotations

import json
import os
import select
import sys
from pathlib import Path

import pytest

from agent.tools import test_runner
from agent.tools.test_runner import pytest_counts, run_tests, scrubbed_env

needs_pidfd = pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="needs Linux pidfds")

CANARIES = {
    "SLACK_BOT_TOKEN": "canary-slack-123",
    "JIRA_API_TOKEN": "canary-jira-123",
    "GITHUB_TOKEN": "canary-github-123",
    "OPENAI_API_KEY": "canary-openai-123",
    "MY_TOKEN_X": "canary-token-123",
    "SOME_SECRET": "canary-secret-123",
    "TASKMASTER_X": "canary-taskmaster-123",
    "db_password": "canary-password-123",
    "DEPLOY_KEY": "canary-key-123",
    "SSH_AUTH_SOCK": "canary-ssh-123",
}

# Prints its pid once it has started a child that would sleep for a minute.
SPAWNER = """\
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
with open("child.pid", "w") as f:
    f.write(str(child.pid))
if sys.argv[1] == "hang":
    time.sleep(60)
"""


def _base_environ() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", os.defpath), "HOME": str(Path.home())}


def _has_exited(pid: int, within: float = 5.0) -> bool:
    """Whether `pid` has exited or exits within `within` seconds.

    Waits on a pidfd rather than looking once: a killed process closes its files (so
    run_tests returns) a moment before the kernel marks it exited.
    """
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        ready, _, _ = select.select([fd], [], [], within)
    finally:
        os.close(fd)
    return bool(ready)


def test_scrubbed_env_drops_secrets_and_keeps_the_rest() -> None:
    env = scrubbed_env({**CANARIES, "INNOCENT": "visible", "PATH": "/usr/bin"})
    assert not set(CANARIES) & set(env)
    assert env["INNOCENT"] == "visible"
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["PYTEST_ADDOPTS"] == "-p no:cacheprovider"
    assert env["PATH"] == os.pathsep.join([os.path.dirname(sys.executable), "/usr/bin"])


async def test_run_tests_hides_secrets_from_the_command(tmp_path: Path) -> None:
    (tmp_path / "dump.py").write_text(
        "import json, os, sys\n"
        "json.dump({'env': dict(os.environ), 'python': sys.executable},"
        " open('seen.json', 'w'))\n"
    )
    environ = {**_base_environ(), **CANARIES, "INNOCENT": "visible"}
    result = await run_tests("python dump.py", tmp_path, environ=environ, timeout=30)
    assert result.ok, result.output_tail
    seen_text = (tmp_path / "seen.json").read_text()
    for value in CANARIES.values():
        assert value not in seen_text
    seen = json.loads(seen_text)
    assert seen["env"]["INNOCENT"] == "visible"
    # `python` is the interpreter TaskMaster runs in.
    assert seen["python"] == sys.executable


async def test_run_tests_kills_a_hanging_command(tmp_path: Path) -> None:
    command = 'python -c "import time; time.sleep(60)"'
    result = await run_tests(command, tmp_path, environ=_base_environ(), timeout=1)
    assert result.timed_out
    assert not result.ok
    assert result.exit_code is None
    assert result.duration < 10
    assert "timed out after 1s" in result.output_tail
    assert result.headline == "timed out after 1s"


@needs_pidfd
async def test_run_tests_kills_the_whole_process_group_on_timeout(tmp_path: Path) -> None:
    (tmp_path / "spawner.py").write_text(SPAWNER)
    result = await run_tests("python spawner.py hang", tmp_path, environ=_base_environ(), timeout=2)
    assert result.timed_out
    assert result.duration < 10
    assert _has_exited(int((tmp_path / "child.pid").read_text()))


@needs_pidfd
async def test_run_tests_kills_processes_left_behind_after_exit(tmp_path: Path) -> None:
    # The child keeps the output pipe open; without the group kill this would wait a minute.
    (tmp_path / "spawner.py").write_text(SPAWNER)
    result = await run_tests(
        "python spawner.py leave", tmp_path, environ=_base_environ(), timeout=30
    )
    assert result.ok
    assert not result.timed_out
    assert result.duration < 10
    assert _has_exited(int((tmp_path / "child.pid").read_text()))


async def test_run_tests_caps_output(tmp_path: Path) -> None:
    command = "python -c \"print('x' * 1_000_000)\""
    result = await run_tests(
        command, tmp_path, environ=_base_environ(), timeout=30, output_limit=10_000
    )
    assert result.ok
    # 1,000,000 x's and a newline, of which the last 10,000 characters are kept.
    assert result.output_tail == "[... 990001 characters cut ...]\n" + "x" * 9_999 + "\n"


async def test_run_tests_parses_a_real_pytest_run(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_sample.py").write_text(
        "def test_passes():\n    assert 1 + 1 == 2\n\n\ndef test_fails():\n    assert 1 + 1 == 3\n"
    )
    result = await run_tests(
        test_runner.PYTEST_COMMAND, project, environ=_base_environ(), timeout=60
    )
    assert (result.passed, result.failed, result.errors) == (1, 1, 0), result.output_tail
    assert not result.ok
    assert result.exit_code == 1
    assert "test_fails" in result.output_tail
    # No caches left in the workspace to show up in the diff.
    assert sorted(p.name for p in project.iterdir()) == ["test_sample.py"]


async def test_run_tests_reports_the_exit_code(tmp_path: Path) -> None:
    result = await run_tests("echo oops; exit 3", tmp_path, environ=_base_environ(), timeout=30)
    assert not result.ok
    assert result.exit_code == 3
    assert result.output_tail == "oops\n"


async def test_run_tests_reports_a_command_that_cannot_start(tmp_path: Path) -> None:
    result = await run_tests("true", tmp_path / "missing", environ=_base_environ(), timeout=30)
    assert not result.ok
    assert result.exit_code is None
    assert result.output_tail.startswith("The test command could not be started:")


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


def test_test_command_for_prefers_taskmaster_file(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\n")
    (tmp_path / ".taskmaster.md").write_text(
        "# Rules\n\n- Keep it small.\n\nTest command: `make check`\n"
    )
    assert test_runner.test_command_for(tmp_path, "tox -q") == "make check"


def test_test_command_for_reads_bold_markdown(tmp_path: Path) -> None:
    (tmp_path / ".taskmaster.md").write_text("- **Test command:** ``pytest -x``\n")
    assert test_runner.test_command_for(tmp_path, None) == "pytest -x"


def test_test_command_for_uses_setting_before_detection(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\n")
    (tmp_path / ".taskmaster.md").write_text("# No command here\n")
    assert test_runner.test_command_for(tmp_path, "tox -q") == "tox -q"
    assert test_runner.test_command_for(tmp_path, "  ") == "python -m pytest -q"


@pytest.mark.parametrize(
    ("files", "command"),
    [
        ({"pyproject.toml": "[project]\n"}, "python -m pytest -q"),
        ({"tests/unit/test_a.py": "def test_a(): pass\n"}, "python -m pytest -q"),
        ({"package.json": '{"scripts": {"test": "jest"}}'}, "npm test"),
        ({"go.mod": "module example.com/x\n"}, "go test ./..."),
        ({"Cargo.toml": "[package]\n"}, "cargo test"),
        ({"Makefile": "build:\n\tcc x.c\n\ntest: build\n\t./x\n"}, "make test"),
        (
            {"package.json": '{"scripts": {"test": "echo \\"Error: no test specified\\""}}'},
            None,
        ),
        ({"Makefile": "TEST := 1\ntest := 2\nbuild:\n\tcc x.c\n"}, None),
        ({"README.md": "# Nothing to run\n"}, None),
    ],
)
def test_test_command_for_detects(tmp_path: Path, files: dict[str, str], command: str) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert test_runner.test_command_for(tmp_path, None) == command
