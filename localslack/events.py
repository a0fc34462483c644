"""Events API: what happens in the workspace, sent to the app when it subscribed to it.

A new message in a channel (`message.channels`: people's and the bot's own, whose
`bot_id` an app must recognise and ignore) and a reaction (`reaction_added`) become
`event_callback` deliveries, in the order they happened, over HTTP (signed JSON) or
Socket Mode (`events_api` envelopes). Edits and deletions send no event here.
Deliveries run in a background task: a Web API call never waits for the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable

from localslack.state import APP_ID, BOT_ID, BOT_USER_ID, JSON, Message, Workspace

log = logging.getLogger(__name__)

Send = Callable[[JSON], Awaitable[int]]
"""Delivers one event_callback; returns the app's HTTP status (200 when acked)."""

KNOWN = frozenset({"message.channels", "reaction_added", "agent_session_stopped"})


class Events:
    def __init__(self, ws: Workspace, send: Send, *, verification_token: str) -> None:
        self.ws = ws
        self.send = send
        self.verification_token = verification_token
        self.subscriptions: set[str] = set()
        self.delivered: list[JSON] = []
        self._queue: asyncio.Queue[JSON] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._ids = 0
        ws.listeners.append(self._observe)

    def subscribe(self, names: Iterable[str]) -> None:
        """The app's bot events (as its manifest lists them); unknown names are a mistake."""
        wanted = set(names)
        unknown = wanted - KNOWN
        if unknown:
            raise ValueError(
                f"LocalSlack sends no {sorted(unknown)} events (it knows {sorted(KNOWN)})"
            )
        self.subscriptions = wanted

    async def drain(self, seconds: float = 10.0) -> None:
        """Wait until every event so far was delivered (or given up)."""
        async with asyncio.timeout(seconds):
            await self._queue.join()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    # -- what happened -------------------------------------------------------------------------

    def _observe(self, kind: str, data: JSON) -> None:
        if kind == "message" and "message.channels" in self.subscriptions:
            message = data["message"]
            assert isinstance(message, Message)
            if not self.ws.channel(message.channel).is_im:
                self._enqueue(_message_event(message, self.ws.team_id))
        elif kind == "reaction_added" and "reaction_added" in self.subscriptions:
            self._enqueue(
                {
                    "type": "reaction_added",
                    "user": data["user"],
                    "reaction": data["name"],
                    "item": {"type": "message", "channel": data["channel"], "ts": data["ts"]},
                    "item_user": data["item_user"],
                    "event_ts": self.ws.next_ts(),
                }
            )

    def send_event(self, name: str, event: JSON) -> None:
        """An event LocalSlack makes itself (a person's click on Stop), if subscribed."""
        if name in self.subscriptions:
            self._enqueue(event)

    def _enqueue(self, event: JSON) -> None:
        self._ids += 1
        callback = {
            "token": self.verification_token,
            "team_id": self.ws.team_id,
            "api_app_id": APP_ID,
            "event": event,
            "type": "event_callback",
            "event_id": f"Ev{self._ids:08d}",
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.ws.team_id,
                    "user_id": BOT_USER_ID,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
        }
        self._queue.put_nowait(callback)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._deliver(), name="localslack-events"
            )

    async def _deliver(self) -> None:
        while True:
            callback = await self._queue.get()
            try:
                status = await self.send(callback)
                if status == 200:
                    self.delivered.append(callback)
                else:
                    log.warning("the app answered %s to event %s", status, callback["event_id"])
            except Exception as error:
                log.warning("event %s not delivered: %r", callback["event_id"], error)
            finally:
                self._queue.task_done()


def _message_event(message: Message, team_id: str) -> JSON:
    event: JSON = {
        "type": "message",
        "channel": message.channel,
        "user": message.user,
        "text": message.text,
        "ts": message.ts,
        "event_ts": message.ts,
        "channel_type": "channel",
        "team": team_id,
    }
    if message.blocks:
        event["blocks"] = message.blocks
    if message.thread_ts and message.thread_ts != message.ts:
        event["thread_ts"] = message.thread_ts
    if message.bot_id:
        event["bot_id"], event["app_id"] = BOT_ID, APP_ID
    if message.files:
        event["subtype"], event["files"] = "file_share", message.files
    return event
