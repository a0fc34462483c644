"""Slack's agent surface: streamed messages, agent sessions and code channels.

Written from Slack's reference (docs.slack.dev): `chat.startStream`,
`chat.appendStream`, `chat.stopStream` (chunks `markdown_text`, `task_update`,
`plan_update`, `blocks`), `agents.sessions.setStatus` (processing, active, suspended,
closed), the `agent_session_stopped` event Slack sends when a person clicks a
session's Stop button, and the code channel methods `agents.conversations.create`
(idempotent by `session_id`), `setProperties` (the context bar, at most 5 items),
`setView` (a `diff` tab holds a raw unified diff), `setCommands` (at most 10, names of
1 to 31 characters) and `archive`.

As strict as the rest of LocalSlack: a task title over 256 characters, an unknown
status or chunk type is `invalid_arguments` naming the field; an append to a stream
that was stopped or sealed is `message_not_in_streaming_state` (Slack seals a stream
a few minutes into a long turn: `seal_after` does it after a number of appends).
`refuse` makes every agent method answer a workspace's refusal (`not_allowed`,
`feature_not_enabled`, `missing_scope`), from the n-th call on, for fallback tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from localslack.blocks import check_message
from localslack.state import BOT_USER_ID, JSON, ApiError, Channel, Message, Workspace

TASK_STATUSES = frozenset({"pending", "in_progress", "complete", "error"})
SESSION_STATUSES = frozenset({"processing", "active", "suspended", "closed"})
DISPLAY_MODES = frozenset({"timeline", "plan"})
VIEW_TYPES = frozenset({"diff", "html", "block_kit", "canvas"})
MAX_TASK_TITLE = 256
MAX_MARKDOWN = 12_000
MAX_CONTEXT_ITEMS = 5
MAX_COMMANDS = 10
MAX_COMMAND_NAME = 31
BUILTIN_COMMANDS = frozenset({"remind", "topic", "invite", "leave", "archive", "status", "msg"})
REFUSALS = frozenset({"not_allowed", "feature_not_enabled", "missing_scope"})
# What each agent method needs; a `missing_scope` answer names it, as Slack does.
SCOPES = {
    "chat.startStream": "chat:write",
    "chat.appendStream": "chat:write",
    "chat.stopStream": "chat:write",
    "agents.sessions.setStatus": "chat:write",
    "agents.conversations.create": "code_channels:manage",
    "agents.conversations.setProperties": "code_channels:manage",
    "agents.conversations.setView": "code_channels:manage",
    "agents.conversations.setCommands": "code_channels:manage",
    "agents.conversations.archive": "code_channels:manage",
}
AGENT_METHODS = frozenset(SCOPES)
_BAR = "/code_channel/context_bar_items"


@dataclass
class Stream:
    """A streamed message: its tasks (in the order first sent), plan title and text."""

    display_mode: str = "timeline"
    tasks: dict[str, JSON] = field(default_factory=dict)
    updates: list[JSON] = field(default_factory=list)  # every task_update, as received
    plan_title: str | None = None
    markdown: str = ""
    streaming: bool = True
    appends: int = 0
    recipient: str | None = None

    def to_dict(self) -> JSON:
        return {
            "display_mode": self.display_mode,
            "tasks": list(self.tasks.values()),
            "plan_title": self.plan_title,
            "markdown": self.markdown,
            "streaming": self.streaming,
        }


@dataclass
class Session:
    """An agent session: a thread (`thread_ts`) or a code channel (no thread)."""

    channel: str
    thread_ts: str | None
    status: str
    title: str | None = None
    history: list[str] = field(default_factory=list)  # every status set, in order


@dataclass
class CodeChannel:
    id: str
    name: str
    session_id: str | None
    origin: JSON | None
    context_bar: list[JSON] = field(default_factory=list)
    summary: JSON | None = None
    views: dict[str, JSON] = field(default_factory=dict)  # by view_key
    commands: list[JSON] = field(default_factory=list)
    archived: bool = False
    summary_message_ts: str | None = None


@dataclass
class Refusal:
    error: str
    after: int  # agent calls answered normally before the refusals start


class AgentSurface:
    """The agent methods' state and handlers; `handlers()` joins them to the Web API."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.streams: dict[tuple[str, str], Stream] = {}
        self.sessions: dict[tuple[str, str | None], Session] = {}
        self.code_channels: dict[str, CodeChannel] = {}
        self.refusal: Refusal | None = None
        self.seal_after: int | None = None  # appends a stream takes before Slack seals it
        self._agent_calls = 0

    def handlers(self) -> dict[str, Any]:
        return {
            "chat.startStream": self.start_stream,
            "chat.appendStream": self.append_stream,
            "chat.stopStream": self.stop_stream,
            "agents.sessions.setStatus": self.set_status,
            "agents.conversations.create": self.create_channel,
            "agents.conversations.setProperties": self.set_properties,
            "agents.conversations.setView": self.set_view,
            "agents.conversations.setCommands": self.set_commands,
            "agents.conversations.archive": self.archive,
        }

    def refused(self, method: str) -> JSON | None:
        """The workspace's refusal of this agent method, when `refuse` turned one on."""
        if method not in AGENT_METHODS:
            return None
        self._agent_calls += 1
        if self.refusal is None or self._agent_calls <= self.refusal.after:
            return None
        body: JSON = {"ok": False, "error": self.refusal.error}
        if self.refusal.error == "missing_scope":
            body.update(needed=SCOPES[method], provided="commands,chat:write,files:write")
        return body

    # -- streams -------------------------------------------------------------------------------

    def stream(self, channel: str, ts: str) -> Stream:
        found = self.streams.get((self.ws.channel(channel).id, ts))
        if found is None:
            raise ApiError("message_not_found")
        return found

    def start_stream(self, params: JSON) -> JSON:
        _require(params, "channel", "thread_ts")
        channel = self.ws.channel(params.get("channel"))
        if not channel.is_im:
            # Slack: "Required when streaming to channels."
            _require(params, "recipient_team_id", "recipient_user_id")
            self.ws.user(str(params["recipient_user_id"]))
        mode = str(params.get("task_display_mode") or "timeline")
        if mode not in DISPLAY_MODES:
            raise ApiError(
                "invalid_arguments",
                ["must be one of timeline, plan [json-pointer:/task_display_mode]"],
            )
        stream = Stream(display_mode=mode, recipient=params.get("recipient_user_id"))
        self._apply(stream, params)
        message = self.ws.post(
            channel.id, thread_ts=str(params["thread_ts"]), text=stream.markdown, user=BOT_USER_ID
        )
        self.streams[(channel.id, message.ts)] = stream
        self._sync(message, stream)
        return {"channel": channel.id, "ts": message.ts}

    def append_stream(self, params: JSON) -> JSON:
        _require(params, "channel", "ts")
        message, stream = self._streaming(params)
        if not params.get("markdown_text") and not params.get("chunks"):
            raise ApiError("invalid_arguments", ["markdown_text or chunks is required"])
        self._apply(stream, params)
        stream.appends += 1
        if self.seal_after is not None and stream.appends >= self.seal_after:
            stream.streaming = False  # sealed: the next append is refused
        self._sync(message, stream)
        return {"channel": message.channel, "ts": message.ts}

    def stop_stream(self, params: JSON) -> JSON:
        _require(params, "channel", "ts")
        message, stream = self._streaming(params)
        self._apply(stream, params)
        blocks = params.get("blocks")
        if isinstance(blocks, str) and blocks.strip():
            raise ApiError("invalid_arguments", ["must be an array [json-pointer:/blocks]"])
        if blocks:
            check_message(stream.markdown or "x", blocks)
            message.blocks = list(blocks)
        status = params.get("session_status")
        if status is not None:
            self._check_status(status, "session_status")
            thread = message.thread_ts or message.ts
            self._session(message.channel, thread).history.append(str(status))
            self._session(message.channel, thread).status = str(status)
        stream.streaming = False
        self._sync(message, stream)
        return {"channel": message.channel, "ts": message.ts, "message": message.to_dict()}

    def _streaming(self, params: JSON) -> tuple[Message, Stream]:
        message = self.ws.find(str(params["channel"]), str(params["ts"]))
        stream = self.streams.get((message.channel, message.ts))
        if stream is None or not stream.streaming:
            raise ApiError("message_not_in_streaming_state")
        return message, stream

    def _apply(self, stream: Stream, params: JSON) -> None:
        text = params.get("markdown_text")
        if text:
            self._check_markdown(str(text), "/markdown_text")
            stream.markdown += str(text)
        chunks = params.get("chunks")
        if chunks is None:
            return
        if not isinstance(chunks, list):
            raise ApiError("invalid_arguments", ["must be an array [json-pointer:/chunks]"])
        for index, chunk in enumerate(chunks):
            self._apply_chunk(stream, chunk, f"/chunks/{index}")

    def _apply_chunk(self, stream: Stream, chunk: Any, at: str) -> None:
        if not isinstance(chunk, dict):
            raise ApiError("invalid_arguments", [f"must be an object [json-pointer:{at}]"])
        kind = chunk.get("type")
        if kind == "markdown_text":
            self._check_markdown(str(chunk.get("text") or ""), f"{at}/text")
            stream.markdown += str(chunk.get("text"))
        elif kind == "plan_update":
            title = _text(chunk, "title", at, MAX_TASK_TITLE)
            stream.plan_title = title
        elif kind == "task_update":
            task_id = _text(chunk, "id", at, 64)
            title = _text(chunk, "title", at, MAX_TASK_TITLE)
            status = chunk.get("status")
            if status not in TASK_STATUSES:
                raise ApiError(
                    "invalid_arguments",
                    [
                        "must be one of pending, in_progress, complete, error "
                        f"[json-pointer:{at}/status]"
                    ],
                )
            task: JSON = {"id": task_id, "title": title, "status": status}
            for name in ("details", "output"):
                if chunk.get(name) is not None:
                    task[name] = _text(chunk, name, at, MAX_MARKDOWN)
            stream.tasks[task_id] = task
            stream.updates.append(dict(task))
        elif kind == "blocks":
            check_message("x", chunk.get("blocks"))
        else:
            raise ApiError("invalid_arguments", [f"unknown chunk type [json-pointer:{at}/type]"])

    def _check_markdown(self, text: str, at: str) -> None:
        if len(text) > MAX_MARKDOWN:
            raise ApiError(
                "invalid_arguments",
                [f"must be at most {MAX_MARKDOWN} characters [json-pointer:{at}]"],
            )

    def _sync(self, message: Message, stream: Stream) -> None:
        message.stream = stream.to_dict()
        if not message.text:
            message.text = stream.plan_title or "working"

    # -- sessions ------------------------------------------------------------------------------

    def set_status(self, params: JSON) -> JSON:
        _require(params, "channel_id", "status")
        self._check_status(params["status"], "status")
        channel = self.ws.channel(str(params["channel_id"]))
        thread_ts = params.get("thread_ts") or None
        if thread_ts is None:
            if channel.id not in self.code_channels:
                raise ApiError("not_a_code_channel")
        else:
            self.ws.find(channel.id, str(thread_ts))
        session = self._session(channel.id, thread_ts)
        session.status = str(params["status"])
        session.history.append(session.status)
        if params.get("title"):
            session.title = str(params["title"])
        return {"channel_id": channel.id}

    def session(self, channel: str, thread_ts: str | None) -> Session | None:
        return self.sessions.get((self.ws.channel(channel).id, thread_ts))

    def _session(self, channel: str, thread_ts: str | None) -> Session:
        key = (channel, thread_ts)
        if key not in self.sessions:
            self.sessions[key] = Session(channel, thread_ts, "active")
        return self.sessions[key]

    def _check_status(self, status: Any, name: str) -> None:
        if status not in SESSION_STATUSES:
            raise ApiError(
                "invalid_arguments",
                [f"must be one of active, processing, suspended, closed [json-pointer:/{name}]"],
            )

    def stop_clicked(self, channel: str, thread_ts: str, user: str) -> JSON:
        """A person clicks the session's Stop button: Slack stops its streams and sends
        `agent_session_stopped`; the status is the app's to change."""
        self.ws.user(user)
        session = self.session(channel, thread_ts)
        if session is None or session.status != "processing":
            raise LookupError("the Stop button shows only while the session is processing")
        stopped = []
        for (room, ts), stream in self.streams.items():
            message = self.ws.find(room, ts)
            if room == session.channel and message.thread_ts == thread_ts and stream.streaming:
                stream.streaming = False
                message.stream = stream.to_dict()
                stopped.append(ts)
        return {
            "type": "agent_session_stopped",
            "channel": session.channel,
            "thread_ts": thread_ts,
            "streaming_message_ts": stopped,
            "user": user,
            "event_ts": self.ws.next_ts(),
        }

    # -- code channels -------------------------------------------------------------------------

    def create_channel(self, params: JSON) -> JSON:
        origin_channel, origin_ts = params.get("origin_channel_id"), params.get("origin_message_ts")
        if bool(origin_channel) != bool(origin_ts):
            raise ApiError(
                "invalid_arguments",
                ["origin_channel_id and origin_message_ts must be provided together"],
            )
        if not origin_channel:
            _require(params, "name")
        session_id = params.get("session_id") or None
        for existing in self.code_channels.values():
            if session_id and existing.session_id == session_id:
                return {"channel_id": existing.id}
        origin = None
        name = str(params.get("name") or "")
        if origin_channel:
            message = self.ws.find(str(origin_channel), str(origin_ts))
            origin = {"channel_id": message.channel, "ts": message.ts}
            name = name or message.text[:60]
        channel = Channel(self.ws.next_id("C"), _channel_name(name))
        self.ws.channels[channel.id] = channel
        self.code_channels[channel.id] = CodeChannel(channel.id, name, session_id, origin)
        return {"channel_id": channel.id}

    def code_channel(self, channel_id: str) -> CodeChannel:
        found = self.code_channels.get(channel_id)
        if found is None:
            raise ApiError("channel_not_found")
        return found

    def _open_code_channel(self, params: JSON) -> CodeChannel:
        _require(params, "channel_id")
        code = self.code_channel(str(params["channel_id"]))
        if code.archived:
            raise ApiError("is_archived")
        return code

    def set_properties(self, params: JSON) -> JSON:
        code = self._open_code_channel(params)
        props, resource = params.get("code_channel"), params.get("agent_resource")
        if props is None and resource is None:
            raise ApiError("invalid_arguments", ["at least one property must be provided"])
        warnings: list[str] = []
        if props is not None:
            if not isinstance(props, dict):
                raise ApiError(
                    "invalid_arguments", ["must be an object [json-pointer:/code_channel]"]
                )
            items = props.get("context_bar_items")
            if items is not None:
                code.context_bar = _context_items(items, warnings)
            if props.get("summary_message") is not None:
                code.summary = dict(props["summary_message"])
        answer: JSON = {"channel_id": code.id}
        if warnings:
            answer["warning"] = ",".join(warnings)
        return answer

    def set_view(self, params: JSON) -> JSON:
        code = self._open_code_channel(params)
        kind = params.get("type")
        if kind not in VIEW_TYPES:
            raise ApiError(
                "invalid_arguments",
                ["must be one of diff, html, block_kit, canvas [json-pointer:/type]"],
            )
        if kind in ("diff", "html") and not params.get("content"):
            raise ApiError(
                "invalid_arguments", ["content is required for this type [json-pointer:/content]"]
            )
        if kind == "block_kit":
            check_message("x", params.get("blocks"))
        key = str(params.get("view_key") or kind)
        view = {
            name: params[name]
            for name in (
                "type",
                "content",
                "blocks",
                "name",
                "base_branch",
                "head_branch",
                "pr_url",
            )
            if params.get(name) is not None
        }
        view["view_key"] = key
        code.views[key] = view
        return {"channel_id": code.id, "view_key": key}

    def set_commands(self, params: JSON) -> JSON:
        code = self._open_code_channel(params)
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise ApiError("invalid_arguments", ["missing required field: commands"])
        if len(commands) > MAX_COMMANDS:
            raise ApiError(
                "invalid_arguments",
                [f"must be at most {MAX_COMMANDS} items [json-pointer:/commands]"],
            )
        names = set()
        for index, command in enumerate(commands):
            name = str(command.get("name") or "") if isinstance(command, dict) else ""
            if not 1 <= len(name) <= MAX_COMMAND_NAME or name.startswith("/"):
                raise ApiError(
                    "invalid_arguments",
                    [
                        f"must be 1-{MAX_COMMAND_NAME} characters, no slash "
                        f"[json-pointer:/commands/{index}/name]"
                    ],
                )
            if name in names or name in BUILTIN_COMMANDS:
                raise ApiError(
                    "invalid_arguments",
                    [f"duplicate or builtin name [json-pointer:/commands/{index}/name]"],
                )
            names.add(name)
        code.commands = [dict(c) for c in commands]
        return {"channel_id": code.id, "command_count": len(commands)}

    def archive(self, params: JSON) -> JSON:
        code = self._open_code_channel(params)
        summary_ts = params.get("summary_message_ts")
        if summary_ts:
            self.ws.find(code.id, str(summary_ts))
            code.summary_message_ts = str(summary_ts)
        code.archived = True
        return {"channel_id": code.id}

    def command_registered(self, channel_id: str, command: str) -> bool:
        code = self.code_channels.get(channel_id)
        if code is None or code.archived:
            return False
        return any(c.get("name") == command.lstrip("/") for c in code.commands)


def _require(params: JSON, *names: str) -> None:
    missing = [name for name in names if params.get(name) in (None, "")]
    if missing:
        raise ApiError("invalid_arguments", [f"missing required field: {name}" for name in missing])


def _text(chunk: JSON, name: str, at: str, limit: int) -> str:
    value = chunk.get(name)
    if not isinstance(value, str) or not value:
        raise ApiError("invalid_arguments", [f"missing required field [json-pointer:{at}/{name}]"])
    if len(value) > limit:
        raise ApiError(
            "invalid_arguments", [f"must be at most {limit} characters [json-pointer:{at}/{name}]"]
        )
    return value


def _context_items(items: Any, warnings: list[str]) -> list[JSON]:
    if not isinstance(items, list) or len(items) > MAX_CONTEXT_ITEMS:
        raise ApiError(
            "invalid_arguments",
            [f"must be at most {MAX_CONTEXT_ITEMS} items [json-pointer:{_BAR}]"],
        )
    out = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("text"), str) or not item["text"]:
            raise ApiError(
                "invalid_arguments",
                [f"missing required field [json-pointer:{_BAR}/{index}/text]"],
            )
        saved = dict(item)
        if saved.get("url") and saved.get("item_type") == "action":
            saved["item_type"] = "info"
            warnings.append("action_with_url_overridden_to_info")
        out.append(saved)
    return out


def _channel_name(title: str) -> str:
    slug = "".join(ch if ch.isalnum() else "-" for ch in title.lower()).strip("-")
    return ("code-" + "-".join(part for part in slug.split("-") if part))[:80] or "code"
