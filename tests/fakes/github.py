"""A fake GitHub REST API: one repository (cloned from a real local git URL) and its pulls.

Creating a pull request is refused as GitHub refuses it (422 "Validation Failed"):
a missing field, a head branch the repository does not have, or a second open pull
request for the same head.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from aiohttp import web

from agent.git import git
from tests.fakes import FakeServer

DOCS = "https://docs.github.com/rest"
CREATE_PULL_DOCS = f"{DOCS}/pulls/pulls#create-a-pull-request"


def _error(message: str, status: int, **extra: Any) -> web.Response:
    body = {"message": message, "documentation_url": DOCS, "status": str(status), **extra}
    return web.json_response(body, status=status)


class FakeGitHub(FakeServer):
    """State: the repository `owner/name` at `clone_url`, and `pulls` opened on it."""

    def __init__(
        self,
        clone_url: str,
        *,
        repository: str = "acme/app",
        default_branch: str = "main",
        token: str = "gh-token",
    ) -> None:
        super().__init__()
        self.owner, self.name = repository.split("/")
        self.clone_url = clone_url
        self.default_branch = default_branch
        self.token = token
        self.pulls: list[dict[str, Any]] = []
        base = f"/repos/{self.owner}/{self.name}"
        self.app.add_routes(
            [
                web.get("/repos/{owner}/{name}", self._repository),
                web.get(f"{base}/pulls", self._list_pulls),
                web.post(f"{base}/pulls", self._create_pull),
            ]
        )

    @property
    def pulls_path(self) -> str:
        return f"/repos/{self.owner}/{self.name}/pulls"

    def authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.token}"

    def unauthorized(self) -> web.StreamResponse:
        return _error("Bad credentials", 401)

    async def _repository(self, request: web.Request) -> web.StreamResponse:
        if (request.match_info["owner"], request.match_info["name"]) != (self.owner, self.name):
            return _error("Not Found", 404)
        full = f"{self.owner}/{self.name}"
        return web.json_response(
            {
                "id": 1,
                "name": self.name,
                "full_name": full,
                "private": True,
                "html_url": f"https://github.com/{full}",
                "clone_url": self.clone_url,
                "default_branch": self.default_branch,
            }
        )

    async def _list_pulls(self, request: web.Request) -> web.StreamResponse:
        state = request.query.get("state", "open")
        head = request.query.get("head")
        found = [
            p
            for p in self.pulls
            if (state == "all" or p["state"] == state)
            and (head is None or p["head"]["label"] == head)
        ]
        return web.json_response(found)

    async def _create_pull(self, request: web.Request) -> web.StreamResponse:
        data = await request.json()
        missing = [f for f in ("title", "head", "base") if not data.get(f)]
        if missing:
            return _error(
                "Validation Failed",
                422,
                documentation_url=CREATE_PULL_DOCS,
                errors=[{"field": f, "code": "missing_field"} for f in missing],
            )
        if not await self._has_branch(data["head"]):
            return _error(
                "Validation Failed",
                422,
                documentation_url=CREATE_PULL_DOCS,
                errors=[{"resource": "PullRequest", "field": "head", "code": "invalid"}],
            )
        label = f"{self.owner}:{data['head']}"
        if any(p["head"]["label"] == label and p["state"] == "open" for p in self.pulls):
            message = f"A pull request already exists for {label}."
            return _error(
                "Validation Failed",
                422,
                documentation_url=CREATE_PULL_DOCS,
                errors=[{"resource": "PullRequest", "code": "custom", "message": message}],
            )
        number = len(self.pulls) + 1
        pull = {
            "id": 1000 + number,
            "number": number,
            "state": "open",
            "html_url": f"https://github.com/{self.owner}/{self.name}/pull/{number}",
            "url": f"{request.url.origin()}{self.pulls_path}/{number}",
            "title": data["title"],
            "body": data.get("body"),
            "draft": bool(data.get("draft", False)),
            "head": {"ref": data["head"], "label": label},
            "base": {"ref": data["base"], "label": f"{self.owner}:{data['base']}"},
        }
        self.pulls.append(pull)
        return web.json_response(pull, status=201)

    async def _has_branch(self, branch: str) -> bool:
        """Whether the repository has `branch` (checked when it is a local one)."""
        url = urlparse(self.clone_url)
        if url.scheme != "file":
            return True
        found = await git(
            "rev-parse",
            "--verify",
            "--quiet",
            f"refs/heads/{branch}",
            cwd=Path(unquote(url.path)),
            check=False,
        )
        return bool(found.strip())
