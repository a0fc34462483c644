"""Reading a Web API request the way Slack does: query string, form or JSON body, and token.

slack_sdk sends some methods as JSON (chat.postMessage, views.open), some as a form
(files.completeUploadExternal) and some as GET query strings (chat.getPermalink), and
form fields such as `blocks` arrive as JSON strings; all of it ends up as one dict.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

JSON = dict[str, Any]
JSON_FIELDS = frozenset(
    {"blocks", "attachments", "view", "files", "metadata", "chunks", "commands", "code_channel"}
)


class BadRequest(Exception):
    """The body could not be read (Slack answers `invalid_json` / `invalid_form_data`)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


async def read_params(request: web.Request) -> tuple[JSON, str | None]:
    """Return the call's parameters (JSON fields decoded) and its token, if any."""
    params: JSON = dict(request.query)
    if request.method == "POST" and request.body_exists:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError as error:
                raise BadRequest("invalid_json") from error
            if not isinstance(body, dict):
                raise BadRequest("invalid_json")
            params.update(body)
        else:
            params.update(await _read_form(request))
    for name in JSON_FIELDS & params.keys():
        if isinstance(params[name], str) and params[name].strip():
            try:
                params[name] = json.loads(params[name])
            except ValueError as error:
                raise BadRequest(f"invalid_{name}") from error
    token = params.pop("token", None)
    return params, bearer(request) or (str(token) if token else None)


async def _read_form(request: web.Request) -> JSON:
    try:
        form = await request.post()
    except ValueError as error:
        raise BadRequest("invalid_form_data") from error
    return {name: field_bytes(value) for name, value in form.items()}


def field_bytes(value: str | bytes | bytearray | web.FileField) -> Any:
    """A form field as text, or as bytes when it is a file part."""
    if isinstance(value, str):
        return value
    if isinstance(value, web.FileField):
        return value.file.read()
    return bytes(value)


def bearer(request: web.Request) -> str | None:
    """The token of `Authorization: Bearer <token>`, which is how slack_sdk sends it."""
    header = request.headers.get("Authorization")
    if header and header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return None


def flag(value: Any) -> bool:
    """Slack booleans arrive as true/false, "true"/"false" or "1"/"0"."""
    return value is True or str(value).lower() in {"1", "true"}
