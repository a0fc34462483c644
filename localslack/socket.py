"""Socket Mode: Slack's WebSocket delivery, for apps that have no public URL.

The app calls `apps.connections.open` with its app-level token (`xapp-`) and gets a
`ws://` URL; once connected it is sent `hello`, then an envelope for every slash
command, interaction and event:

    {"envelope_id": "...", "type": "slash_commands" | "interactive" | "events_api",
     "payload": {...}, "accepts_response_payload": true, "retry_attempt": 0}

and answers each with `{"envelope_id": "...", "payload": {...}}` (the payload is what
an HTTP app would have put in its response body). An envelope not acked within the
ack deadline is what Slack shows the person as a failure.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import web

from localslack.state import APP_ID, JSON, ApiError

log = logging.getLogger(__name__)

ACK_WAIT = 10.0  # seconds LocalSlack waits for an ack (Slack shows an error after 3)
Kind = str  # "slash_commands" | "interactive" | "events_api"


class SocketMode:
    """Issues connection URLs, keeps the app's one WebSocket, sends envelopes and waits for acks."""

    def __init__(self, *, app_token: str | None, base_url: Callable[[], str]) -> None:
        self.app_token = app_token
        self.base_url = base_url
        self._tickets: set[str] = set()
        self._socket: web.WebSocketResponse | None = None
        self._acks: dict[str, asyncio.Future[JSON]] = {}
        self.connections = 0  # how many times an app connected (tests read it)
        self.connected = asyncio.Event()

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/socket/{ticket}", self.accept)]

    # -- apps.connections.open -----------------------------------------------------------------

    def open_connection(self, params: JSON) -> JSON:
        """A one-use WebSocket URL (the Web API checked the app-level token already)."""
        if self.app_token is None:
            raise ApiError("socket_mode_not_enabled")
        ticket = secrets.token_urlsafe(12)
        self._tickets.add(ticket)
        url = self.base_url().replace("http://", "ws://", 1) + f"/socket/{ticket}"
        return {"url": f"{url}?app_id={APP_ID}"}

    # -- the connection ------------------------------------------------------------------------

    @property
    def active(self) -> bool:
        return self._socket is not None and not self._socket.closed

    async def accept(self, request: web.Request) -> web.StreamResponse:
        ticket = request.match_info["ticket"]
        if ticket not in self._tickets:
            return web.Response(status=401, text="invalid_ticket")
        self._tickets.discard(ticket)
        socket = web.WebSocketResponse(autoping=True, heartbeat=None)
        await socket.prepare(request)
        previous, self._socket = self._socket, socket
        if previous is not None and not previous.closed:
            await previous.close()
        self.connections += 1
        await socket.send_json(
            {
                "type": "hello",
                "num_connections": 1,
                "debug_info": {"host": "localslack", "approximate_connection_time": 18060},
                "connection_info": {"app_id": APP_ID},
            }
        )
        self.connected.set()
        try:
            async for message in socket:
                if message.type == aiohttp.WSMsgType.TEXT:
                    self._acked(message.data)
        finally:
            if self._socket is socket:
                self._socket = None
                self.connected.clear()
        return socket

    def _acked(self, data: str) -> None:
        try:
            ack = json.loads(data)
        except ValueError:
            log.warning("Socket Mode: the app sent something that is not JSON")
            return
        waiting = (
            self._acks.pop(str(ack.get("envelope_id")), None) if isinstance(ack, dict) else None
        )
        if waiting is not None and not waiting.done():
            payload = ack.get("payload")
            waiting.set_result(payload if isinstance(payload, dict) else {})

    async def send(self, kind: Kind, payload: JSON) -> tuple[int, str, float]:
        """Send one envelope; (200, the ack's payload as JSON text, seconds) or a timeout."""
        socket = self._socket
        if socket is None or socket.closed:
            raise RuntimeError("no app is connected in Socket Mode")
        envelope_id = secrets.token_hex(16)
        acked: asyncio.Future[JSON] = asyncio.get_running_loop().create_future()
        self._acks[envelope_id] = acked
        started = time.perf_counter()
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind != "events_api",
            "retry_attempt": 0,
            "retry_reason": "",
        }
        await socket.send_str(json.dumps(envelope))
        try:
            answer = await asyncio.wait_for(acked, ACK_WAIT)
        except TimeoutError:
            self._acks.pop(envelope_id, None)
            return 504, "", time.perf_counter() - started
        body = json.dumps(answer) if answer else ""
        return 200, body, time.perf_counter() - started

    async def disconnect(self, reason: str = "warning") -> None:
        """Ask the app to reconnect, as Slack does before it recycles a connection."""
        if self._socket is not None and not self._socket.closed:
            await self._socket.send_json({"type": "disconnect", "reason": reason})

    async def close(self) -> None:
        for waiting in self._acks.values():
            waiting.cancel()
        self._acks.clear()
        if self._socket is not None and not self._socket.closed:
            await self._socket.close()
