"""GitLabCodeHost against the fake GitLab, whose project clones from a real bare repository."""

from __future__ import annotations

import asyncio
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

from agent.errors import ErrorKind, TaskmasterError
from agent.git import git, git_env
from agent.integrations import registry
from agent.integrations.gitlab import GitLabCodeHost
from agent.integrations.http import RESET_MARGIN, RetryPolicy
from agent.models import PullRequest
from agent.settings import Settings, SettingsError, load_settings
from tests.fakes import Sleeps
from tests.fakes.gitlab import FakeGitLab, Project

TOKEN = "canary-glpat-XYZ"
SECRETS = (TOKEN, base64.b64encode(f"oauth2:{TOKEN}".encode()).decode())
PATH = "acme/platform/app"  # a project in a subgroup
ENCODED = "acme%2Fplatform%2Fapp"
BRANCH = "taskmaster/12-flag-overdue"


def _run_git(*args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=git_env(), check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    """A bare repository with one commit on `main`, as GitLab's side of the clone."""
    bare = tmp_path / "remote.git"
    seed = tmp_path / "seed"
    _run_git("init", "--bare", "--initial-branch=main", str(bare))
    _run_git("init", "--initial-branch=main", str(seed))
    (seed / "README.md").write_text("# app\n")
    _run_git("add", "README.md", cwd=seed)
    _run_git("commit", "-m", "initial", cwd=seed)
    _run_git("push", str(bare), "main", cwd=seed)
    return bare


@pytest.fixture
async def gitlab() -> AsyncIterator[FakeGitLab]:
    async with FakeGitLab(token=TOKEN) as fake:
        yield fake


@pytest.fixture
def project(gitlab: FakeGitLab, remote: Path) -> Project:
    return gitlab.add_project(PATH, remote.as_uri(), id=42, bare=remote)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def settings(url: str, **extra: Any) -> Settings:
    values = {"GITLAB_URL": url, "GITLAB_PROJECT": PATH, "GITLAB_TOKEN": TOKEN}
    return load_settings({**values, **extra}, env_file=None)


def host(
    gitlab: FakeGitLab, http: aiohttp.ClientSession, sleeps: Sleeps | None = None, **extra: Any
) -> GitLabCodeHost:
    retry = RetryPolicy(sleep=sleeps or Sleeps())
    return GitLabCodeHost(settings(gitlab.url, **extra), http, retry=retry)


async def commit_on_branch(workspace: Path, branch: str = BRANCH) -> str:
    await git("checkout", "-b", branch, cwd=workspace)
    (workspace / "overdue.py").write_text("def is_overdue() -> bool:\n    return True\n")
    await git("add", "overdue.py", cwd=workspace)
    await git("commit", "-m", "Flag overdue tasks", cwd=workspace)
    return (await git("rev-parse", "HEAD", cwd=workspace)).strip()


async def pushed(gitlab: FakeGitLab, http: aiohttp.ClientSession, tmp_path: Path) -> None:
    """Clone, commit and push BRANCH, as delivery does before the merge request."""
    code_host = host(gitlab, http)
    workspace = tmp_path / "ws"
    await code_host.clone(workspace)
    await commit_on_branch(workspace)
    await code_host.push(workspace, BRANCH)


def assert_no_secret(*texts: str) -> None:
    for secret in SECRETS:
        for value in texts:
            assert secret not in value


def everything_about(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc)


async def test_gitlab_clone_uses_http_url_to_repo_and_stores_no_token(
    gitlab: FakeGitLab, project: Project, http: aiohttp.ClientSession, remote: Path, tmp_path: Path
) -> None:
    workspace = tmp_path / "ws"

    await host(gitlab, http).clone(workspace)

    assert (workspace / "README.md").read_text() == "# app\n"
    assert (await git("branch", "--show-current", cwd=workspace)).strip() == "main"
    assert (await git("remote", "get-url", "origin", cwd=workspace)).strip() == remote.as_uri()
    assert_no_secret((workspace / ".git" / "config").read_text())
    [request] = gitlab.to("GET", f"/api/v4/projects/{ENCODED}")
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize(
    ("configured", "raw"),
    [
        ("acme/platform/app", "/api/v4/projects/acme%2Fplatform%2Fapp"),
        ("Acme/Platform/app/", "/api/v4/projects/Acme%2FPlatform%2Fapp"),
        ("42", "/api/v4/projects/42"),
    ],
)
async def test_gitlab_subgroup_paths_and_numeric_ids_are_url_encoded(
    gitlab: FakeGitLab,
    project: Project,
    http: aiohttp.ClientSession,
    tmp_path: Path,
    configured: str,
    raw: str,
) -> None:
    code_host = host(gitlab, http, GITLAB_PROJECT=configured)
    await code_host.clone(tmp_path / "ws")
    assert await code_host.find_pull_request(BRANCH) is None

    assert [r.path for r in gitlab.requests] == [raw, f"{raw}/merge_requests"]


async def test_fake_gitlab_refuses_an_unencoded_project_path(
    gitlab: FakeGitLab, project: Project, http: aiohttp.ClientSession
) -> None:
    """The fake is as strict as GitLab: a path with bare slashes is no route at all."""
    headers = {"PRIVATE-TOKEN": TOKEN}
    async with http.get(f"{gitlab.url}/api/v4/projects/{PATH}", headers=headers) as answer:
        assert answer.status == 404
        assert await answer.json() == {"error": "404 Not Found"}
    async with http.get(f"{gitlab.url}/api/v4/projects/{ENCODED}", headers=headers) as answer:
        assert answer.status == 200
        assert (await answer.json())["path_with_namespace"] == PATH


async def test_gitlab_push_puts_the_branch_on_the_remote_at_its_sha(
    gitlab: FakeGitLab, project: Project, http: aiohttp.ClientSession, remote: Path, tmp_path: Path
) -> None:
    code_host = host(gitlab, http)
    workspace = tmp_path / "ws"
    await code_host.clone(workspace)
    sha = await commit_on_branch(workspace)

    assert await code_host.push(workspace, BRANCH) == sha
    assert await code_host.push(workspace, BRANCH) == sha  # a retry changes nothing

    assert _run_git("--git-dir", str(remote), "rev-parse", f"refs/heads/{BRANCH}") == sha
    assert len(gitlab.to("GET", f"/api/v4/projects/{ENCODED}")) == 1  # asked once
    assert_no_secret((workspace / ".git" / "config").read_text())


@pytest.mark.parametrize("branch", ["main", "HEAD", "-f", ""])
async def test_gitlab_push_refuses_the_default_branch(
    gitlab: FakeGitLab,
    project: Project,
    http: aiohttp.ClientSession,
    remote: Path,
    tmp_path: Path,
    branch: str,
) -> None:
    code_host = host(gitlab, http)
    workspace = tmp_path / "ws"
    await code_host.clone(workspace)
    before = _run_git("--git-dir", str(remote), "rev-parse", "refs/heads/main")

    with pytest.raises(TaskmasterError) as caught:
        await code_host.push(workspace, branch)

    assert caught.value.kind == ErrorKind.INVALID_INPUT
    assert _run_git("--git-dir", str(remote), "rev-parse", "refs/heads/main") == before


async def test_gitlab_merge_request_is_opened_once_and_reused(
    gitlab: FakeGitLab, project: Project, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    await pushed(gitlab, http, tmp_path)
    code_host = host(gitlab, http)
    assert await code_host.find_pull_request(BRANCH) is None

    first = await code_host.open_pull_request(
        branch=BRANCH, base="main", title="[#12] Flag overdue tasks", body="The plan."
    )
    second = await code_host.open_pull_request(
        branch=BRANCH, base="main", title="[#12] Flag overdue tasks", body="The plan."
    )

    assert (
        first
        == second
        == PullRequest(
            number=1,
            url=f"{gitlab.url}/{PATH}/-/merge_requests/1",
            branch=BRANCH,
            title="[#12] Flag overdue tasks",
        )
    )
    mrs = f"/api/v4/projects/{ENCODED}/merge_requests"
    [created] = gitlab.to("POST", mrs)
    assert created.body == {
        "source_branch": BRANCH,
        "target_branch": "main",
        "title": "[#12] Flag overdue tasks",
        "description": "The plan.",
    }
    lookup = gitlab.to("GET", mrs)[0]
    assert lookup.query == {"source_branch": BRANCH, "state": "opened", "per_page": "20"}
    assert len(project.merge_requests) == 1


async def test_gitlab_draft_setting_marks_the_title_and_long_titles_fit(
    gitlab: FakeGitLab, project: Project, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    await pushed(gitlab, http, tmp_path)
    title = "[#12] " + "Overdue " * 40  # 326 characters: GitLab refuses over 255

    pull = await host(gitlab, http, GITLAB_DRAFT="true").open_pull_request(
        branch=BRANCH, base="main", title=title, body=""
    )

    [mr] = project.merge_requests
    assert mr["draft"] is True and mr["title"].startswith("Draft: [#12] Overdue")
    assert len(mr["title"]) == 255 and pull.title == mr["title"]


async def test_gitlab_server_errors_then_created_open_exactly_one_merge_request(
    gitlab: FakeGitLab, project: Project, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    await pushed(gitlab, http, tmp_path)
    mrs = f"/api/v4/projects/{ENCODED}/merge_requests"
    gitlab.fail("POST", mrs, 500, times=2)
    sleeps = Sleeps()

    pull = await host(gitlab, http, sleeps).open_pull_request(
        branch=BRANCH, base="main", title="T", body=""
    )

    assert pull.number == 1
    assert len(project.merge_requests) == 1
    assert len(gitlab.to("POST", mrs)) == 3
    assert sleeps.waits == [0.5, 1.0]


async def test_gitlab_lost_answer_then_409_reuses_the_merge_request(
    gitlab: FakeGitLab, project: Project, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    await pushed(gitlab, http, tmp_path)
    mrs = f"/api/v4/projects/{ENCODED}/merge_requests"
    # The first POST opens it but its answer is lost; the retry gets GitLab's 409.
    gitlab.fail("POST", mrs, 502, after=True)

    pull = await host(gitlab, http).open_pull_request(
        branch=BRANCH, base="main", title="T", body=""
    )

    assert pull.number == 1 and len(project.merge_requests) == 1
    assert len(gitlab.to("POST", mrs)) == 2


async def test_gitlab_409_from_another_process_is_reused(
    gitlab: FakeGitLab, project: Project, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    await pushed(gitlab, http, tmp_path)
    mrs = f"/api/v4/projects/{ENCODED}/merge_requests"
    other = host(gitlab, http)
    # Another process opens it between our lookup and our create: the lookup is held.
    lookup = gitlab.hold("GET", mrs, after=True)
    mine = host(gitlab, http).open_pull_request(branch=BRANCH, base="main", title="T", body="")
    task = asyncio.create_task(mine)
    await asyncio.wait_for(lookup.arrived.wait(), 10)
    theirs = await other.open_pull_request(branch=BRANCH, base="main", title="T", body="")
    lookup.release()
    pull = await asyncio.wait_for(task, 10)

    assert pull == theirs and len(project.merge_requests) == 1
    posts = gitlab.to("POST", mrs)
    assert len(posts) == 2  # ours was answered 409 and reused theirs


async def test_gitlab_missing_source_branch_is_invalid_input(
    gitlab: FakeGitLab, project: Project, http: aiohttp.ClientSession
) -> None:
    with pytest.raises(TaskmasterError) as caught:
        await host(gitlab, http).open_pull_request(branch=BRANCH, base="main", title="T", body="")
    assert caught.value.kind == ErrorKind.INVALID_INPUT
    assert project.merge_requests == []


async def test_gitlab_429_waits_for_retry_after_and_ratelimit_reset(
    gitlab: FakeGitLab, project: Project, http: aiohttp.ClientSession
) -> None:
    mrs = f"/api/v4/projects/{ENCODED}/merge_requests"
    reset = int(time.time()) + 9
    gitlab.fail("GET", mrs, 429, headers={"Retry-After": "7"})
    gitlab.fail("GET", mrs, 429, headers={"RateLimit-Reset": str(reset)})
    gitlab.fail("GET", mrs, 429, headers={"Retry-After": "2", "RateLimit-Reset": str(reset)})
    sleeps = Sleeps()
    code_host = GitLabCodeHost(settings(gitlab.url), http, retry=RetryPolicy(tries=4, sleep=sleeps))

    assert await code_host.find_pull_request(BRANCH) is None

    told, reset_wait, later_of_both = sleeps.waits
    assert told == 7.0
    assert 7.0 < reset_wait <= 9.0 + RESET_MARGIN  # until past the Unix time GitLab gave
    assert later_of_both > 2.0 and abs(later_of_both - reset_wait) < 1.0
    assert len(gitlab.to("GET", mrs)) == 4


async def test_gitlab_refused_token_is_auth_naming_the_setting_without_the_token(
    gitlab: FakeGitLab,
    project: Project,
    http: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    gitlab.token = "revoked"

    with pytest.raises(TaskmasterError) as caught:
        await host(gitlab, http).find_pull_request(BRANCH)

    assert caught.value.kind == ErrorKind.AUTH
    assert caught.value.message.startswith(
        f"GITLAB_TOKEN was refused by {gitlab.url.removeprefix('http://')}"
    )
    assert_no_secret(everything_about(caught.value), caplog.text)
    assert_no_secret(*(r.getMessage() for r in caplog.records))


async def test_gitlab_canary_token_appears_in_no_message_log_or_git_config(
    gitlab: FakeGitLab,
    project: Project,
    http: aiohttp.ClientSession,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    code_host = host(gitlab, http)
    workspace = tmp_path / "ws"
    await code_host.clone(workspace)
    await commit_on_branch(workspace)
    await code_host.push(workspace, BRANCH)
    gitlab.fail("POST", f"/api/v4/projects/{ENCODED}/merge_requests", 403)
    errors = []
    with pytest.raises(TaskmasterError) as caught:
        await code_host.open_pull_request(branch=BRANCH, base="main", title="T", body="")
    errors.append(everything_about(caught.value))
    # A git failure logs git's stderr: it must come out redacted too.
    project.http_url_to_repo = (tmp_path / "missing.git").as_uri()
    with pytest.raises(TaskmasterError) as caught:
        await host(gitlab, http).clone(tmp_path / "ws2")
    assert caught.value.kind == ErrorKind.GIT
    errors.append(everything_about(caught.value))

    assert any(r.getMessage().startswith("git clone") for r in caplog.records)
    config = (workspace / ".git" / "config").read_text()
    assert_no_secret(*errors, config, caplog.text, *(r.getMessage() for r in caplog.records))


async def test_gitlab_clone_over_http_sends_the_token_as_a_header_only(
    gitlab: FakeGitLab,
    project: Project,
    http: aiohttp.ClientSession,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    project.http_url_to_repo = f"{gitlab.url}/{PATH}.git"  # smart HTTP; the fake refuses it

    with pytest.raises(TaskmasterError) as caught:
        await host(gitlab, http).clone(tmp_path / "ws")

    assert caught.value.kind == ErrorKind.GIT
    [ask] = gitlab.to("GET", f"/{PATH}.git/info/refs")
    assert ask.headers["Authorization"] == f"Basic {SECRETS[1]}"
    assert ask.query == {"service": "git-upload-pack"}
    assert_no_secret(everything_about(caught.value), caplog.text)


async def test_gitlab_unknown_project_names_the_setting(
    gitlab: FakeGitLab, project: Project, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    with pytest.raises(TaskmasterError) as caught:
        await host(gitlab, http, GITLAB_PROJECT="acme/other").clone(tmp_path / "ws")
    assert caught.value.kind == ErrorKind.INVALID_INPUT
    assert "GITLAB_PROJECT acme/other was not found" in caught.value.message


async def test_gitlab_empty_project_says_so(
    gitlab: FakeGitLab, project: Project, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    project.default_branch = None
    with pytest.raises(TaskmasterError) as caught:
        await host(gitlab, http).clone(tmp_path / "ws")
    assert caught.value.kind == ErrorKind.INVALID_INPUT
    assert "has no default branch" in caught.value.message


async def test_gitlab_closed_port_is_connection(http: aiohttp.ClientSession) -> None:
    code_host = GitLabCodeHost(
        settings(f"http://127.0.0.1:{unused_port()}"), http, retry=RetryPolicy(sleep=Sleeps())
    )
    with pytest.raises(TaskmasterError) as caught:
        await code_host.find_pull_request(BRANCH)
    assert caught.value.kind == ErrorKind.CONNECTION


@pytest.mark.parametrize(
    ("values", "missing"),
    [
        ({"TASKMASTER_CODE_HOST": "gitlab"}, "GITLAB_PROJECT"),
        ({"TASKMASTER_CODE_HOST": "gitlab", "GITLAB_PROJECT": "a/b"}, "GITLAB_TOKEN"),
    ],
)
async def test_gitlab_chosen_without_its_settings_names_the_missing_one(
    http: aiohttp.ClientSession, values: dict[str, str], missing: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        registry.code_host(load_settings(values, env_file=None), http)
    assert str(raised.value) == f"{missing} is not set: add it to .env (see .env.example)"


async def test_gitlab_is_chosen_by_the_setting_even_with_github_configured(
    http: aiohttp.ClientSession,
) -> None:
    chosen = load_settings(
        {
            "TASKMASTER_CODE_HOST": "gitlab",
            "GITLAB_PROJECT": PATH,
            "GITLAB_TOKEN": TOKEN,
            "GITHUB_REPOSITORY": "acme/app",
        },
        env_file=None,
    )
    assert isinstance(registry.code_host(chosen, http), GitLabCodeHost)


@pytest.mark.parametrize(
    ("value", "url"),
    [
        ("https://gitlab.example.com/", "https://gitlab.example.com"),
        ("https://example.com/gitlab/api/v4", "https://example.com/gitlab"),
    ],
)
def test_gitlab_url_is_the_instance_whether_or_not_the_api_path_is_given(
    value: str, url: str
) -> None:
    assert load_settings({"GITLAB_URL": value}, env_file=None).gitlab_url == url


@pytest.mark.parametrize("value", ["acme", "acme/../app", "-acme/app", "acme//app x"])
def test_gitlab_project_must_be_an_id_or_a_full_path(value: str) -> None:
    with pytest.raises(SettingsError, match="GITLAB_PROJECT is invalid"):
        load_settings({"GITLAB_PROJECT": value}, env_file=None)
