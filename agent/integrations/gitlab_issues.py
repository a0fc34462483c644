"""Tickets from GitLab issues (REST API v4): fetch, note the merge request, add labels.

Keys are `#12` (an issue of GITLAB_PROJECT) or `group/project#12` (of any project the
token can see). The acceptance criteria are the list under an "Acceptance criteria"
heading of the description, or else its task list. Every effect is idempotent,
because `report` may run again after a crash: a note that already links the merge
request is reused (found before one is posted), and adding labels twice changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import aiohttp

from agent.errors import ErrorKind, TaskmasterError
from agent.integrations.gitlab_api import gitlab_api, project_path
from agent.integrations.http import RetryPolicy
from agent.integrations.keys import not_a_key
from agent.integrations.local_tickets import acceptance_criteria, task_list
from agent.models import PullRequest, Ticket
from agent.settings import Settings

KEY_EXAMPLE = "#12 or group/project#12"
_SEGMENT = r"[A-Za-z0-9_][A-Za-z0-9_.-]*"
_KEY = re.compile(rf"^(?:(?P<project>{_SEGMENT}(?:/{_SEGMENT})+))?#(?P<iid>[1-9][0-9]{{0,9}})$")
_PAGE = 100
_PRIORITY_LABEL = re.compile(r"^priority::\s*(.+)$", re.IGNORECASE)


@dataclass(frozen=True)
class IssueRef:
    project: str
    iid: int

    @property
    def path(self) -> str:
        return f"{project_path(self.project)}/issues/{self.iid}"


class GitLabTicketSource:
    """A `TicketSource` over GitLab issues, on an aiohttp session the caller owns."""

    key_example = "#12"

    def __init__(
        self, settings: Settings, http: aiohttp.ClientSession, *, retry: RetryPolicy | None = None
    ) -> None:
        self.api = gitlab_api(settings, http, retry=retry)
        assert settings.gitlab_project is not None
        self.project = settings.gitlab_project
        self.done_labels = settings.gitlab_done_labels

    def parse_key(self, text: str) -> str:
        """`#12` for an issue of GITLAB_PROJECT (however it was typed), else `path#12`.

        A project path is compared and kept in lower case, as GitLab finds paths, so
        one issue has one key and so at most one active run.
        """
        match = _KEY.match(text.strip())
        if match is None:
            raise not_a_key(text, KEY_EXAMPLE)
        project, iid = match["project"], int(match["iid"])
        if project is None or project.casefold() == self.project.casefold():
            return f"#{iid}"
        return f"{project.lower()}#{iid}"

    def _ref(self, key: str) -> IssueRef:
        project, _, iid = self.parse_key(key).rpartition("#")
        return IssueRef(project or self.project, int(iid))

    async def fetch(self, key: str) -> Ticket:
        ref = self._ref(key)
        reply = await self.api.call("GET", ref.path, expect=(404,))
        if reply.status == 404 or not isinstance(reply.data, dict):
            raise TaskmasterError(
                ErrorKind.TICKET_NOT_FOUND,
                f"GitLab has no issue {ref.iid} in {ref.project} that TaskMaster can see.",
            )
        issue: dict[str, Any] = reply.data
        description = str(issue.get("description") or "")
        labels = tuple(str(label) for label in issue.get("labels") or ())
        return Ticket(
            key=self.parse_key(key),
            title=str(issue.get("title") or key),
            description=description,
            type=_words(issue.get("issue_type")),
            priority=next((m[1] for lbl in labels if (m := _PRIORITY_LABEL.match(lbl))), None),
            status=_words({"opened": "open"}.get(str(issue.get("state")), issue.get("state"))),
            labels=labels,
            acceptance_criteria=acceptance_criteria(description) or task_list(description),
            url=str(issue.get("web_url") or "") or None,
        )

    async def comment(self, ticket: Ticket, pull_request: PullRequest) -> str:
        ref = self._ref(ticket.key)
        existing = await self._find_note(ref, pull_request.url)
        if existing is not None:
            return existing
        title = re.sub(r"([\[\]\\])", r"\\\1", pull_request.title)
        body = f"TaskMaster opened [{title}]({pull_request.url}) for this issue."
        # Not retried on a 5xx: GitLab would accept a second note; the lookup covers a retry.
        reply = await self.api.call("POST", f"{ref.path}/notes", json_body={"body": body})
        return str(_field(reply.data, "id"))

    async def _find_note(self, ref: IssueRef, url: str) -> str | None:
        """Our note that links `url`: GitLab's own system notes ("mentioned in") are not ours."""
        page = 1
        while True:
            params = {
                "sort": "asc",
                "order_by": "created_at",
                "per_page": str(_PAGE),
                "page": str(page),
            }
            notes = (await self.api.call("GET", f"{ref.path}/notes", params=params)).data or []
            for note in notes:
                if (
                    isinstance(note, dict)
                    and not note.get("system")
                    and url in str(note.get("body"))
                ):
                    return str(note.get("id"))
            if len(notes) < _PAGE:
                return None
            page += 1

    async def note(self, ticket: Ticket, text: str) -> str:
        """A plain note on the issue (a rejection and its reason)."""
        ref = self._ref(ticket.key)
        reply = await self.api.call("POST", f"{ref.path}/notes", json_body={"body": text})
        return str(_field(reply.data, "id"))

    async def transition(self, ticket: Ticket) -> str | None:
        """Add GITLAB_DONE_LABELS, if set; adding labels it already has changes nothing."""
        if not self.done_labels:
            return None
        ref = self._ref(ticket.key)
        await self.api.call("PUT", ref.path, json_body={"add_labels": ",".join(self.done_labels)})
        return ", ".join(self.done_labels)


def _field(data: Any, name: str) -> Any:
    if not isinstance(data, dict) or name not in data:
        raise TaskmasterError(
            ErrorKind.INTERNAL, "GitLab answered something TaskMaster could not read."
        )
    return data[name]


def _words(value: Any) -> str | None:
    """`test_case` -> `Test case`, as people read GitLab's enums."""
    return str(value).replace("_", " ").capitalize() if value else None
