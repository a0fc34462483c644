"""A fake GitLab REST API v4: projects, merge requests, issues and their notes.

Written from GitLab's API documentation and its API source, and as strict:
- a project is `:id`, a numeric id or the full path URL-encoded as ONE segment
  (`acme%2Fplatform%2Fapp`); an unencoded path matches no route (404), as on GitLab;
- tokens go in `PRIVATE-TOKEN` or `Authorization: Bearer` (else 401 `401 Unauthorized`);
- errors have GitLab's shapes: `{"message": ...}` from the application (a string, a list
  of strings, or field -> messages) and `{"error": ...}` from parameter validation;
- a second open merge request for the same source and target branch is 409 "Another
  open merge request already exists for this source branch: !N"; a branch the
  repository does not have is 422; a title over 255 characters is 400;
- lists are paginated (`page`, `per_page` up to 100, `X-Next-Page`...);
- a merge request whose description links an issue adds GitLab's system note
  ("mentioned in merge request !N") to that issue.

Requests are recorded, failed and held by their raw, still-encoded path.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from tests.fakes import FakeServer

API = "/api/v4"
TITLE_LIMIT = 255
DESCRIPTION_LIMIT = 1_048_576
NOTE_LIMIT = 1_000_000
MR_STATES = ("opened", "closed", "locked", "merged", "all")
BOT = {"id": 90, "username": "taskmaster-bot", "name": "TaskMaster", "state": "active"}


def _message(message: Any, status: int) -> web.Response:
    return web.json_response({"message": message}, status=status)


def _error(error: str, status: int = 400) -> web.Response:
    return web.json_response({"error": error}, status=status)


@dataclass
class Project:
    """One project: where git clones it from, and its merge requests, issues and notes."""

    id: int
    path: str
    http_url_to_repo: str
    default_branch: str | None = "main"
    bare: Path | None = None  # the repository behind it, for branch checks
    merge_requests: list[dict[str, Any]] = field(default_factory=list)
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    notes: dict[int, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def encoded(self) -> str:
        """The project as it goes into a URL: its path with every `/` as `%2F`."""
        return self.path.replace("/", "%2F")


class FakeGitLab(FakeServer):
    def __init__(self, token: str = "glpat-token") -> None:
        super().__init__()
        self.token = token
        self.projects: list[Project] = []
        self._ids = itertools.count(5000)
        self.app.add_routes([web.route("*", API + "/{tail:.*}", self._dispatch)])

    # -- the test's side ------------------------------------------------------------------

    def add_project(
        self,
        path: str,
        http_url_to_repo: str,
        *,
        id: int = 42,
        default_branch: str | None = "main",
        bare: Path | None = None,
    ) -> Project:
        project = Project(id, path, http_url_to_repo, default_branch, bare)
        self.projects.append(project)
        return project

    def add_issue(
        self,
        project: Project,
        iid: int,
        title: str,
        description: str = "",
        *,
        labels: tuple[str, ...] = (),
        state: str = "opened",
        issue_type: str = "issue",
    ) -> dict[str, Any]:
        issue = {
            "id": next(self._ids),
            "iid": iid,
            "project_id": project.id,
            "title": title,
            "description": description,
            "state": state,
            "labels": list(labels),
            "issue_type": issue_type,
            "type": issue_type.upper(),
            "author": BOT,
            "web_url": f"{self.url}/{project.path}/-/issues/{iid}",
            "references": {
                "short": f"#{iid}",
                "relative": f"#{iid}",
                "full": f"{project.path}#{iid}",
            },
            "created_at": "2024-05-14T08:00:00.000Z",
            "updated_at": "2024-05-14T08:00:00.000Z",
        }
        project.issues[iid] = issue
        project.notes.setdefault(iid, [])
        return issue

    def api_path(self, project: Project, *rest: str) -> str:
        """A project resource's raw path, as requests are recorded: `/api/v4/projects/a%2Fb/...`."""
        return "/".join([f"{API}/projects/{project.encoded}", *rest])

    def user_notes(self, project: Project, iid: int) -> list[dict[str, Any]]:
        return [n for n in project.notes.get(iid, []) if not n["system"]]

    # -- FakeServer -------------------------------------------------------------------------

    def path_of(self, request: web.Request) -> str:
        return request.raw_path.split("?", 1)[0]

    def authorized(self, request: web.Request) -> bool:
        return (
            request.headers.get("PRIVATE-TOKEN") == self.token
            or request.headers.get("Authorization") == f"Bearer {self.token}"
        )

    def unauthorized(self) -> web.StreamResponse:
        return _message("401 Unauthorized", 401)

    # -- routing on the raw path, as GitLab's `:id` requirement (no `/`) does ------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        parts = self.path_of(request).removeprefix(API + "/").split("/")
        method = request.method
        if len(parts) < 2 or parts[0] != "projects" or not parts[1]:
            return _error("404 Not Found", 404)
        rest = parts[2:]
        routes = {
            (): {"GET": self._project},
            ("merge_requests",): {"GET": self._list_mrs, "POST": self._create_mr},
            ("issues", "*"): {"GET": self._issue, "PUT": self._edit_issue},
            ("issues", "*", "notes"): {"GET": self._list_notes, "POST": self._create_note},
        }
        shape = tuple("*" if i == 1 and rest[0] == "issues" else p for i, p in enumerate(rest))
        handlers = routes.get(shape)
        if handlers is None:
            return _error("404 Not Found", 404)
        if method not in handlers:
            return _error("405 Not Allowed", 405)
        project = self._find(unquote(parts[1]))
        if project is None:
            return _message("404 Project Not Found", 404)
        return await handlers[method](request, project, *rest[1:2])

    def _find(self, ref: str) -> Project | None:
        for project in self.projects:
            if ref == str(project.id) or ref.casefold() == project.path.casefold():
                return project
        return None

    # -- projects -----------------------------------------------------------------------------

    async def _project(self, request: web.Request, project: Project) -> web.StreamResponse:
        return web.json_response(
            {
                "id": project.id,
                "name": project.path.rsplit("/", 1)[-1],
                "path": project.path.rsplit("/", 1)[-1],
                "path_with_namespace": project.path,
                "default_branch": project.default_branch,
                "http_url_to_repo": project.http_url_to_repo,
                "ssh_url_to_repo": f"git@gitlab.example.com:{project.path}.git",
                "web_url": f"{self.url}/{project.path}",
                "visibility": "private",
            }
        )

    # -- merge requests -----------------------------------------------------------------------

    async def _list_mrs(self, request: web.Request, project: Project) -> web.StreamResponse:
        query = request.query
        state = query.get("state", "all")
        if state not in MR_STATES:
            return _error("state does not have a valid value")
        found = [
            mr
            for mr in reversed(project.merge_requests)  # newest first, as GitLab sorts
            if (state == "all" or mr["state"] == state)
            and query.get("source_branch", mr["source_branch"]) == mr["source_branch"]
            and query.get("target_branch", mr["target_branch"]) == mr["target_branch"]
        ]
        return _page(request, found)

    async def _create_mr(self, request: web.Request, project: Project) -> web.StreamResponse:
        data = await request.json()
        required = ("source_branch", "target_branch", "title")
        missing = [f"{name} is missing" for name in required if not data.get(name)]
        if missing:
            return _error(", ".join(missing))
        title, description = str(data["title"]), str(data.get("description") or "")
        if len(title) > TITLE_LIMIT:
            return _message({"title": [f"is too long (maximum is {TITLE_LIMIT} characters)"]}, 400)
        if len(description) > DESCRIPTION_LIMIT:
            too_long = f"is too long (maximum is {DESCRIPTION_LIMIT} characters)"
            return _message({"description": [too_long]}, 400)
        source, target = str(data["source_branch"]), str(data["target_branch"])
        if source == target:
            return _message(["You can't use same project/branch for source and target"], 422)
        missing_branches = [
            f'{kind} branch "{name}" does not exist'
            for kind, name in (("Source", source), ("Target", target))
            if not await _has_branch(project.bare, name)
        ]
        if missing_branches:
            return _message(missing_branches, 422)
        for mr in project.merge_requests:
            same = (mr["source_branch"], mr["target_branch"]) == (source, target)
            if same and mr["state"] == "opened":
                exists = "Another open merge request already exists for this source branch"
                return _message([f"{exists}: !{mr['iid']}"], 409)
        iid = len(project.merge_requests) + 1
        draft = bool(re.match(r"^\s*(\[draft\]|\(draft\)|draft:|draft\s*-)", title, re.I))
        mr = {
            "id": next(self._ids),
            "iid": iid,
            "project_id": project.id,
            "title": title,
            "description": description,
            "state": "opened",
            "source_branch": source,
            "target_branch": target,
            "source_project_id": project.id,
            "target_project_id": project.id,
            "draft": draft,
            "work_in_progress": draft,
            "author": BOT,
            "web_url": f"{self.url}/{project.path}/-/merge_requests/{iid}",
            "references": {"short": f"!{iid}", "full": f"{project.path}!{iid}"},
        }
        project.merge_requests.append(mr)
        self._cross_reference(project, mr)
        return web.json_response(mr, status=201)

    def _cross_reference(self, source: Project, mr: dict[str, Any]) -> None:
        """GitLab's system note on each issue the description links."""
        for project in self.projects:
            issue_url = re.escape(f"{self.url}/{project.path}/-/issues/")
            for number in re.findall(issue_url + r"(\d+)\b", mr["description"]):
                if int(number) in project.issues:
                    reference = "" if project is source else source.path
                    body = f"mentioned in merge request {reference}!{mr['iid']}"
                    self.add_note(project, int(number), body, system=True)

    # -- issues and notes -----------------------------------------------------------------

    def _issue_of(self, project: Project, iid: str) -> dict[str, Any] | None:
        return project.issues.get(int(iid)) if iid.isdigit() else None

    async def _issue(self, request: web.Request, project: Project, iid: str) -> web.StreamResponse:
        issue = self._issue_of(project, iid)
        return web.json_response(issue) if issue else _message("404 Not found", 404)

    async def _edit_issue(
        self, request: web.Request, project: Project, iid: str
    ) -> web.StreamResponse:
        issue = self._issue_of(project, iid)
        if issue is None:
            return _message("404 Not found", 404)
        data = await request.json()
        known = ("add_labels", "remove_labels", "labels", "title", "description", "state_event")
        if not any(name in data for name in known):
            return _error(
                f"{', '.join(known)} are missing, at least one parameter must be provided"
            )
        labels: list[str] = list(issue["labels"])
        if "labels" in data:
            labels = _labels(data["labels"])
        labels += [label for label in _labels(data.get("add_labels")) if label not in labels]
        removed = _labels(data.get("remove_labels"))
        issue["labels"] = [label for label in labels if label not in removed]
        return web.json_response(issue)

    async def _list_notes(
        self, request: web.Request, project: Project, iid: str
    ) -> web.StreamResponse:
        if self._issue_of(project, iid) is None:
            return _message("404 Not found", 404)
        sort = request.query.get("sort", "desc")
        order_by = request.query.get("order_by", "created_at")
        if sort not in ("asc", "desc"):
            return _error("sort does not have a valid value")
        if order_by not in ("created_at", "updated_at"):
            return _error("order_by does not have a valid value")
        notes = list(project.notes[int(iid)])
        return _page(request, notes if sort == "asc" else notes[::-1])

    async def _create_note(
        self, request: web.Request, project: Project, iid: str
    ) -> web.StreamResponse:
        if self._issue_of(project, iid) is None:
            return _message("404 Not found", 404)
        data = await request.json()
        body = str(data.get("body") or "")
        if not body:
            return _error("body is missing")
        if len(body) > NOTE_LIMIT:
            return _message({"note": [f"is too long (maximum is {NOTE_LIMIT} characters)"]}, 400)
        return web.json_response(self.add_note(project, int(iid), body), status=201)

    def add_note(
        self, project: Project, iid: int, body: str, *, system: bool = False
    ) -> dict[str, Any]:
        note = {
            "id": next(self._ids),
            "type": None,
            "body": body,
            "author": BOT,
            "created_at": "2024-05-14T09:00:00.000Z",
            "updated_at": "2024-05-14T09:00:00.000Z",
            "system": system,
            "noteable_id": project.issues[iid]["id"],
            "noteable_type": "Issue",
            "noteable_iid": iid,
            "resolvable": False,
            "confidential": False,
            "internal": False,
        }
        project.notes[iid].append(note)
        return note


def _labels(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [part.strip() for part in str(value or "").split(",") if part.strip()]


def _page(request: web.Request, items: list[dict[str, Any]]) -> web.Response:
    """GitLab's offset pagination: `page`, `per_page` (default 20, at most 100) and its headers."""
    try:
        page = max(1, int(request.query.get("page", "1")))
        per_page = min(100, max(1, int(request.query.get("per_page", "20"))))
    except ValueError:
        return _error("page is invalid")
    start = (page - 1) * per_page
    chunk = items[start : start + per_page]
    more = start + per_page < len(items)
    headers = {
        "X-Page": str(page),
        "X-Per-Page": str(per_page),
        "X-Total": str(len(items)),
        "X-Total-Pages": str(max(1, -(-len(items) // per_page))),
        "X-Next-Page": str(page + 1) if more else "",
        "X-Prev-Page": str(page - 1) if page > 1 else "",
    }
    return web.json_response(chunk, headers=headers)


async def _has_branch(bare: Path | None, branch: str) -> bool:
    if bare is None:
        return True  # a project with no repository behind it: nothing to check against
    proc = await asyncio.create_subprocess_exec(
        "git",
        "--git-dir",
        str(bare),
        "rev-parse",
        "--verify",
        "--quiet",
        f"refs/heads/{branch}",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    return await proc.wait() == 0
