"""What GitLab's code host and its issues share: the REST API v4 client and project paths.

GitLab names a project by its numeric id or by its full path, and a path goes into a
URL as one segment with every `/` encoded as `%2F` (GitLab's "namespaced path
encoding"); unencoded, GitLab answers 404. The token is sent as a bearer token, which
GitLab accepts for personal, project, group and OAuth tokens alike.

A 429 from GitLab carries `Retry-After` (seconds) and `RateLimit-Reset` (the Unix time
the quota comes back), not always both; `JsonApi` waits for the later of the two.
"""

from __future__ import annotations

from urllib.parse import quote

import aiohttp

from agent.integrations.http import JsonApi, RetryPolicy
from agent.settings import Settings

API_PREFIX = "/api/v4"
SERVICE = "GitLab"


def project_path(project: str) -> str:
    """`/projects/:id` for a numeric id or a full path, the path encoded whole (`a%2Fb%2Fc`)."""
    return f"/projects/{quote(project, safe='')}"


def gitlab_api(
    settings: Settings, http: aiohttp.ClientSession, *, retry: RetryPolicy | None = None
) -> JsonApi:
    """The API at GITLAB_URL with GITLAB_TOKEN; a refusal names the setting and the project."""
    settings.require("GITLAB_PROJECT", "GITLAB_TOKEN")
    assert settings.gitlab_token is not None
    token = settings.gitlab_token.get_secret_value()
    return JsonApi(
        http,
        settings.gitlab_url + API_PREFIX,
        {"Authorization": f"Bearer {token}", "Accept": "application/json"},
        service=SERVICE,
        credential="GITLAB_TOKEN",
        hint=f"check GITLAB_TOKEN: the api scope and access to {settings.gitlab_project}",
        secrets=(token,),
        retry=retry or RetryPolicy(rate_limit_wait=settings.rate_limit_wait),
    )
