"""The sandbox as people meet it through the `taskmaster` command: it refuses to start
without bubblewrap, says so in every review when switched off, and a hostile
repository run end to end leaves no secret anywhere TaskMaster writes."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from pathlib import Path

import pytest

from agent.git import git
from tests.cli import run_cli

OPT_OUT = "or set TASKMASTER_SANDBOX=off"


def _clean_environ() -> dict[str, str]:
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("TASKMASTER_", "SLACK_", "JIRA_", "GITHUB_"))
    }


def _path_without_bwrap(tmp_path: Path) -> str:
    """A PATH with git but no bubblewrap, as on a machine that never installed it."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for program in ("git",):
        for directory in os.environ["PATH"].split(os.pathsep):
            if (Path(directory) / program).exists():
                (folder / program).symlink_to(Path(directory) / program)
                break
    return str(folder)


@pytest.mark.parametrize("command", [["run", "TASK-101", "--demo"], ["serve", "--demo"]])
async def test_without_bwrap_run_and_serve_refuse_with_one_line(
    tmp_path: Path, command: list[str]
) -> None:
    env = {
        **_clean_environ(),
        "PATH": _path_without_bwrap(tmp_path),
        "SLACK_BOT_TOKEN": "xoxb-not-used",
        "SLACK_SIGNING_SECRET": "not-used",
        "SLACK_API_URL": "http://127.0.0.1:9/api/",
    }
    result = await run_cli(tmp_path, env, *command)
    assert result.code == 2, result.out + result.err
    line = result.err.strip()
    assert "\n" not in line
    assert line.startswith("taskmaster: bubblewrap (bwrap) is not installed")
    assert "apt-get install bubblewrap" in line and OPT_OUT in line


async def test_with_the_sandbox_off_the_review_says_so(tmp_path: Path) -> None:
    env = {**_clean_environ(), "TASKMASTER_SANDBOX": "off"}
    result = await run_cli(tmp_path, env, "run", "TASK-101", "--demo")
    assert result.code == 0, result.err
    assert "⚠ The tests ran without a sandbox (TASKMASTER_SANDBOX=off)" in result.out
    assert "17 passed" in result.out


HOSTILE_TESTS = r"""
import glob, os, socket, sys
seen = [f"{k}={v}" for k, v in os.environ.items()]
for path in glob.glob("/proc/*/environ") + glob.glob("/proc/*/cmdline"):
    try:
        seen.append(open(path, "rb").read().decode("latin-1"))
    except OSError:
        pass
for root in sys.argv[1:] + ["../..", "/tmp", os.path.expanduser("~")]:
    for folder, folders, files in os.walk(root):
        # TaskMaster's own venv is mounted for the tests' Python (under /tmp when the
        # checkout is): reading all of it finds nothing and outlasts the test timeout.
        folders[:] = [name for name in folders if name != ".venv"]
        for name in files:
            try:
                seen.append(open(os.path.join(folder, name), "rb").read(200_000).decode("latin-1"))
            except OSError:
                pass
print("\n".join(seen))
wanted = "SLACK_SIGNING_" + "SECRET="  # not spelt whole: this file is read too
signing = [text for text in seen if wanted in text]
print("HOSTILE-RAN", "signing secret found" if signing else "no secret to sign with")
try:
    socket.create_connection(("127.0.0.1", int(os.environ.get("BOT_PORT", "3000"))), 2)
    print("reached the bot")
except OSError as exc:
    print("bot unreachable:", exc)
"""

PLAN = {
    "name": "submit_plan",
    "args": {"summary": "Look around, then add a note.", "modules": [], "steps": ["Read"]},
}


async def _hostile_project(tmp_path: Path, leaked: str) -> dict[str, str]:
    """A repository whose test command steals what it can, a ticket, and a script."""
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "steal.py").write_text(HOSTILE_TESTS)
    data = tmp_path / "home" / ".taskmaster"
    (repo / ".taskmaster.md").write_text(
        f"Test command: python steal.py {data} {tmp_path / 'home'}\n"
    )
    # The repository somehow holds a token's value; the model must never see it.
    (repo / "leak.txt").write_text(f"token={leaked}\n")
    await git("init", "-q", "-b", "main", cwd=repo)
    await git("add", "--all", ".", cwd=repo)
    await git("commit", "-q", "-m", "A hostile project", cwd=repo)
    tickets = tmp_path / "tickets"
    tickets.mkdir()
    (tickets / "TASK-7.md").write_text("# Add a note\n\nAdd NOTES.md.\n")
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    turns = [
        {"content": "Planning.", "tool_calls": [PLAN]},
        {
            "content": "Reading and testing.",
            "tool_calls": [
                {"name": "read_file", "args": {"path": "leak.txt"}},
                {"name": "run_tests", "args": {}},
            ],
        },
        {
            "content": "Done.",
            "tool_calls": [
                {"name": "write_file", "args": {"path": "NOTES.md", "content": "A note.\n"}},
                {"name": "finish", "args": {"summary": "Added NOTES.md."}},
            ],
        },
    ]
    (scripts / "TASK-7.json").write_text(json.dumps(turns))
    return {
        "TASKMASTER_REPO": str(repo),
        "TASKMASTER_TICKETS": str(tickets),
        "TASKMASTER_MODEL": f"scripted:{scripts}",
        "TASKMASTER_DATA_DIR": str(data),
    }


async def test_a_hostile_repository_leaves_no_secret_anywhere_taskmaster_writes(
    tmp_path: Path,
) -> None:
    canaries = {
        "SLACK_SIGNING_SECRET": "canary-signing-e2e-11",
        "SLACK_BOT_TOKEN": "canary-bot-e2e-22",
        "GITHUB_TOKEN_FOR_CI": "canary-gh-e2e-33",
        "DATABASE_URL": "postgresql://app:canary-db-e2e-44@db/app",
        "BILLING_PASSWORD": "canary-billing-e2e-55",
    }
    home = tmp_path / "home"
    home.mkdir()
    (home / ".env").write_text("OPENAI_API_KEY=canary-dotenv-e2e-66\n")
    (home / ".git-credentials").write_text("https://x:canary-home-e2e-77@github.com\n")
    settings = await _hostile_project(tmp_path, leaked="canary-bot-e2e-22")
    other_run = home / ".taskmaster" / "workspaces" / "other"
    other_run.mkdir(parents=True)
    (other_run / "secrets.txt").write_text("canary-other-e2e-88\n")
    env = {**_clean_environ(), **canaries, **settings, "HOME": str(home)}
    env["PATH"] = os.environ["PATH"]

    result = await run_cli(home, env, "run", "TASK-7")

    assert result.code == 0, result.out + result.err
    assert "Waiting for review" in result.out
    database = (home / ".taskmaster" / "taskmaster.db").read_bytes()
    wal = home / ".taskmaster" / "taskmaster.db-wal"
    # The file's bytes (free pages too), and each value whole: a long value runs over
    # SQLite's overflow pages, whose headers may split a phrase in the file's bytes.
    values_stored = _every_value(home / ".taskmaster" / "taskmaster.db")
    stored = database + (wal.read_bytes() if wal.exists() else b"") + values_stored
    assert b"HOSTILE-RAN no secret to sign with" in values_stored
    assert b"bot unreachable" in values_stored
    assert b"token=***" in values_stored  # leak.txt as the model read it
    values = [*canaries.values(), "canary-dotenv-e2e-66", "canary-home-e2e-77"]
    values.append("canary-other-e2e-88")
    for value in values:
        assert value not in result.out + result.err
        assert value.encode() not in stored
    with sqlite3.connect(home / ".taskmaster" / "taskmaster.db") as db:
        rows = " ".join(str(row) for row in db.execute("SELECT * FROM runs"))
    for value in values:
        assert value not in rows


def _every_value(path: Path) -> bytes:
    """Every text and blob value of every table, each whole."""
    found: list[bytes] = []
    with contextlib.closing(sqlite3.connect(path)) as db:
        tables = [
            name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        for table in tables:
            for row in db.execute(f'SELECT * FROM "{table}"'):
                for value in row:
                    if isinstance(value, bytes):
                        found.append(value)
                    elif isinstance(value, str):
                        found.append(value.encode())
    return b"\n".join(found)
