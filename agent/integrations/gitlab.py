"""The repository on GitLab (REST API v4 + git over HTTPS): clone, push, open the merge request.

Works with gitlab.com and self-managed instances (GITLAB_URL), for a project named by
its full path or its numeric id (GITLAB_PROJECT). As for GitHub, the token reaches
git only through the environment of the one git command that needs it (`git(config=
...)`, as GIT_CONFIG_* variables), never argv, `.git/config` or a log; the header is
configured for the project's clone URL only (`http.<url>.extraHeader`), not for every
URL git might be asked to fetch. Every effect is found before it is made: an open
merge request from the branch is reused, and GitLab's 409 for a second one means
"reuse", which is also what makes a retried create safe.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from agent.errors import ErrorKind, TaskmasterError
from agent.integrations.gitlab_api import SERVICE, gitlab_api, project_path
from agent.integrations.hosted_git import clone_default_branch, push_branch
from agent.integrations.http import RetryPolicy
from agent.models import PullRequest
from agent.settings import Settings

log = logging.getLogger(__name__)

TITLE_LIMIT = 255  # GitLab refuses a longer merge request title with 400
DESCRIPTION_LIMIT = 1_048_576
DRAFT_PREFIX = "Draft: "


@dataclass(frozen=True)
class Project:
    clone_url: str
    default_branch: str


class GitLabCodeHost:
    """A `CodeHost` over GitLab's REST API v4, on an aiohttp session the caller owns."""

    def __init__(
        self, settings: Settings, http: aiohttp.ClientSession, *, retry: RetryPolicy | None = None
    ) -> None:
        self.api = gitlab_api(settings, http, retry=retry)
        assert settings.gitlab_project and settings.gitlab_token
        self.project = settings.gitlab_project
        self.draft = settings.gitlab_draft
        token = settings.gitlab_token.get_secret_value()
        # GitLab takes any token as the password of the user `oauth2` over HTTPS.
        self._basic = base64.b64encode(f"oauth2:{token}".encode()).decode()
        self._secrets = (token, self._basic)
        self._project: Project | None = None

    @property
    def _path(self) -> str:
        return project_path(self.project)

    async def project_info(self) -> Project:
        """Where to clone from and which branch is protected, asked once per instance."""
        if self._project is None:
            reply = await self.api.call("GET", self._path, expect=(404,))
            data = reply.data if isinstance(reply.data, dict) else {}
            if reply.status == 404 or not data.get("http_url_to_repo"):
                raise TaskmasterError(
                    ErrorKind.INVALID_INPUT,
                    f"GITLAB_PROJECT {self.project} was not found on {self.api.host} "
                    "(or GITLAB_TOKEN cannot see it)",
                )
            if not data.get("default_branch"):
                raise TaskmasterError(
                    ErrorKind.INVALID_INPUT,
                    f"GITLAB_PROJECT {self.project} has no default branch yet: "
                    "push a first commit to it.",
                )
            self._project = Project(str(data["http_url_to_repo"]), str(data["default_branch"]))
        return self._project

    def _git_config(self, url: str) -> dict[str, str]:
        """Only for git's environment (`git(config=...)`); see the module docstring."""
        return {f"http.{url}.extraHeader": f"Authorization: Basic {self._basic}"}

    async def clone(self, dest: Path) -> None:
        project = await self.project_info()
        await clone_default_branch(
            project.clone_url,
            project.default_branch,
            dest,
            config=self._git_config(project.clone_url),
            redact=self._secrets,
        )

    async def push(self, workspace: Path, branch: str) -> str:
        project = await self.project_info()
        return await push_branch(
            workspace,
            branch,
            project.default_branch,
            config=self._git_config(project.clone_url),
            redact=self._secrets,
        )

    async def find_pull_request(self, branch: str) -> PullRequest | None:
        reply = await self.api.call(
            "GET",
            f"{self._path}/merge_requests",
            params={"source_branch": branch, "state": "opened", "per_page": "20"},
        )
        found = [
            mr
            for mr in reply.data or ()
            if isinstance(mr, dict) and mr.get("source_branch") == branch
        ]
        return _merge_request(found[0]) if found else None

    async def open_pull_request(
        self, *, branch: str, base: str, title: str, body: str
    ) -> PullRequest:
        existing = await self.find_pull_request(branch)
        if existing is not None:
            return existing
        payload = {
            "source_branch": branch,
            "target_branch": base,
            "title": _title(title, draft=self.draft),
            "description": body[:DESCRIPTION_LIMIT],
        }
        # Safe to retry: GitLab answers a second open merge request for the branches with 409.
        reply = await self.api.call(
            "POST",
            f"{self._path}/merge_requests",
            json_body=payload,
            expect=(409, 422),
            retry_safe=True,
        )
        if reply.status not in (409, 422):
            return _merge_request(reply.data)
        log.warning("GitLab refused the merge request from %s: %s", branch, reply.data)
        if reply.status == 409:  # a retried POST whose first try made it, or another process
            found = await self.find_pull_request(branch)
            if found is not None:
                return found
        raise TaskmasterError(
            ErrorKind.INVALID_INPUT,
            f"GitLab refused to open a merge request from {branch} into {base}; "
            "the details are in the log.",
        )


def _title(title: str, *, draft: bool) -> str:
    """GitLab marks a draft by the title's `Draft:` prefix, and allows 255 characters."""
    if draft and not title.lower().startswith("draft:"):
        title = DRAFT_PREFIX + title
    return title if len(title) <= TITLE_LIMIT else title[: TITLE_LIMIT - 1] + "…"


def _merge_request(data: Any) -> PullRequest:
    if not isinstance(data, dict) or "iid" not in data or "source_branch" not in data:
        raise TaskmasterError(
            ErrorKind.INTERNAL, f"{SERVICE} answered something TaskMaster could not read."
        )
    return PullRequest(
        number=int(data["iid"]),  # the project's own number (!12), not the global `id`
        url=str(data.get("web_url") or ""),
        branch=str(data["source_branch"]),
        title=str(data.get("title") or ""),
    )
