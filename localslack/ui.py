"""The web page: a Slack-like view of one channel, served by LocalSlack at `/`.

The page reads what its person sees (`snapshot`) from `/ui/state`, and gets it again,
pushed as Server-Sent Events from `/ui/events`, after every change. What the person
does goes back through the same delivery paths as `LocalSlack.slash_command`, `click`
and `submit_view`, so the app cannot tell the page from a test.

The `/ui/*` endpoints that act take JSON bodies only: a browser sends
`Content-Type: application/json` across origins only after a CORS preflight, which
this server never grants, so another site open in the same browser cannot drive them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

import aiohttp
from aiohttp import web

from localslack.agents import AgentSurface
from localslack.changes import Changes
from localslack.delivery import ACK_DEADLINE, DeliveryResult
from localslack.snapshot import snapshot
from localslack.state import JSON, ApiError, User, Workspace

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
CONTENT_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
}
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: http: https:;"
    " connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
HEARTBEAT = 15.0  # seconds between SSE comments on a quiet stream, so dead peers are noticed
COALESCE = 0.03  # seconds to let a burst of changes settle before sending one snapshot
DEFAULT_SUGGESTIONS = ("/taskmaster help",)


class Backend(Protocol):
    """What the page needs from LocalSlack: its state, its changes, and its deliveries."""

    workspace: Workspace
    changes: Changes
    agents: AgentSurface

    async def slash_command(
        self, text: str, *, user: str, channel: str, command: str
    ) -> DeliveryResult: ...

    async def click(
        self, channel: str, message_ts: str, action_id: str, *, user: str, value: str | None
    ) -> DeliveryResult: ...

    async def submit_view(
        self, view_id: str, values: dict[str, dict[str, str]], *, user: str
    ) -> DeliveryResult: ...

    async def stop_session(self, channel: str, thread_ts: str, *, user: str) -> JSON: ...

    async def agent_command(
        self, channel: str, command: str, text: str = "", *, user: str
    ) -> DeliveryResult: ...


Action = Callable[[User, JSON], Awaitable[JSON]]
"""What the page asks for: the person acting, the JSON body; answers JSON."""


class BadInput(Exception):
    """A request from the page that makes no sense (HTTP 400)."""


class Ui:
    """Routes of the page; `commands` are the slash commands the app has registered."""

    def __init__(self, backend: Backend, *, channel: str = "C_GENERAL") -> None:
        self.backend = backend
        self.channel = channel
        self.commands: set[str] = {"/taskmaster"}
        self.suggestions: list[str] = list(DEFAULT_SUGGESTIONS)
        self.notice: str | None = None  # one line the page shows above the channel
        self._closing = False

    @property
    def ws(self) -> Workspace:
        return self.backend.workspace

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/", self.index),
            web.get("/static/{name}", self.static),
            web.get("/archives/{channel}/{message}", self.archives),
            web.get("/ui/state", self.state),
            web.get("/ui/events", self.events),
            web.post("/ui/command", self._acting(self.command)),
            web.post("/ui/message", self._acting(self.message)),
            web.post("/ui/click", self._acting(self.click)),
            web.post("/ui/react", self._acting(self.react)),
            web.post("/ui/submit", self._acting(self.submit)),
            web.post("/ui/close", self._acting(self.close_view)),
            web.post("/ui/stop", self._acting(self.stop)),
        ]

    async def close(self) -> None:
        """End the event streams, so the server can stop without waiting for browsers."""
        self._closing = True
        await self.backend.changes.notify()

    # -- the page ------------------------------------------------------------------------------

    async def index(self, _: web.Request) -> web.FileResponse:
        return _file(STATIC_DIR / "index.html", {"Content-Security-Policy": CSP})

    async def static(self, request: web.Request) -> web.FileResponse:
        name = request.match_info["name"]
        path = STATIC_DIR / name
        if "/" in name or name.startswith(".") or path.suffix not in CONTENT_TYPES:
            raise web.HTTPNotFound()
        if not path.is_file():  # a stat of a local file: not worth a thread
            raise web.HTTPNotFound()
        return _file(path, {})

    async def archives(self, request: web.Request) -> web.Response:
        """A permalink (`chat.getPermalink`) opens the page on the message's thread."""
        thread = request.query.get("thread_ts")
        if thread is None:
            digits = request.match_info["message"].removeprefix("p")
            thread = f"{digits[:-6]}.{digits[-6:]}" if digits.isdigit() else ""
        raise web.HTTPFound(f"/?thread={thread}" if re.fullmatch(r"\d+\.\d+", thread) else "/")

    async def state(self, request: web.Request) -> web.Response:
        return web.json_response(self._snapshot(self._viewer(request), self._shown(request)))

    async def events(self, request: web.Request) -> web.StreamResponse:
        """Server-Sent Events: a `state` event with the snapshot whenever it changes."""
        user, channel = self._viewer(request), self._shown(request)
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        changes, last, seen = self.backend.changes, "", -1
        try:
            while not self._closing:
                if changes.version != seen:
                    seen = changes.version
                    body = json.dumps(self._snapshot(user, channel), separators=(",", ":"))
                    if body != last:
                        await response.write(f"event: state\ndata: {body}\n\n".encode())
                        last = body
                elif not await changes.wait_past(seen, HEARTBEAT):
                    await response.write(b": ping\n\n")
                else:
                    await asyncio.sleep(COALESCE)
        except ConnectionResetError:  # the page went away
            pass
        return response

    # -- what the person does ------------------------------------------------------------------

    async def command(self, user: User, body: JSON) -> JSON:
        text = _text(body, "text").strip()
        channel = self._channel(body)
        command, _, rest = text.partition(" ")
        if not command.startswith("/") or len(command) < 2:
            raise BadInput("a slash command starts with /")
        if self.backend.agents.command_registered(channel, command):
            delivery = self.backend.agent_command(channel, command, rest.strip(), user=user.id)
        elif command in self.commands:
            delivery = self.backend.slash_command(
                rest.strip(), user=user.id, channel=channel, command=command
            )
        else:
            self.ws.add_ephemeral(
                channel,
                user.id,
                text=f"`{_escape(command)}` is not a valid command. In LocalSlack, "
                'all messages that start with the "/" character are interpreted as commands.',
            )
            return {"ok": False, "error": "unknown_command", "shown": True}
        error = await self._deliver(delivery)
        if error is not None:
            self.ws.add_ephemeral(
                channel, user.id, text=f'`{_escape(command)}` failed with the error "{error}"'
            )
            return {"ok": False, "error": error, "shown": True}
        return {"ok": True}

    async def message(self, user: User, body: JSON) -> JSON:
        text = _text(body, "text").strip()
        if not text:
            raise BadInput("empty message")
        thread_ts = body.get("thread_ts") or None
        try:
            message = self.ws.post(
                self._channel(body),
                thread_ts=str(thread_ts) if thread_ts else None,
                text=_escape(text),
                user=user.id,
                bot_id=None,
            )
        except ApiError as error:
            raise BadInput(error.code) from error
        return {"ok": True, "ts": message.ts}

    async def click(self, user: User, body: JSON) -> JSON:
        value = body.get("value")
        error = await self._deliver(
            self.backend.click(
                self._channel(body),
                _text(body, "ts"),
                _text(body, "action_id"),
                user=user.id,
                value=str(value) if value is not None else None,
            )
        )
        return {"ok": error is None, "error": error}

    async def react(self, user: User, body: JSON) -> JSON:
        """The person adds a reaction; the app hears of it as `reaction_added`."""
        try:
            self.ws.add_reaction(
                user.id, self._channel(body), _text(body, "ts"), _text(body, "name")
            )
        except ApiError as error:
            return {"ok": False, "error": error.code}
        return {"ok": True}

    async def submit(self, user: User, body: JSON) -> JSON:
        view_id, values = _text(body, "view_id"), body.get("values")
        if not isinstance(values, dict) or not all(
            isinstance(inputs, dict) and all(isinstance(v, str) for v in inputs.values())
            for inputs in values.values()
        ):
            raise BadInput("values must be {block_id: {action_id: text}}")
        error = await self._deliver(self.backend.submit_view(view_id, values, user=user.id))
        errors = None
        if error is None:
            view = self.ws.view(view_id)
            errors = view.errors if view.is_open else None
        return {"ok": error is None, "error": error, "errors": errors}

    async def stop(self, user: User, body: JSON) -> JSON:
        """The person clicks Stop on a processing agent session: `agent_session_stopped`."""
        try:
            await self.backend.stop_session(
                self._channel(body), _text(body, "thread_ts"), user=user.id
            )
        except LookupError:
            return {"ok": False, "error": "not_processing"}
        return {"ok": True}

    async def close_view(self, user: User, body: JSON) -> JSON:
        """The person closed the modal (no `view_closed` is sent: no app here asks for it)."""
        view_id = _text(body, "view_id")
        for view in self.ws.views:
            if view.id == view_id and view.user == user.id:
                view.is_open = False
        return {"ok": True}

    # -- plumbing ------------------------------------------------------------------------------

    async def _deliver(self, delivery: Awaitable[DeliveryResult]) -> str | None:
        """Deliver; None if the app acked in time, else the error Slack would show."""
        try:
            result = await delivery
        except LookupError as error:
            log.info("stale interaction from the page: %s", error)
            return "not_found"
        except RuntimeError as error:  # no app_url: nothing to deliver to
            log.warning("%s", error)
            return "dispatch_failed"
        except (aiohttp.ClientError, TimeoutError) as error:
            log.warning("delivery to the app failed: %r", error)
            return "dispatch_failed"
        if result.status != 200:
            return f"http_error_{result.status}"
        if result.elapsed >= ACK_DEADLINE:
            return "operation_timeout"
        return None

    def _acting(self, action: Action) -> Callable[[web.Request], Awaitable[web.Response]]:
        """Wrap an action: a JSON body naming a person of the workspace, a JSON answer."""

        async def handle(request: web.Request) -> web.Response:
            if request.content_type != "application/json":
                return web.json_response({"ok": False, "error": "json_only"}, status=415)
            try:
                body: Any = await request.json()
            except ValueError:
                body = None
            if not isinstance(body, dict):
                return web.json_response({"ok": False, "error": "invalid_json"}, status=400)
            person = self.ws.users.get(str(body.get("user", "")))
            if person is None or person.is_bot:
                return web.json_response({"ok": False, "error": "user_not_found"}, status=400)
            try:
                answer = await action(person, body)
            except BadInput as bad:
                return web.json_response({"ok": False, "error": str(bad)}, status=400)
            return web.json_response(answer)

        return handle

    def _snapshot(self, user: str, channel: str | None = None) -> JSON:
        return snapshot(
            self.ws,
            user,
            channel or self.channel,
            suggestions=self.suggestions,
            notice=self.notice,
            agents=self.backend.agents,
        )

    def _shown(self, request: web.Request) -> str:
        """The channel the page shows: `?channel=` when it names one, else the default."""
        wanted = request.query.get("channel", "")
        room = self.ws.channels.get(wanted)
        return room.id if room is not None and not room.is_im else self.channel

    def _viewer(self, request: web.Request) -> str:
        """Who the page shows: `?user=` by id or name; the first person if unknown."""
        wanted = request.query.get("user", "")
        people = [u for u in self.ws.users.values() if not u.is_bot]
        if not people:
            raise web.HTTPNotFound(text="this workspace has nobody in it")
        chosen = next((u for u in people if wanted in (u.id, u.name)), people[0])
        return chosen.id

    def _channel(self, body: JSON) -> str:
        try:
            return self.ws.channel(str(body.get("channel") or self.channel)).id
        except ApiError as error:
            raise BadInput(error.code) from error


def _text(body: JSON, name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise BadInput(f"{name} is required")
    return value


def _escape(text: str) -> str:
    """Slack's escaping of what people type: &, < and > become entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _file(path: Path, headers: dict[str, str]) -> web.FileResponse:
    content_type = CONTENT_TYPES[path.suffix] + ("; charset=utf-8" if path.suffix != ".svg" else "")
    return web.FileResponse(
        path,
        headers={
            "Content-Type": content_type,
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
            **headers,
        },
    )
