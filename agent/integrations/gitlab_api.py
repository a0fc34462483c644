"""What GitLab's code host and its issues share: the REST API v4 client and project paths.

GitLab names a project by its numeric id or by its full path, and a path goes into a
URL as one segment with every `/` encoded as `%2F` (GitLab's "namespaced path
encoding"); unencoded, GitLab answers 404. The token is sent as a bearer token, which
GitLab accepts for personal, project, group and OAuth tokens alike.

A 429 from GitLab carries `Retry-After` (seconds) and `RateLimit-Reset` (the Unix time
the quota comes back), not always both; TaskMaster waits for the later of the two.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from urllib.parse import quote

import aiohttp

from agent.integrations.http import JsonApi, RetryPolicy, host_of
from agent.settings import Settings

API_PREFIX = "/api/v4"
SERVICE = "GitLab"


def project_path(project: str) -> str:
    """`/projects/:id` for a numeric id or a full path, the path encoded whole (`a%2Fb%2Fc`)."""
    return f"/projects/{quote(project, safe='')}"


class GitLabApi(JsonApi):
    """`JsonApi` for GitLab: its rate-limit headers are honoured as GitLab documents them."""

    def rate_limit_wait(self, headers: Mapping[str, str]) -> float | None:
        """The later of `Retry-After` and `RateLimit-Reset`: never sooner than either allows."""
        waits = [w for w in (super().rate_limit_wait(headers), _reset_in(headers)) if w is not None]
        return max(waits, default=None)


def _reset_in(headers: Mapping[str, str]) -> float | None:
    try:
        reset = float(headers.get("RateLimit-Reset", ""))
    except ValueError:
        return None
    return max(0.0, reset - time.time())


def gitlab_api(
    settings: Settings, http: aiohttp.ClientSession, *, retry: RetryPolicy | None = None
) -> GitLabApi:
    """The API at GITLAB_URL with GITLAB_TOKEN; a refusal names the setting and the project."""
    settings.require("GITLAB_PROJECT", "GITLAB_TOKEN")
    assert settings.gitlab_token is not None
    token = settings.gitlab_token.get_secret_value()
    return GitLabApi(
        http,
        settings.gitlab_url + API_PREFIX,
        {"Authorization": f"Bearer {token}", "Accept": "application/json"},
        service=SERVICE,
        refused=f"GITLAB_TOKEN was refused by {host_of(settings.gitlab_url)} "
        f"(check GITLAB_TOKEN: the api scope and access to {settings.gitlab_project})",
        secrets=(token,),
        retry=retry,
    )
