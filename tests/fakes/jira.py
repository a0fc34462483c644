"""A fake Jira Cloud (REST v3): issues, comments, transitions and fields, with basic auth."""

from __future__ import annotations

import base64
import itertools
import json
from typing import Any

from aiohttp import web

from tests.fakes import FakeServer

NOT_FOUND = {
    "errorMessages": ["Issue does not exist or you do not have permission to see it."],
    "errors": {},
}
SYSTEM_FIELDS = (
    "summary",
    "issuetype",
    "priority",
    "labels",
    "components",
    "status",
    "description",
)


def _named(name: str | None) -> dict[str, str] | None:
    return {"name": name} if name else None


class FakeJira(FakeServer):
    """State: `issues` (key -> fields), `comments` (key -> list), `workflow` (transitions)."""

    def __init__(self, email: str = "bot@example.com", token: str = "jira-token") -> None:
        super().__init__()
        self.email = email
        self.token = token
        self.issues: dict[str, dict[str, Any]] = {}
        self.comments: dict[str, list[dict[str, Any]]] = {}
        # (id, name, target status): every transition is available from every other status.
        self.workflow = [
            ("11", "Start progress", "In Progress"),
            ("21", "Ready for review", "In Review"),
            ("31", "Done", "Done"),
        ]
        self.custom_fields: dict[str, str] = {"customfield_10050": "Acceptance Criteria"}
        self.max_results = 50  # Jira caps a page; lower it to exercise paging
        self._ids = itertools.count(10000)
        routes = [
            web.get("/rest/api/3/field", self._fields),
            web.get("/rest/api/3/issue/{key}", self._issue),
            web.get("/rest/api/3/issue/{key}/comment", self._list_comments),
            web.post("/rest/api/3/issue/{key}/comment", self._add_comment),
            web.get("/rest/api/3/issue/{key}/transitions", self._transitions),
            web.post("/rest/api/3/issue/{key}/transitions", self._do_transition),
        ]
        self.app.add_routes(routes)

    def add_issue(
        self,
        key: str,
        summary: str,
        *,
        description: Any = None,
        type: str = "Story",
        priority: str | None = "Medium",
        status: str = "To Do",
        labels: tuple[str, ...] = (),
        components: tuple[str, ...] = (),
        **custom: Any,
    ) -> None:
        self.issues[key] = {
            "summary": summary,
            "issuetype": _named(type),
            "priority": _named(priority),
            "status": {"name": status, "statusCategory": {"key": "new"}},
            "labels": list(labels),
            "components": [{"name": c} for c in components],
            "description": description,
            **custom,
        }
        self.comments.setdefault(key, [])

    def authorized(self, request: web.Request) -> bool:
        expected = base64.b64encode(f"{self.email}:{self.token}".encode()).decode()
        return request.headers.get("Authorization") == f"Basic {expected}"

    def unauthorized(self) -> web.StreamResponse:
        return web.Response(
            status=401, text="Client must be authenticated to access this resource."
        )

    def _found(self, request: web.Request) -> str:
        key = request.match_info["key"]
        if key not in self.issues:
            raise web.HTTPNotFound(text=json.dumps(NOT_FOUND), content_type="application/json")
        return key

    async def _fields(self, request: web.Request) -> web.StreamResponse:
        system = [{"id": f, "name": f.title(), "custom": False} for f in SYSTEM_FIELDS]
        custom = [{"id": i, "name": n, "custom": True} for i, n in self.custom_fields.items()]
        return web.json_response(system + custom)

    async def _issue(self, request: web.Request) -> web.StreamResponse:
        key = self._found(request)
        fields = self.issues[key]
        wanted = request.query.get("fields", "*all")
        if wanted != "*all":
            fields = {name: fields.get(name) for name in wanted.split(",")}
        issue_id = str(10000 + sorted(self.issues).index(key))
        return web.json_response(
            {
                "expand": "renderedFields,names,schema",
                "id": issue_id,
                "self": f"{request.url.origin()}/rest/api/3/issue/{issue_id}",
                "key": key,
                "fields": fields,
            }
        )

    async def _list_comments(self, request: web.Request) -> web.StreamResponse:
        comments = self.comments[self._found(request)]
        start = int(request.query.get("startAt", "0"))
        size = min(int(request.query.get("maxResults", "50")), self.max_results)
        return web.json_response(
            {
                "startAt": start,
                "maxResults": size,
                "total": len(comments),
                "comments": comments[start : start + size],
            }
        )

    async def _add_comment(self, request: web.Request) -> web.StreamResponse:
        key = self._found(request)
        body = (await request.json()).get("body")
        if not isinstance(body, dict) or body.get("type") != "doc":
            return web.json_response(
                {"errorMessages": [], "errors": {"comment": "Comment body is not valid!"}},
                status=400,
            )
        comment = {
            "id": str(next(self._ids)),
            "author": {"displayName": "TaskMaster", "accountId": "bot"},
            "body": body,
            "created": "2024-05-01T10:00:00.000+0000",
        }
        self.comments[key].append(comment)
        return web.json_response(comment, status=201)

    async def _transitions(self, request: web.Request) -> web.StreamResponse:
        key = self._found(request)
        current = self.issues[key]["status"]["name"]
        return web.json_response(
            {
                "expand": "transitions",
                "transitions": [
                    {
                        "id": tid,
                        "name": name,
                        "to": {"id": str(100 + int(tid)), "name": target},
                        "hasScreen": False,
                        "isAvailable": True,
                    }
                    for tid, name, target in self.workflow
                    if target != current
                ],
            }
        )

    async def _do_transition(self, request: web.Request) -> web.StreamResponse:
        key = self._found(request)
        wanted = ((await request.json()).get("transition") or {}).get("id")
        target = next((t for tid, _, t in self.workflow if tid == wanted), None)
        if target is None:
            return web.json_response(
                {"errorMessages": [f"Transition id '{wanted}' is not valid for this issue."]},
                status=400,
            )
        self.issues[key]["status"] = {"name": target, "statusCategory": {"key": "indeterminate"}}
        return web.Response(status=204)


def text(value: str, *marks: dict[str, Any]) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "text", "text": value}
    return {**node, "marks": list(marks)} if marks else node


def para(*content: dict[str, Any]) -> dict[str, Any]:
    return {"type": "paragraph", "content": list(content)}


def heading(value: str, level: int = 2) -> dict[str, Any]:
    return {"type": "heading", "attrs": {"level": level}, "content": [text(value)]}


def item(*content: dict[str, Any]) -> dict[str, Any]:
    blocks = [para(c) if c.get("type") == "text" else c for c in content]
    return {"type": "listItem", "content": blocks}


def bullets(*items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "bulletList", "content": list(items)}


def doc(*content: dict[str, Any]) -> dict[str, Any]:
    return {"type": "doc", "version": 1, "content": list(content)}


LINK = {"type": "link", "attrs": {"href": "https://example.com/spec"}}

# A description the way Jira Cloud stores one: every kind of node the converter knows.
SAMPLE_DESCRIPTION = doc(
    heading("Context"),
    para(
        text("Reported by "),
        {"type": "mention", "attrs": {"id": "5b10a2844c20165700ede21g", "text": "@Ana Lima"}},
        text(": overdue tasks are "),
        text("not", {"type": "strong"}),
        text(" flagged in "),
        text("service.py", {"type": "code"}),
        text(". See "),
        text("the spec", LINK),
        text("."),
        {"type": "hardBreak"},
        text("Second line, "),
        text("emphasised", {"type": "em"}),
    ),
    bullets(
        item(
            text("Steps"),
            {
                "type": "orderedList",
                "attrs": {"order": 1},
                "content": [item(text("open the app")), item(text("create a task"))],
            },
        ),
        item(text("Expected")),
    ),
    {
        "type": "codeBlock",
        "attrs": {"language": "python"},
        "content": [text("def is_overdue(task):\n    return False")],
    },
    {"type": "rule"},
    {"type": "blockquote", "content": [para(text("Quoted"))]},
    heading("Acceptance criteria"),
    bullets(
        item(text("Tasks past their due date are flagged")),
        item(para(text("is_overdue", {"type": "code"}), text(" has tests"))),
        item(text("Works offline"), bullets(item(text("even on a plane")))),
    ),
    heading("Notes"),
    bullets(item(text("Not a criterion"))),
)

SAMPLE_MARKDOWN = """\
## Context

Reported by @Ana Lima: overdue tasks are **not** flagged in `service.py`. \
See [the spec](https://example.com/spec).
Second line, *emphasised*

- Steps
  1. open the app
  2. create a task
- Expected

```python
def is_overdue(task):
    return False
```

---

> Quoted

## Acceptance criteria

- Tasks past their due date are flagged
- `is_overdue` has tests
- Works offline
  - even on a plane

## Notes

- Not a criterion"""

SAMPLE_CRITERIA = (
    "Tasks past their due date are flagged",
    "`is_overdue` has tests",
    "Works offline",
    "even on a plane",
)
