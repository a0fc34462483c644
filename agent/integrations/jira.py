"""Tickets from Jira Cloud (REST v3): fetch, comment with the pull request, transition.

Every effect is idempotent, because `deliver` may run again after a crash: a comment
that already links the pull request is reused, and a ticket already in the target
status is left alone.
"""

from __future__ import annotations

import base64
import re
from typing import Any

import aiohttp

from agent.errors import ErrorKind, TaskmasterError
from agent.integrations import adf
from agent.integrations.http import JsonApi, RetryPolicy
from agent.integrations.keys import JIRA_STYLE_EXAMPLE, jira_style_key
from agent.models import TICKET_KEY, PullRequest, Ticket
from agent.settings import Settings

BASE_FIELDS = ("summary", "issuetype", "priority", "labels", "components", "status", "description")
_FIELD_ID = re.compile(r"^customfield_\d+$")
_PAGE = 100


class JiraTicketSource:
    """A `TicketSource` over Jira Cloud, on an aiohttp session the caller owns."""

    key_example = JIRA_STYLE_EXAMPLE

    def __init__(
        self, settings: Settings, http: aiohttp.ClientSession, *, retry: RetryPolicy | None = None
    ) -> None:
        settings.require("JIRA_URL", "JIRA_EMAIL", "JIRA_API_TOKEN")
        assert settings.jira_url and settings.jira_email and settings.jira_api_token
        token = settings.jira_api_token.get_secret_value()
        credentials = base64.b64encode(f"{settings.jira_email}:{token}".encode()).decode()
        self.base_url = settings.jira_url.rstrip("/")
        self.transition_name = settings.jira_transition
        self.acceptance_field = settings.jira_acceptance_field
        self._acceptance_id: str | None = None
        self.api = JsonApi(
            http,
            self.base_url,
            {"Authorization": f"Basic {credentials}", "Accept": "application/json"},
            service="Jira",
            credential="JIRA_API_TOKEN",
            hint="check JIRA_EMAIL and JIRA_API_TOKEN",
            secrets=(token, credentials),
            retry=retry or RetryPolicy(rate_limit_wait=settings.rate_limit_wait),
        )

    def parse_key(self, text: str) -> str:
        return jira_style_key(text)

    async def fetch(self, key: str) -> Ticket:
        _check_key(key)
        field_id = await self._acceptance_field_id()
        fields = ",".join((*BASE_FIELDS, field_id) if field_id else BASE_FIELDS)
        reply = await self.api.call(
            "GET", f"/rest/api/3/issue/{key}", params={"fields": fields}, expect=(404,)
        )
        if reply.status == 404:
            raise TaskmasterError(
                ErrorKind.TICKET_NOT_FOUND, f"Jira has no ticket {key} that TaskMaster can see."
            )
        found = _get(reply.data, "fields")
        values: dict[str, Any] = found if isinstance(found, dict) else {}
        real_key = str(_get(reply.data, "key") or key)  # a moved issue answers with its new key
        description = values.get("description")
        criteria = adf.acceptance_criteria(description)
        if not criteria and field_id:
            criteria = _field_items(values.get(field_id))
        return Ticket(
            key=real_key,
            title=str(values.get("summary") or real_key),
            description=adf.to_markdown(description),
            type=_name(values.get("issuetype")),
            priority=_name(values.get("priority")),
            status=_name(values.get("status")),
            labels=tuple(str(label) for label in values.get("labels") or ()),
            components=tuple(n for c in values.get("components") or () if (n := _name(c))),
            acceptance_criteria=criteria,
            url=f"{self.base_url}/browse/{real_key}",
        )

    async def comment(self, ticket: Ticket, pull_request: PullRequest) -> str:
        _check_key(ticket.key)
        path = f"/rest/api/3/issue/{ticket.key}/comment"
        existing = await self._find_comment(path, pull_request.url)
        if existing is not None:
            return existing
        body = adf.link_comment(
            f"TaskMaster opened pull request #{pull_request.number}: ",
            pull_request.title,
            pull_request.url,
        )
        reply = await self.api.call("POST", path, json_body={"body": body})
        return str(_get(reply.data, "id"))

    async def note(self, ticket: Ticket, text: str) -> str:
        _check_key(ticket.key)
        body = adf.paragraph_comment(text)
        reply = await self.api.call(
            "POST", f"/rest/api/3/issue/{ticket.key}/comment", json_body={"body": body}
        )
        return str(_get(reply.data, "id"))

    async def _find_comment(self, path: str, url: str) -> str | None:
        start = 0
        while True:
            params = {"startAt": str(start), "maxResults": str(_PAGE), "orderBy": "created"}
            page = (await self.api.call("GET", path, params=params)).data or {}
            comments = [c for c in page.get("comments") or () if isinstance(c, dict)]
            for comment in comments:
                if url in adf.to_markdown(comment.get("body")):
                    return str(comment.get("id"))
            start += len(comments)
            if not comments or start >= int(page.get("total") or 0):
                return None

    async def transition(self, ticket: Ticket) -> str | None:
        wanted = self.transition_name
        if not wanted:
            return None
        _check_key(ticket.key)
        path = f"/rest/api/3/issue/{ticket.key}"
        current = await self.api.call("GET", path, params={"fields": "status"})
        status = _name(_get(current.data, "fields", "status"))
        if status and status.casefold() == wanted.casefold():
            return status  # already there: moving again would fail or loop
        reply = await self.api.call("GET", f"{path}/transitions")
        options = [t for t in _get(reply.data, "transitions") or () if isinstance(t, dict)]
        for option in options:
            target = _name(option.get("to"))
            if wanted.casefold() in {
                str(option.get("name", "")).casefold(),
                (target or "").casefold(),
            }:
                await self.api.call(
                    "POST",
                    f"{path}/transitions",
                    json_body={"transition": {"id": option.get("id")}},
                )
                return target or str(option.get("name"))
        available = ", ".join(str(o.get("name")) for o in options) or "none"
        raise TaskmasterError(
            ErrorKind.INVALID_INPUT,
            f"JIRA_TRANSITION {wanted!r} is not available for {ticket.key}; available: {available}",
        )

    async def _acceptance_field_id(self) -> str | None:
        """The field id of JIRA_ACCEPTANCE_FIELD, which may also be given by its display name."""
        wanted = self.acceptance_field
        if not wanted or _FIELD_ID.match(wanted):
            return wanted or None
        if self._acceptance_id is None:
            fields = (await self.api.call("GET", "/rest/api/3/field")).data or []
            names = {
                str(label).casefold(): str(f["id"])
                for f in fields
                if isinstance(f, dict) and "id" in f
                for label in (f["id"], f.get("name", ""))
            }
            if wanted.casefold() not in names:
                raise TaskmasterError(
                    ErrorKind.INVALID_INPUT,
                    f"JIRA_ACCEPTANCE_FIELD {wanted!r} is not a field in Jira at {self.api.host}",
                )
            self._acceptance_id = names[wanted.casefold()]
        return self._acceptance_id


def _check_key(key: str) -> None:
    """A key goes into URL paths: refuse anything but a plain key before any request."""
    if not TICKET_KEY.match(key):
        raise TaskmasterError(ErrorKind.INVALID_INPUT, f"{key!r} is not a ticket key.")


def _get(data: Any, *path: str) -> Any:
    for part in path:
        data = data.get(part) if isinstance(data, dict) else None
    return data


def _name(value: Any) -> str | None:
    """Jira's objects (issue type, priority, status, component) carry their label in `name`."""
    name = _get(value, "name")
    return str(name) if name else None


def _field_items(value: Any) -> tuple[str, ...]:
    """Acceptance criteria from a custom field: ADF, plain text, or a multi-value list."""
    if isinstance(value, list):
        values = (v.get("value") if isinstance(v, dict) else v for v in value)
        return tuple(str(v).strip() for v in values if v and str(v).strip())
    return adf.list_items(value)
