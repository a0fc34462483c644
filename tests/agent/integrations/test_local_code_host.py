"""LocalCodeHost against a real git repository in a temporary folder."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from agent.errors import ErrorKind, TaskmasterError
from agent.git import git
from agent.integrations.local_code_host import LocalCodeHost, append_once, ticket_of_branch

BRANCH = "taskmaster/TASK-1-fix-overdue"


async def make_remote(path: Path, default: str = "main") -> Path:
    """A repository with one commit on `default`, used as the remote."""
    await git("init", "--quiet", "-b", default, str(path))
    await git("commit", "--quiet", "--allow-empty", "-m", "initial", cwd=path)
    return path


async def commit_on_branch(workspace: Path, branch: str) -> str:
    await git("checkout", "--quiet", "-b", branch, cwd=workspace)
    await git("commit", "--quiet", "--allow-empty", "-m", "fix", cwd=workspace)
    return (await git("rev-parse", "HEAD", cwd=workspace)).strip()


@pytest.fixture
async def remote(tmp_path: Path) -> Path:
    return await make_remote(tmp_path / "remote")


@pytest.fixture
def empty_dest(tmp_path: Path) -> Path:
    dest = tmp_path / "empty"
    dest.mkdir()
    return dest


@pytest.fixture
def remote_uri(remote: Path) -> str:
    return remote.resolve().as_uri()


@pytest.fixture
def host(remote: Path, tmp_path: Path) -> LocalCodeHost:
    return LocalCodeHost(str(remote), tmp_path / "data")


async def test_local_code_host_clone_checks_out_default_branch(
    host: LocalCodeHost, remote: Path, empty_dest: Path
) -> None:
    await host.clone(empty_dest)

    assert (await git("branch", "--show-current", cwd=empty_dest)).strip() == "main"
    assert await git("rev-parse", "HEAD", cwd=empty_dest) == await git(
        "rev-parse", "main", cwd=remote
    )


async def test_local_code_host_push_returns_remote_sha(
    host: LocalCodeHost, remote: Path, tmp_path: Path
) -> None:
    workspace = tmp_path / "ws"
    await host.clone(workspace)
    sha = await commit_on_branch(workspace, BRANCH)

    pushed = await host.push(workspace, BRANCH)

    assert pushed == sha
    assert (await git("rev-parse", f"refs/heads/{BRANCH}", cwd=remote)).strip() == sha
    assert await host.push(workspace, BRANCH) == sha  # a retry is harmless


@pytest.mark.parametrize("branch", ["main", "master"])
async def test_local_code_host_push_refuses_protected_branch(
    host: LocalCodeHost, remote: Path, tmp_path: Path, branch: str
) -> None:
    workspace = tmp_path / "ws"
    await host.clone(workspace)
    before = await git("rev-parse", "main", cwd=remote)
    if branch != "main":
        await commit_on_branch(workspace, branch)

    with pytest.raises(TaskmasterError) as raised:
        await host.push(workspace, branch)

    assert raised.value.kind is ErrorKind.GIT
    assert await git("rev-parse", "main", cwd=remote) == before


async def test_local_code_host_push_refuses_remote_default_branch(tmp_path: Path) -> None:
    remote = await make_remote(tmp_path / "trunk-remote", default="trunk")
    host = LocalCodeHost(str(remote), tmp_path / "data")
    workspace = tmp_path / "ws"
    await host.clone(workspace)

    with pytest.raises(TaskmasterError) as raised:
        await host.push(workspace, "trunk")

    assert raised.value.kind is ErrorKind.GIT


async def test_local_code_host_open_pull_request_appends_and_is_found(
    host: LocalCodeHost, remote_uri: str, tmp_path: Path
) -> None:
    workspace = tmp_path / "ws"
    await host.clone(workspace)
    await commit_on_branch(workspace, BRANCH)
    await host.push(workspace, BRANCH)
    assert await host.find_pull_request(BRANCH) is None

    opened = await host.open_pull_request(branch=BRANCH, base="main", title="Fix", body="Body")
    reused = await host.open_pull_request(branch=BRANCH, base="main", title="Again", body="x")

    assert opened == reused == await host.find_pull_request(BRANCH)
    assert (opened.number, opened.branch, opened.title) == (1, BRANCH, "Fix")
    assert opened.url == f"{remote_uri}#pull-1"
    lines = (tmp_path / "data" / "pull_requests.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [
        {
            "number": 1,
            "branch": BRANCH,
            "base": "main",
            "title": "Fix",
            "body": "Body",
            "ticket": "TASK-1",
            "url": opened.url,
        }
    ]


async def test_local_code_host_open_pull_request_needs_pushed_branch(
    host: LocalCodeHost, tmp_path: Path
) -> None:
    with pytest.raises(TaskmasterError) as raised:
        await host.open_pull_request(branch=BRANCH, base="main", title="Fix", body="")

    assert raised.value.kind is ErrorKind.GIT
    assert not (tmp_path / "data" / "pull_requests.jsonl").exists()


async def test_append_once_numbers_concurrent_appends_uniquely(tmp_path: Path) -> None:
    path = tmp_path / "data" / "log.jsonl"

    def append(name: str) -> dict[str, object]:
        return append_once(
            path,
            lambda e: e["name"] == name,
            lambda entries: {"name": name, "number": len(entries) + 1},
        )

    names = [f"b{i % 10}" for i in range(40)]  # each name four times, all at once
    results = await asyncio.gather(*(asyncio.to_thread(append, n) for n in names))

    entries = [json.loads(line) for line in path.read_text().splitlines()]
    assert sorted(e["number"] for e in entries) == list(range(1, 11))
    assert {r["name"]: r["number"] for r in results} == {e["name"]: e["number"] for e in entries}


def test_append_once_skips_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_text('{"n": 1}\n{"n": 2')

    append_once(path, lambda e: False, lambda entries: {"n": len(entries) + 1})

    assert path.read_text().splitlines() == ['{"n": 1}', '{"n": 2', '{"n": 2}']


@pytest.mark.parametrize(
    ("branch", "key"),
    [(BRANCH, "TASK-1"), ("taskmaster/AB_2-1234", "AB_2-1234"), ("feature/TASK-1-x", None)],
)
def test_ticket_of_branch_parses_key(branch: str, key: str | None) -> None:
    assert ticket_of_branch(branch) == key


async def test_a_repo_setting_naming_a_plain_folder_says_so(tmp_path: Path) -> None:
    plain = tmp_path / "not-a-repo"
    plain.mkdir()
    (plain / "README.md").write_text("files, but no git\n")
    host = LocalCodeHost(str(plain), tmp_path / "data")
    with pytest.raises(TaskmasterError) as refused:
        await host.clone(tmp_path / "workspace")
    assert "TASKMASTER_REPO (not-a-repo) is a folder, not a git repository" in refused.value.message
