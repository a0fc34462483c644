"""The workspace a LocalSlack serves: people, channels, messages, views, files, and the call log.

Kept apart from HTTP so tests can read and assert on it directly, and so the Web API
handlers and the delivery of interactions share one source of truth.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]


class ApiError(Exception):
    """A Slack error code (`{"ok": false, "error": code}`), raised by state and handlers.

    `problems` say what exactly was refused and where (`must be less than 3001
    characters [json-pointer:/blocks/0/text/text]`); Slack sends them back in
    `response_metadata.messages` (and, for `invalid_blocks`, in `errors`).
    """

    def __init__(self, code: str, problems: Sequence[str] = ()) -> None:
        super().__init__(code if not problems else f"{code}: {problems[0]}")
        self.code = code
        self.problems = tuple(problems)

    def body(self) -> JSON:
        """The answer Slack gives for this error."""
        body: JSON = {"ok": False, "error": self.code}
        if self.problems:
            if self.code == "invalid_blocks":
                body["errors"] = list(self.problems)
            body["response_metadata"] = {"messages": [f"[ERROR] {p}" for p in self.problems]}
        return body


# Errors that say the app sent something Slack does not take (as opposed to a missing
# message, a bad token or a rate limit): a bot that gets one would fail in real Slack.
MALFORMED = frozenset(
    {
        "invalid_arguments",
        "invalid_blocks",
        "invalid_blocks_format",
        "invalid_attachments",
        "msg_too_long",
        "no_text",
        "invalid_json",
        "invalid_form_data",
        "invalid_name",
        "not_allowed_token_type",
        "invalid_view_response",
    }
)


@dataclass(frozen=True)
class User:
    id: str
    name: str
    real_name: str = ""
    is_bot: bool = False


@dataclass(frozen=True)
class Channel:
    id: str
    name: str
    is_im: bool = False


DEFAULT_USERS: tuple[User, ...] = (
    User("U_ANA", "ana", "Ana Alvarez"),
    User("U_BEN", "ben", "Ben Brook"),
    User("U_CHO", "cho", "Cho Chen"),
)
DEFAULT_CHANNELS: tuple[Channel, ...] = (Channel("C_GENERAL", "general"),)

BOT_USER_ID = "U_TASKMASTER"
BOT_ID = "B_TASKMASTER"
APP_ID = "A_TASKMASTER"
BOT_NAME = "taskmaster"


@dataclass
class Message:
    """A message as it stands now; `to_dict()` is the shape Slack returns and sends."""

    channel: str
    ts: str
    text: str = ""
    blocks: list[JSON] | None = None
    attachments: list[JSON] | None = None
    thread_ts: str | None = None
    user: str = BOT_USER_ID
    bot_id: str | None = BOT_ID
    files: list[JSON] | None = None
    metadata: JSON | None = None
    edited: JSON | None = None
    reply_count: int = 0
    reactions: list[JSON] = field(default_factory=list)  # [{"name", "users", "count"}]
    stream: JSON | None = None  # a streamed message's tasks, plan and text (localslack.agents)

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts

    def to_dict(self) -> JSON:
        out: JSON = {"type": "message", "ts": self.ts, "user": self.user, "text": self.text}
        if self.bot_id:
            out["bot_id"] = self.bot_id
            out["app_id"] = APP_ID
        optional = {
            "blocks": self.blocks,
            "attachments": self.attachments,
            "thread_ts": self.thread_ts,
            "files": self.files,
            "metadata": self.metadata,
            "edited": self.edited,
        }
        out.update({k: v for k, v in optional.items() if v is not None})
        if self.reply_count:
            out["reply_count"] = self.reply_count
        if self.reactions:
            out["reactions"] = [dict(r, users=list(r["users"])) for r in self.reactions]
        return out


@dataclass
class Ephemeral:
    """A message only `user` sees; Slack keeps no copy, so this list is the only record."""

    channel: str
    user: str
    text: str = ""
    blocks: list[JSON] | None = None
    thread_ts: str | None = None
    message_ts: str = ""


@dataclass
class View:
    """A modal; `view` is its current JSON as Slack would send it back (with id and hash)."""

    id: str
    view: JSON
    user: str
    is_open: bool = True
    errors: dict[str, str] | None = None

    @property
    def callback_id(self) -> str:
        return str(self.view.get("callback_id", ""))


@dataclass
class UploadedFile:
    """A file from the files_upload_v2 sequence: reserved, uploaded, then shared."""

    id: str
    filename: str
    length: int
    snippet_type: str | None = None
    alt_txt: str | None = None
    title: str | None = None
    content: bytes = b""
    uploaded: bool = False
    channel: str | None = None
    thread_ts: str | None = None
    initial_comment: str | None = None

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def to_dict(self) -> JSON:
        out: JSON = {
            "id": self.id,
            "name": self.filename,
            "title": self.title or self.filename,
            "filetype": self.snippet_type or "text",
            "size": len(self.content),
            "user": BOT_USER_ID,
            "mimetype": "text/plain",
        }
        if self.channel:
            out["channels"] = [self.channel]
        return out


@dataclass
class RecordedCall:
    """One Web API call as received and answered; the order of `LocalSlack.calls` is arrival."""

    method: str
    params: JSON
    status: int = 200
    ok: bool = False
    response: JSON = field(default_factory=dict)


class Workspace:
    """All mutable state of one fake workspace, with Slack's rules on it."""

    def __init__(
        self,
        *,
        team_id: str,
        users: Sequence[User],
        channels: Sequence[Channel],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.team_id = team_id
        self.users: dict[str, User] = {u.id: u for u in users}
        self.users[BOT_USER_ID] = User(BOT_USER_ID, BOT_NAME, "TaskMaster", is_bot=True)
        self.channels: dict[str, Channel] = {c.id: c for c in channels}
        self.clock = clock
        self.trigger_ttl = 3.0
        self.calls: list[RecordedCall] = []
        self.ephemerals: list[Ephemeral] = []
        self.views: list[View] = []
        self.files: list[UploadedFile] = []
        self.responses: list[JSON] = []
        self.refusals: list[str] = []
        self._top: dict[str, list[Message]] = {}
        self._replies: dict[tuple[str, str], list[Message]] = {}
        self._triggers: dict[str, tuple[float, str]] = {}
        self._last_us = 0
        self._ids = itertools.count(1)
        # Called with ("message", {"message": m}) and ("reaction_added", {...}): Events API.
        self.listeners: list[Callable[[str, JSON], None]] = []

    # -- identifiers ---------------------------------------------------------------------------

    def next_ts(self) -> str:
        """A message timestamp: the time now, and unique (one microsecond past the last)."""
        us = max(time.time_ns() // 1000, self._last_us + 1)
        self._last_us = us
        return f"{us // 1_000_000}.{us % 1_000_000:06d}"

    def next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):08d}"

    def issue_trigger(self, user: str) -> str:
        trigger = f"{next(self._ids)}.{self.team_id}.{secrets.token_hex(16)}"
        self._triggers[trigger] = (self.clock(), user)
        return trigger

    def check_trigger(self, trigger_id: Any) -> str:
        """Slack accepts a trigger id only within 3 s of the interaction; returns its user."""
        if not trigger_id:
            raise ApiError("invalid_arguments")
        issued = self._triggers.get(str(trigger_id))
        if issued is None:
            raise ApiError("invalid_trigger_id")
        if self.clock() - issued[0] > self.trigger_ttl:
            raise ApiError("expired_trigger_id")
        return issued[1]

    # -- lookups -------------------------------------------------------------------------------

    def user(self, user_id: str | None) -> User:
        user = self.users.get(user_id or "")
        if user is None:
            raise ApiError("user_not_found")
        return user

    def channel(self, ref: str | None) -> Channel:
        """Resolve an id, a `#name`, a name, or a user id (which means the DM with that user)."""
        ref = (ref or "").lstrip("#")
        if ref in self.channels:
            return self.channels[ref]
        for channel in self.channels.values():
            if channel.name == ref:
                return channel
        if ref in self.users:
            dm = Channel(f"D{ref}", ref, is_im=True)
            return self.channels.setdefault(dm.id, dm)
        raise ApiError("channel_not_found")

    def messages(self, channel: str) -> list[Message]:
        return list(self._top.get(self.channel(channel).id, []))

    def thread(self, channel: str, ts: str) -> list[Message]:
        return list(self._replies.get((self.channel(channel).id, ts), []))

    def all_messages(self) -> Iterator[Message]:
        for top in self._top.values():
            yield from top
        for replies in self._replies.values():
            yield from replies

    def find(self, channel: str, ts: str | None) -> Message:
        channel_id = self.channel(channel).id
        for message in self.all_messages():
            if message.channel == channel_id and message.ts == ts:
                return message
        raise ApiError("message_not_found")

    def file(self, file_id: str) -> UploadedFile | None:
        return next((f for f in self.files if f.id == file_id), None)

    def view(self, view_id: str) -> View:
        for view in self.views:
            if view.id == view_id:
                return view
        raise ApiError("not_found")

    # -- changes -------------------------------------------------------------------------------

    def refuse(self, what: str) -> None:
        """Remember something the app sent that Slack would refuse (tests assert there is none)."""
        self.refusals.append(what)

    def post(self, channel: str, *, thread_ts: str | None = None, **fields: Any) -> Message:
        """Add a message; a reply to a reply goes to the parent's thread, as in Slack."""
        channel_id = self.channel(channel).id
        if thread_ts:
            # Stricter than Slack (which may post an orphan reply): a wrong thread_ts is a bug.
            try:
                parent = self.find(channel_id, thread_ts)
            except ApiError as error:
                raise ApiError("thread_not_found") from error
            root_ts = parent.thread_ts if parent.is_reply and parent.thread_ts else parent.ts
            root = self.find(channel_id, root_ts)
            root.thread_ts = root.ts
            root.reply_count += 1
            message = Message(channel_id, self.next_ts(), thread_ts=root_ts, **fields)
            self._replies.setdefault((channel_id, root_ts), []).append(message)
        else:
            message = Message(channel_id, self.next_ts(), **fields)
            self._top.setdefault(channel_id, []).append(message)
        self._tell("message", {"message": message})
        return message

    def add_reaction(self, user: str, channel: str, ts: str | None, name: str) -> Message:
        """`user` reacts with `:name:`; Slack refuses the same reaction twice."""
        if not name or ":" in name or " " in name:
            raise ApiError("invalid_name")
        message = self.find(channel, ts)
        reaction = next((r for r in message.reactions if r["name"] == name), None)
        if reaction is None:
            reaction = {"name": name, "users": [], "count": 0}
            message.reactions.append(reaction)
        if user in reaction["users"]:
            raise ApiError("already_reacted")
        reaction["users"].append(user)
        reaction["count"] = len(reaction["users"])
        self._tell(
            "reaction_added",
            {
                "user": user,
                "name": name,
                "channel": message.channel,
                "ts": message.ts,
                "item_user": message.user,
            },
        )
        return message

    def _tell(self, kind: str, data: JSON) -> None:
        for listener in self.listeners:
            listener(kind, data)

    def delete(self, channel: str, ts: str) -> Message:
        message = self.find(channel, ts)
        if message.is_reply and message.thread_ts:
            self._replies[(message.channel, message.thread_ts)].remove(message)
            self.find(message.channel, message.thread_ts).reply_count -= 1
        else:
            self._top[message.channel].remove(message)
        return message

    def add_ephemeral(
        self,
        channel: str,
        user: str,
        *,
        text: str = "",
        blocks: list[JSON] | None = None,
        thread_ts: str | None = None,
    ) -> Ephemeral:
        ephemeral = Ephemeral(channel, user, text, blocks, thread_ts, self.next_ts())
        self.ephemerals.append(ephemeral)
        return ephemeral

    def open_view(self, view: JSON, user: str, *, view_id: str | None = None) -> View:
        opened = View(view_id or self.next_id("V"), {}, user)
        self.replace_view(opened, view)
        self.views.append(opened)
        return opened

    def replace_view(self, view: View, payload: JSON) -> None:
        """Store the view as Slack echoes it: the given JSON plus id, hash, state, team."""
        view.view = {
            **payload,
            "id": view.id,
            "team_id": self.team_id,
            "app_id": APP_ID,
            "bot_id": BOT_ID,
            "hash": secrets.token_hex(8),
            "state": {"values": {}},
            "private_metadata": payload.get("private_metadata", ""),
            "callback_id": payload.get("callback_id", ""),
            "root_view_id": view.id,
            "previous_view_id": None,
        }
        view.is_open = True
        view.errors = None
