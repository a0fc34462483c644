"""GitHubCodeHost against a fake GitHub API whose clone_url is a real bare repository."""

from __future__ import annotations

import base64
import logging
import subprocess
import time
import traceback
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import unused_port

from agent.errors import ErrorKind, RateLimited, TaskmasterError
from agent.git import git, git_env
from agent.integrations.github import GitHubCodeHost
from agent.integrations.http import RetryPolicy
from agent.models import PullRequest
from agent.settings import Settings, SettingsError
from tests.fakes import Sleeps
from tests.fakes.github import FakeGitHub

TOKEN = "canary-tok-XYZ"
SECRETS = (TOKEN, base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode())
BRANCH = "taskmaster/TASK-101-flag-overdue"


def _run_git(*args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=git_env(), check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    """A bare repository with one commit on `main` (and BRANCH), as GitHub's side."""
    bare = tmp_path / "remote.git"
    seed = tmp_path / "seed"
    _run_git("init", "--bare", "--initial-branch=main", str(bare))
    _run_git("init", "--initial-branch=main", str(seed))
    (seed / "README.md").write_text("# app\n")
    _run_git("add", "README.md", cwd=seed)
    _run_git("commit", "-m", "initial", cwd=seed)
    _run_git("push", str(bare), "main", cwd=seed)
    _run_git("push", str(bare), f"main:refs/heads/{BRANCH}", cwd=seed)  # a pull request's head
    return bare


@pytest.fixture
async def github(remote: Path) -> AsyncIterator[FakeGitHub]:
    async with FakeGitHub(remote.as_uri(), repository="acme/app", token=TOKEN) as fake:
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def settings(url: str, **extra: Any) -> Settings:
    values = {"GITHUB_REPOSITORY": "acme/app", "GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": url}
    return Settings.model_validate({**values, **extra})


def host(
    github: FakeGitHub, http: aiohttp.ClientSession, sleeps: Sleeps | None = None, **extra: Any
) -> GitHubCodeHost:
    retry = RetryPolicy(sleep=sleeps or Sleeps())
    return GitHubCodeHost(settings(github.url, **extra), http, retry=retry)


async def commit_on_branch(workspace: Path, branch: str = BRANCH) -> str:
    await git("checkout", "-b", branch, cwd=workspace)
    (workspace / "overdue.py").write_text("def is_overdue() -> bool:\n    return True\n")
    await git("add", "overdue.py", cwd=workspace)
    await git("commit", "-m", "Flag overdue tasks", cwd=workspace)
    return (await git("rev-parse", "HEAD", cwd=workspace)).strip()


def assert_no_secret(*texts: str) -> None:
    for secret in SECRETS:
        for value in texts:
            assert secret not in value


def everything_about(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc)


async def test_github_clone_uses_the_reported_clone_url_and_stores_no_token(
    github: FakeGitHub, http: aiohttp.ClientSession, remote: Path, tmp_path: Path
) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()

    await host(github, http).clone(workspace)

    assert (workspace / "README.md").read_text() == "# app\n"
    assert (await git("branch", "--show-current", cwd=workspace)).strip() == "main"
    assert (await git("remote", "get-url", "origin", cwd=workspace)).strip() == remote.as_uri()
    assert_no_secret((workspace / ".git" / "config").read_text())
    [request] = github.to("GET", "/repos/acme/app")
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Accept"] == "application/vnd.github+json"
    assert request.headers["X-GitHub-Api-Version"] == "2022-11-28"


async def test_github_push_puts_the_branch_on_the_remote_at_its_sha(
    github: FakeGitHub, http: aiohttp.ClientSession, remote: Path, tmp_path: Path
) -> None:
    code_host = host(github, http)
    workspace = tmp_path / "ws"
    await code_host.clone(workspace)
    sha = await commit_on_branch(workspace)

    assert await code_host.push(workspace, BRANCH) == sha
    assert await code_host.push(workspace, BRANCH) == sha  # a retry changes nothing

    assert _run_git("--git-dir", str(remote), "rev-parse", f"refs/heads/{BRANCH}") == sha
    assert len(github.to("GET", "/repos/acme/app")) == 1  # the repository is asked once
    assert_no_secret((workspace / ".git" / "config").read_text())


@pytest.mark.parametrize("branch", ["main", "HEAD", "-f", ""])
async def test_github_push_refuses_the_default_branch(
    github: FakeGitHub, http: aiohttp.ClientSession, remote: Path, tmp_path: Path, branch: str
) -> None:
    code_host = host(github, http)
    workspace = tmp_path / "ws"
    await code_host.clone(workspace)
    before = _run_git("--git-dir", str(remote), "rev-parse", "refs/heads/main")

    with pytest.raises(TaskmasterError) as caught:
        await code_host.push(workspace, branch)

    assert caught.value.kind == ErrorKind.INVALID_INPUT
    assert _run_git("--git-dir", str(remote), "rev-parse", "refs/heads/main") == before


async def test_github_pull_request_is_opened_once_and_reused(
    github: FakeGitHub, http: aiohttp.ClientSession
) -> None:
    code_host = host(github, http)
    assert await code_host.find_pull_request(BRANCH) is None

    first = await code_host.open_pull_request(
        branch=BRANCH, base="main", title="TASK-101: Flag overdue tasks", body="The plan."
    )
    second = await code_host.open_pull_request(
        branch=BRANCH, base="main", title="TASK-101: Flag overdue tasks", body="The plan."
    )

    assert (
        first
        == second
        == PullRequest(
            number=1,
            url="https://github.com/acme/app/pull/1",
            branch=BRANCH,
            title="TASK-101: Flag overdue tasks",
        )
    )
    [created] = github.to("POST", github.pulls_path)
    assert created.body == {
        "title": "TASK-101: Flag overdue tasks",
        "head": BRANCH,
        "base": "main",
        "body": "The plan.",
        "draft": False,
    }
    lookups = github.to("GET", github.pulls_path)
    assert lookups[0].query == {"head": f"acme:{BRANCH}", "state": "open", "per_page": "10"}
    assert len(github.pulls) == 1


async def test_github_draft_setting_opens_a_draft(
    github: FakeGitHub, http: aiohttp.ClientSession
) -> None:
    code_host = host(github, http, GITHUB_DRAFT="true")
    await code_host.open_pull_request(branch=BRANCH, base="main", title="T", body="")
    assert github.pulls[0]["draft"] is True


async def test_github_server_errors_then_created_open_exactly_one_pull_request(
    github: FakeGitHub, http: aiohttp.ClientSession
) -> None:
    github.fail("POST", github.pulls_path, 500, times=2)
    sleeps = Sleeps()

    pull = await host(github, http, sleeps).open_pull_request(
        branch=BRANCH, base="main", title="T", body=""
    )

    assert pull.number == 1
    assert len(github.pulls) == 1
    assert len(github.to("POST", github.pulls_path)) == 3
    assert sleeps.waits == [0.5, 1.0]


async def test_github_lost_answer_then_already_exists_reuses_the_pull_request(
    github: FakeGitHub, http: aiohttp.ClientSession
) -> None:
    # The first POST opens the pull request but its answer is lost; the retry gets a 422.
    github.fail("POST", github.pulls_path, 502, after=True)

    pull = await host(github, http).open_pull_request(
        branch=BRANCH, base="main", title="T", body=""
    )

    assert pull.number == 1
    assert len(github.pulls) == 1
    assert len(github.to("POST", github.pulls_path)) == 2


async def test_github_pull_request_from_a_branch_never_pushed_is_refused_not_opened(
    github: FakeGitHub, http: aiohttp.ClientSession
) -> None:
    with pytest.raises(TaskmasterError) as caught:
        await host(github, http).open_pull_request(
            branch="taskmaster/never-pushed", base="main", title="T", body=""
        )

    assert caught.value.kind == ErrorKind.INVALID_INPUT
    assert "taskmaster/never-pushed" in str(caught.value)
    assert github.pulls == []


async def test_github_refused_token_is_auth_naming_the_setting_without_the_token(
    github: FakeGitHub, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    github.token = "revoked"

    with pytest.raises(TaskmasterError) as caught:
        await host(github, http).find_pull_request(BRANCH)

    assert caught.value.kind == ErrorKind.AUTH
    assert caught.value.message.startswith(
        f"GITHUB_TOKEN was refused by {github.url.removeprefix('http://')}"
    )
    assert_no_secret(everything_about(caught.value), caplog.text)
    assert_no_secret(*(r.getMessage() for r in caplog.records))


async def test_github_canary_token_appears_in_no_message_log_or_git_config(
    github: FakeGitHub,
    http: aiohttp.ClientSession,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    code_host = host(github, http)
    workspace = tmp_path / "ws"
    await code_host.clone(workspace)
    await commit_on_branch(workspace)
    await code_host.push(workspace, BRANCH)
    github.fail("POST", github.pulls_path, 401)
    errors = []
    with pytest.raises(TaskmasterError) as caught:
        await code_host.open_pull_request(branch=BRANCH, base="main", title="T", body="")
    errors.append(everything_about(caught.value))
    # A git failure logs git's stderr: it must come out redacted too.
    github.clone_url = (tmp_path / "missing.git").as_uri()
    elsewhere = tmp_path / "ws2"
    with pytest.raises(TaskmasterError) as caught:
        await host(github, http).clone(elsewhere)
    assert caught.value.kind == ErrorKind.GIT
    errors.append(everything_about(caught.value))

    assert any(r.getMessage().startswith("git clone") for r in caplog.records)
    config = (workspace / ".git" / "config").read_text()
    assert_no_secret(*errors, config, caplog.text, *(r.getMessage() for r in caplog.records))


async def test_github_unknown_repository_names_the_setting(
    github: FakeGitHub, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    with pytest.raises(TaskmasterError) as caught:
        await host(github, http, GITHUB_REPOSITORY="acme/other").clone(tmp_path / "ws")
    assert caught.value.kind == ErrorKind.INVALID_INPUT
    assert "GITHUB_REPOSITORY acme/other" in caught.value.message


async def test_github_closed_port_is_connection(http: aiohttp.ClientSession) -> None:
    code_host = GitHubCodeHost(
        settings(f"http://127.0.0.1:{unused_port()}"), http, retry=RetryPolicy(sleep=Sleeps())
    )
    with pytest.raises(TaskmasterError) as caught:
        await code_host.find_pull_request(BRANCH)
    assert caught.value.kind == ErrorKind.CONNECTION


async def test_github_missing_setting_is_named(http: aiohttp.ClientSession) -> None:
    incomplete = Settings.model_validate({"GITHUB_REPOSITORY": "acme/app"})
    with pytest.raises(SettingsError, match="GITHUB_TOKEN"):
        GitHubCodeHost(incomplete, http)


async def test_github_clone_over_http_sends_the_token_as_a_header_only(
    github: FakeGitHub,
    http: aiohttp.ClientSession,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    github.clone_url = f"{github.url}/acme/app.git"  # smart HTTP; the fake refuses it

    with pytest.raises(TaskmasterError) as caught:
        await host(github, http).clone(tmp_path / "ws")

    assert caught.value.kind == ErrorKind.GIT
    [ask] = github.to("GET", "/acme/app.git/info/refs")
    assert ask.headers["Authorization"] == f"Basic {SECRETS[1]}"
    assert ask.query == {"service": "git-upload-pack"}
    assert_no_secret(everything_about(caught.value), caplog.text)


# GitHub's rate limits, as "Rate limits for the REST API" describes them.
SECONDARY = {
    "message": "You have exceeded a secondary rate limit. Please wait a few minutes before "
    "you try again.",
    "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
}


def bounded(github: FakeGitHub, http: aiohttp.ClientSession, bound: float) -> GitHubCodeHost:
    retry = RetryPolicy(sleep=Sleeps(real=True), rate_limit_wait=bound)
    return GitHubCodeHost(settings(github.url), http, retry=retry)


async def test_github_secondary_limit_with_retry_after_sends_nothing_sooner(
    github: FakeGitHub, http: aiohttp.ClientSession
) -> None:
    github.fail("POST", github.pulls_path, 403, headers={"retry-after": "60"}, body=SECONDARY)
    code_host = bounded(github, http, bound=5)

    with pytest.raises(RateLimited) as caught:
        await code_host.open_pull_request(branch=BRANCH, base="main", title="T", body="")

    assert caught.value.kind == ErrorKind.RATE_LIMITED  # never "GITHUB_TOKEN was refused"
    assert caught.value.retryable and caught.value.wait == 60.0
    assert "GitHub" in caught.value.message and "wait 60s" in caught.value.message
    # Within the minute, nothing more reaches GitHub: not this POST, not another call.
    with pytest.raises(RateLimited):
        await code_host.find_pull_request(BRANCH)
    assert len(github.to("POST", github.pulls_path)) == 1
    assert len(github.requests) == 2  # the lookup before the POST, and the POST


async def test_github_secondary_limit_without_headers_waits_at_least_a_minute(
    github: FakeGitHub, http: aiohttp.ClientSession
) -> None:
    github.fail("GET", github.pulls_path, 403, body=SECONDARY)
    with pytest.raises(RateLimited) as caught:
        await bounded(github, http, bound=5).find_pull_request(BRANCH)
    assert caught.value.wait == 60.0
    assert len(github.requests) == 1


async def test_github_primary_limit_sends_nothing_before_the_reset(
    github: FakeGitHub, http: aiohttp.ClientSession
) -> None:
    reset = int(time.time()) + 2
    quota = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)}
    github.fail("GET", github.pulls_path, 403, headers=quota, body={"message": "API rate limit"})

    assert await bounded(github, http, bound=120).find_pull_request(BRANCH) is None

    first, second = github.to("GET", github.pulls_path)
    assert first.wall < reset <= second.wall


async def test_github_last_request_of_the_quota_holds_the_next_until_the_reset(
    github: FakeGitHub, http: aiohttp.ClientSession
) -> None:
    reset = int(time.time()) + 2
    github.extra_headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)}
    code_host = bounded(github, http, bound=120)

    await code_host.find_pull_request(BRANCH)  # a success that spent the quota
    github.extra_headers = {}
    await code_host.find_pull_request(BRANCH)

    first, second = github.to("GET", github.pulls_path)
    assert first.wall < reset <= second.wall
