"""The repository on GitHub (REST + git over HTTPS): clone, push, open the pull request.

The token reaches git only through the environment of the one git command that
needs it (git's `config=`, given as `GIT_CONFIG_*` variables, git >= 2.31): not
in argv, where any process can read it, and not in the clone's `.git/config`, where
the agent's tools and the repository's tests could. Every effect is idempotent so a
retried `deliver` reuses the pull request it opened.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from agent.errors import ErrorKind, TaskmasterError
from agent.integrations.hosted_git import clone_default_branch, push_branch
from agent.integrations.http import JsonApi, RetryPolicy
from agent.models import PullRequest
from agent.settings import Settings

log = logging.getLogger(__name__)

API_VERSION = "2022-11-28"


@dataclass(frozen=True)
class Repository:
    clone_url: str
    default_branch: str


class GitHubCodeHost:
    """A `CodeHost` over GitHub's REST API, on an aiohttp session the caller owns."""

    def __init__(
        self, settings: Settings, http: aiohttp.ClientSession, *, retry: RetryPolicy | None = None
    ) -> None:
        settings.require("GITHUB_REPOSITORY", "GITHUB_TOKEN")
        assert settings.github_repository and settings.github_token
        self.owner, self.name = settings.github_repository.split("/")
        self.draft = settings.github_draft
        token = settings.github_token.get_secret_value()
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        # Only for git's environment; see the module docstring.
        self._git_config = {"http.extraHeader": f"Authorization: Basic {basic}"}
        self._secrets = (token, basic)
        self._repository: Repository | None = None
        self.api = JsonApi(
            http,
            settings.github_api_url,
            {
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
            },
            service="GitHub",
            credential="GITHUB_TOKEN",
            hint=f"check GITHUB_TOKEN and its access to {settings.github_repository}",
            secrets=self._secrets,
            retry=retry or RetryPolicy(rate_limit_wait=settings.rate_limit_wait),
        )

    @property
    def _repo_path(self) -> str:
        return f"/repos/{self.owner}/{self.name}"

    async def repository(self) -> Repository:
        """Where to clone from and which branch is protected, asked once per instance."""
        if self._repository is None:
            reply = await self.api.call("GET", self._repo_path, expect=(404,))
            data = reply.data if isinstance(reply.data, dict) else {}
            if reply.status == 404 or not data.get("clone_url"):
                raise TaskmasterError(
                    ErrorKind.INVALID_INPUT,
                    f"GITHUB_REPOSITORY {self.owner}/{self.name} was not found on "
                    f"{self.api.host} (or GITHUB_TOKEN cannot see it)",
                )
            self._repository = Repository(
                str(data["clone_url"]), str(data.get("default_branch") or "main")
            )
        return self._repository

    async def clone(self, dest: Path) -> None:
        repo = await self.repository()
        await clone_default_branch(
            repo.clone_url,
            repo.default_branch,
            dest,
            config=self._git_config,
            redact=self._secrets,
        )

    async def push(self, workspace: Path, branch: str) -> str:
        repo = await self.repository()
        return await push_branch(
            workspace,
            branch,
            repo.default_branch,
            config=self._git_config,
            redact=self._secrets,
        )

    async def find_pull_request(self, branch: str) -> PullRequest | None:
        reply = await self.api.call(
            "GET",
            f"{self._repo_path}/pulls",
            params={"head": f"{self.owner}:{branch}", "state": "open", "per_page": "10"},
        )
        pulls = [p for p in reply.data or () if isinstance(p, dict)]
        return _pull_request(pulls[0], branch) if pulls else None

    async def open_pull_request(
        self, *, branch: str, base: str, title: str, body: str
    ) -> PullRequest:
        existing = await self.find_pull_request(branch)
        if existing is not None:
            return existing
        payload = {"title": title, "head": branch, "base": base, "body": body, "draft": self.draft}
        # Safe to retry: GitHub answers a second pull request for the branch with 422.
        reply = await self.api.call(
            "POST", f"{self._repo_path}/pulls", json_body=payload, expect=(422,), retry_safe=True
        )
        if reply.status != 422:
            return _pull_request(reply.data, branch)
        # A retried POST whose first try did open it, or a race with another process.
        log.warning("GitHub refused the pull request from %s: %s", branch, reply.data)
        if _already_exists(reply.data):
            found = await self.find_pull_request(branch)
            if found is not None:
                return found
        raise TaskmasterError(
            ErrorKind.INVALID_INPUT,
            f"GitHub refused to open a pull request from {branch} into {base}; "
            "the details are in the log.",
        )


def _pull_request(data: Any, branch: str) -> PullRequest:
    if not isinstance(data, dict) or "number" not in data:
        raise TaskmasterError(
            ErrorKind.INTERNAL, "GitHub answered something TaskMaster could not read."
        )
    head = data.get("head")
    return PullRequest(
        number=int(data["number"]),
        url=str(data.get("html_url") or data.get("url") or ""),
        branch=str(head.get("ref") if isinstance(head, dict) else branch),
        title=str(data.get("title") or ""),
    )


def _already_exists(data: Any) -> bool:
    """GitHub's 422 for a duplicate says so in one of `errors[].message`."""
    errors = data.get("errors") if isinstance(data, dict) else None
    messages = [str(e.get("message", "")) for e in errors or () if isinstance(e, dict)]
    return any("already exists" in m.lower() for m in messages)
