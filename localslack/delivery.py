"""What Slack sends to the app: signed slash commands and interactions, and the response_urls.

Each delivery is a real signed HTTP POST to `app_url`, so the app's own signature check,
ack timing and payload parsing are exercised exactly as in production.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from localslack.blockkit import input_block_ids
from localslack.blocks import check_message, check_view, find_action
from localslack.params import flag
from localslack.signing import signed_headers
from localslack.socket import SocketMode
from localslack.state import APP_ID, JSON, ApiError, Ephemeral, Message, User, View, Workspace

VERIFICATION_TOKEN = "local-verification-token"
ACK_DEADLINE = 3.0  # seconds Slack waits for an ack before it shows the user an error


@dataclass
class DeliveryResult:
    """The app's answer to one delivery; `elapsed` is the ack time Slack would measure."""

    status: int
    body: str
    elapsed: float
    payload: JSON = field(default_factory=dict)

    @property
    def json(self) -> Any:
        try:
            return json.loads(self.body) if self.body.strip() else None
        except ValueError:
            return None

    @property
    def acked_in_time(self) -> bool:
        return self.status == 200 and self.elapsed < ACK_DEADLINE


@dataclass(frozen=True)
class _ResponseTarget:
    """Where a response_url's messages land: the channel, the user, the source message."""

    channel: str
    user: str
    message_ts: str | None = None
    thread_ts: str | None = None
    ephemeral: bool = False


class Delivery:
    """Builds Slack's payloads, signs and POSTs them, and serves the response_urls it hands out."""

    def __init__(
        self,
        ws: Workspace,
        *,
        signing_secret: str,
        base_url: Callable[[], str],
        socket: SocketMode,
    ) -> None:
        self.ws = ws
        self.signing_secret = signing_secret
        self.socket = socket  # when an app is connected in Socket Mode, deliveries go there
        self.base_url = base_url  # a callable: the port is known only after start()
        self.app_url: str | None = None
        self._targets: dict[str, _ResponseTarget] = {}
        self._session: aiohttp.ClientSession | None = None
        self.sent: list[SentRequest] = []  # every signed HTTP delivery, as sent

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/response/{response_id}", self.respond)]

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- deliveries ----------------------------------------------------------------------------

    async def slash_command(
        self, text: str, *, user: str, channel: str, command: str
    ) -> DeliveryResult:
        person, room = self._user(user), self.ws.channel(channel)
        form = {
            "token": VERIFICATION_TOKEN,
            "team_id": self.ws.team_id,
            "team_domain": "localslack",
            "channel_id": room.id,
            "channel_name": room.name,
            "user_id": person.id,
            "user_name": person.name,
            "command": command,
            "text": text,
            "api_app_id": APP_ID,
            "is_enterprise_install": "false",
            "response_url": self._response_url(_ResponseTarget(room.id, person.id)),
            "trigger_id": self.ws.issue_trigger(person.id),
        }
        result = await self._post(urlencode(form).encode(), form, "slash_commands")
        reply = result.json if result.status == 200 else None
        if isinstance(reply, dict):
            # Slack shows an ack body like a response_url message (ephemeral by default).
            try:
                self._apply(_ResponseTarget(room.id, person.id), reply)
            except ApiError as error:
                self.ws.refuse(f"slash command ack: {error}")
        elif result.status == 200 and result.body.strip():
            self.ws.add_ephemeral(room.id, person.id, text=result.body)
        return result

    async def click(
        self, channel: str, message_ts: str, action_id: str, *, user: str, value: str | None
    ) -> DeliveryResult:
        person = self._user(user)
        message, ephemeral = self._clicked(channel, message_ts, person.id)
        blocks = message.blocks if message is not None else ephemeral.blocks if ephemeral else None
        block_id, element = find_action(blocks, action_id)
        action: JSON = {
            "type": element.get("type", "button"),
            "action_id": action_id,
            "block_id": block_id,
            "action_ts": self.ws.next_ts(),
        }
        for key in ("text", "style"):
            if key in element:
                action[key] = element[key]
        chosen = value if value is not None else element.get("value")
        if chosen is not None:
            action["value"] = chosen
        if message is not None:
            where = _ResponseTarget(message.channel, person.id, message.ts, message.thread_ts)
            container = _container(message)
            extra: JSON = {"message": message.to_dict()}
        else:
            assert ephemeral is not None
            where = _ResponseTarget(
                ephemeral.channel, person.id, ephemeral.message_ts, ephemeral.thread_ts, True
            )
            container = {
                "type": "message",
                "message_ts": ephemeral.message_ts,
                "channel_id": ephemeral.channel,
                "is_ephemeral": True,
            }
            extra = {}
        payload = {
            **self._common("block_actions", person),
            "container": container,
            "channel": {"id": where.channel, "name": self.ws.channel(where.channel).name},
            **extra,
            "state": {"values": {}},
            "response_url": self._response_url(where),
            "actions": [action],
        }
        return await self._post_payload(payload)

    def _clicked(
        self, channel: str, ts: str, user: str
    ) -> tuple[Message, None] | tuple[None, Ephemeral]:
        """The message clicked: one in the channel, or an ephemeral only `user` sees."""
        try:
            return self.ws.find(channel, ts), None
        except ApiError:
            pass
        for ephemeral in self.ws.ephemerals:
            if ephemeral.message_ts == ts and ephemeral.user == user:
                return None, ephemeral
        raise LookupError(f"no message {ts} in {channel}")

    async def submit_view(
        self, view_id: str, values: dict[str, dict[str, str]], *, user: str
    ) -> DeliveryResult:
        person = self._user(user)
        try:
            view = self.ws.view(view_id)
        except ApiError as error:
            raise LookupError(f"no view {view_id}") from error
        if not view.is_open:
            raise LookupError(f"view {view_id} is closed")
        block_ids = {b.get("block_id") for b in view.view.get("blocks", [])}
        missing = set(values) - block_ids
        if missing:
            raise LookupError(f"view {view_id} has no blocks {sorted(missing)}")
        state = {
            block_id: {
                action_id: {"type": "plain_text_input", "value": text}
                for action_id, text in inputs.items()
            }
            for block_id, inputs in values.items()
        }
        too_long = _length_errors(view.view, values)
        if too_long:  # Slack's client says so under the field and sends nothing
            view.errors = too_long
            return DeliveryResult(200, "", 0.0, {})
        payload = {
            **self._common("view_submission", person),
            "view": {**view.view, "state": {"values": state}},
            "response_urls": [],
        }
        result = await self._post_payload(payload)
        if result.status == 200:
            self._apply_view_response(view, result.json, person.id)
        return result

    def _apply_view_response(self, view: View, reply: Any, user: str) -> None:
        """Slack's response_action semantics: errors keep it open, update/push/clear change it.

        An answer Slack would not take leaves the modal open, as Slack does (it shows
        the person an error), and is recorded as a refusal.
        """
        action = reply.get("response_action") if isinstance(reply, dict) else None
        try:
            if action == "errors":
                view.errors = _view_errors(view, reply.get("errors"))
            elif action == "update":
                self.ws.replace_view(view, check_view(reply.get("view"), at="/view"))
            elif action == "push":
                self.ws.open_view(check_view(reply.get("view"), at="/view"), user)
            elif action not in (None, "clear"):
                raise ApiError("invalid_view_response", [f"unknown response_action: {action}"])
        except ApiError as error:
            self.ws.refuse(f"view_submission ack: {error}")
            return
        if action in ("errors", "update", "push"):
            return
        if action == "clear":
            for other in self.ws.views:
                if other.user == user:
                    other.is_open = False
        else:
            view.is_open = False

    # -- response_url --------------------------------------------------------------------------

    async def respond(self, request: web.Request) -> web.Response:
        target = self._targets.get(request.match_info["response_id"])
        if target is None:
            return web.Response(status=404, text="expired_url")
        try:
            body = await request.json()
        except ValueError:
            return web.Response(status=400, text="invalid_payload")
        if not isinstance(body, dict):
            return web.Response(status=400, text="invalid_payload")
        self.ws.responses.append(body)
        try:
            self._apply(target, body)
        except ApiError as error:
            if error.code != "message_not_found":
                self.ws.refuse(f"response_url: {error}")
            return web.Response(
                status=400 if error.code != "message_not_found" else 404, text=error.code
            )
        return web.Response(text="ok")

    def _apply(self, target: _ResponseTarget, body: JSON) -> None:
        text, blocks = str(body.get("text") or ""), body.get("blocks") or None
        if flag(body.get("delete_original")) and target.message_ts:
            if target.ephemeral:
                self.ws.ephemerals[:] = [
                    e for e in self.ws.ephemerals if e.message_ts != target.message_ts
                ]
            else:
                self.ws.delete(target.channel, target.message_ts)
            return
        check_message(text, blocks)
        if flag(body.get("replace_original")) and target.ephemeral:
            for ephemeral in self.ws.ephemerals:
                if ephemeral.message_ts == target.message_ts:
                    ephemeral.text, ephemeral.blocks = text, blocks
            return
        if flag(body.get("replace_original")) and target.message_ts:
            message = self.ws.find(target.channel, target.message_ts)
            message.text, message.blocks = text, blocks
            message.edited = {"user": message.user, "ts": self.ws.next_ts()}
        elif body.get("response_type") == "in_channel":
            self.ws.post(target.channel, thread_ts=body.get("thread_ts"), text=text, blocks=blocks)
        else:
            thread_ts = body.get("thread_ts") or target.thread_ts
            self.ws.add_ephemeral(
                target.channel, target.user, text=text, blocks=blocks, thread_ts=thread_ts
            )

    # -- plumbing ------------------------------------------------------------------------------

    def _user(self, user_id: str) -> User:
        try:
            return self.ws.user(user_id)
        except ApiError as error:
            raise LookupError(f"no user {user_id}") from error

    def _common(self, kind: str, person: User) -> JSON:
        return {
            "type": kind,
            "team": {"id": self.ws.team_id, "domain": "localslack"},
            "user": {
                "id": person.id,
                "username": person.name,
                "name": person.name,
                "team_id": self.ws.team_id,
            },
            "api_app_id": APP_ID,
            "token": VERIFICATION_TOKEN,
            "trigger_id": self.ws.issue_trigger(person.id),
            "is_enterprise_install": False,
            "enterprise": None,
        }

    def _response_url(self, target: _ResponseTarget) -> str:
        response_id = self.ws.next_id("R")
        self._targets[response_id] = target
        return f"{self.base_url()}/response/{response_id}"

    async def _post_payload(self, payload: JSON) -> DeliveryResult:
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return await self._post(body, payload, "interactive")

    async def event(self, callback: JSON) -> int:
        """Deliver one Events API `event_callback`; the app's status (200 when acked)."""
        if self.socket.active:
            status, _, _ = await self.socket.send("events_api", callback)
            return status
        body = json.dumps(callback).encode()
        result = await self._http(body, callback, "application/json")
        return result.status

    async def _post(self, body: bytes, sent: JSON, kind: str) -> DeliveryResult:
        if self.socket.active:
            status, text, elapsed = await self.socket.send(kind, sent)
            return DeliveryResult(status, text, elapsed, sent)
        return await self._http(body, sent, "application/x-www-form-urlencoded")

    async def _http(self, body: bytes, sent: JSON, content_type: str) -> DeliveryResult:
        headers = {
            "Content-Type": content_type,
            **signed_headers(self.signing_secret, body),
        }
        self.sent.append(SentRequest(body, headers))
        return await self.resend(SentRequest(body, headers), sent=sent)

    async def resend(
        self,
        request: SentRequest,
        *,
        headers: dict[str, str] | None = None,
        sent: JSON | None = None,
    ) -> DeliveryResult:
        """POST `request` to the app again, byte for byte (Slack's retry, or a replay by
        someone who saw it), with `headers` added (`X-Slack-Retry-Num`, say)."""
        if not self.app_url:
            raise RuntimeError("LocalSlack.app_url is not set: where should Slack deliver this?")
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        started = time.perf_counter()
        async with self._session.post(
            self.app_url, data=request.body, headers={**request.headers, **(headers or {})}
        ) as response:
            text = await response.text()
        return DeliveryResult(response.status, text, time.perf_counter() - started, sent or {})


def _length_errors(view: JSON, values: dict[str, dict[str, str]]) -> dict[str, str]:
    """What Slack's client says before sending a submission whose text breaks a field's limits."""
    errors = {}
    for block in view.get("blocks") or []:
        element = block.get("element") if isinstance(block, dict) else None
        if not isinstance(element, dict):
            continue
        text = values.get(str(block.get("block_id")), {}).get(str(element.get("action_id")))
        if text is None:
            continue
        high, low = element.get("max_length"), element.get("min_length")
        if isinstance(high, int) and len(text) > high:
            errors[str(block["block_id"])] = f"Must be at most {high} characters."
        elif isinstance(low, int) and 0 < len(text) < low:
            errors[str(block["block_id"])] = f"Must be at least {low} characters."
    return errors


def _view_errors(view: View, errors: Any) -> dict[str, str]:
    """`response_action: errors`: each key an input block of the view, each text at most 2000."""
    if not isinstance(errors, dict) or not errors:
        raise ApiError("invalid_view_response", ["errors must be an object [json-pointer:/errors]"])
    inputs = input_block_ids(view.view)
    problems = [
        f"no input block {key!r} in the view [json-pointer:/errors/{key}]"
        for key in errors
        if key not in inputs
    ]
    problems += [
        f"must be less than 2001 characters [json-pointer:/errors/{key}]"
        for key, text in errors.items()
        if not isinstance(text, str) or len(text) > 2000
    ]
    if problems:
        raise ApiError("invalid_view_response", problems)
    return {str(key): str(text) for key, text in errors.items()}


def _container(message: Message) -> JSON:
    container: JSON = {
        "type": "message",
        "message_ts": message.ts,
        "channel_id": message.channel,
        "is_ephemeral": False,
    }
    if message.is_reply:
        container["thread_ts"] = message.thread_ts
    return container


@dataclass(frozen=True)
class SentRequest:
    """One signed HTTP request as it was sent to the app."""

    body: bytes
    headers: dict[str, str]
